package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/scheme"
)

// grantRequestTimeout bounds each request to the API server unless --request-timeout says
// otherwise: a kubeconfig naming a cluster that is gone must not hold the command.
const grantRequestTimeout = "30s"

func newGrantCommand() *cobra.Command {
	kube := genericclioptions.NewConfigFlags(true)
	timeout := grantRequestTimeout
	kube.Timeout = &timeout
	cmd := &cobra.Command{
		Use:   "grant",
		Short: "Request, approve and list temporary access to a ProtectedService (AccessGrants)",
		Long: fmt.Sprintf(`Request, approve and list AccessGrants: temporary access for a few members to one access group
of a ProtectedService, which runguard binds once approved and Google itself ends at expiry.

"%[1]s grant request" creates an AccessGrant and "%[1]s grant approve" an AccessGrantApproval,
each in your name: the API server says who you are (SelfSubjectReview, as kubectl auth whoami
asks), and its admission policy refuses any other name. Who may request and approve is RBAC
(create on accessgrants, accessgrantapprovals). They reach the cluster as kubectl does
(--kubeconfig, --context, -n, --as, ...) and make no call to Google. An error of the API server,
such as an admission refusal, is printed as it comes, with exit code 1.`, command()),
		Args: cobra.NoArgs,
	}
	kube.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(newGrantRequestCommand(kube), newGrantApproveCommand(kube), newGrantListCommand(kube))
	return cmd
}

// grantSession is the cluster the grant commands act in, as the caller.
type grantSession struct {
	client client.Client
	k8s    kubernetes.Interface
	// namespace is -n, else the kubeconfig context's namespace, else default.
	namespace string
	host      string
}

func openGrantSession(kube *genericclioptions.ConfigFlags) (*grantSession, error) {
	cfg, err := kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	namespace, _, err := kube.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, fmt.Errorf("connect to the cluster at %s: %w", cfg.Host, err)
	}
	k8s, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the cluster at %s: %w", cfg.Host, err)
	}
	return &grantSession{client: c, k8s: k8s, namespace: namespace, host: cfg.Host}, nil
}

// whoAmI is the caller's Kubernetes username as the API server authenticated it, which is what
// the admission policy compares spec.requestedBy and spec.approvedBy with. There is no flag to
// name it instead: no other name would pass that policy.
func (s *grantSession) whoAmI(ctx context.Context) (string, error) {
	review, err := s.k8s.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", fmt.Errorf("the API server at %s does not serve SelfSubjectReview (authentication.k8s.io/v1, Kubernetes 1.28 and later), so who you are cannot be known; AccessGrants need Kubernetes 1.30 or later", s.host)
	case err != nil:
		return "", fmt.Errorf("ask the API server at %s who you are (SelfSubjectReview, as kubectl auth whoami does): %w", s.host, err)
	case review.Status.UserInfo.Username == "":
		return "", fmt.Errorf("the API server at %s knows no username for you", s.host)
	}
	return review.Status.UserInfo.Username, nil
}

// kindMissing explains an error from a cluster that does not serve a runguard kind; other errors
// are returned as the API server gave them.
func (s *grantSession) kindMissing(err error, kind string) error {
	if meta.IsNoMatchError(err) {
		return fmt.Errorf("the cluster at %s does not serve %s (%s): install a runguard release with AccessGrants (docs/install.md)", s.host, kind, iapv1alpha1.GroupVersion)
	}
	return err
}

// getGrant reads an AccessGrant, saying which one is missing when it is.
func (s *grantSession) getGrant(ctx context.Context, name string) (*iapv1alpha1.AccessGrant, error) {
	var g iapv1alpha1.AccessGrant
	err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, &g)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("no AccessGrant %s in namespace %s (%s grant list -n %s lists them)", name, s.namespace, command(), s.namespace)
	}
	if err != nil {
		return nil, s.kindMissing(err, "AccessGrant")
	}
	return &g, nil
}

// describeGrant words what a grant asks for, for request's and approve's confirmations.
func describeGrant(g *iapv1alpha1.AccessGrant) string {
	s := fmt.Sprintf("%s on group %s of ProtectedService %s for %s", strings.Join(grantMembers(g), ", "), g.Spec.AccessGroup, g.Spec.ProtectedService, shortDuration(g.Spec.Duration.Duration))
	if g.Spec.StartsAt != nil {
		s += " from " + g.Spec.StartsAt.UTC().Format(time.RFC3339)
	}
	if g.Spec.BreakGlass {
		s += ", break-glass"
	}
	return s
}

func grantMembers(g *iapv1alpha1.AccessGrant) []string {
	members := make([]string, len(g.Spec.Members))
	for i, m := range g.Spec.Members {
		members[i] = string(m)
	}
	return members
}

// relativeTime words t against now, with the time itself: "2026-12-07T20:00:00Z (in 1h59m)",
// "2026-12-07T16:00:00Z (2h ago)".
func relativeTime(t, now time.Time) string {
	d := t.Sub(now)
	when := "in " + shortDuration(d)
	if d < 0 {
		when = shortDuration(-d) + " ago"
	}
	return fmt.Sprintf("%s (%s)", t.UTC().Format(time.RFC3339), when)
}

// shortDuration writes a duration to the minute ("1h59m", "2h"), or to the second under a
// minute ("45s").
func shortDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	s := d.Truncate(time.Minute).String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
