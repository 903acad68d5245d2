package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

type grantRequestFlags struct {
	kube         *genericclioptions.ConfigFlags
	group        string
	members      []string
	duration     time.Duration
	reason       string
	startsAt     string
	breakGlass   bool
	name         string
	pathPrefixes []string
	hosts        []string
}

func newGrantRequestCommand(kube *genericclioptions.ConfigFlags) *cobra.Command {
	f := grantRequestFlags{kube: kube}
	cmd := &cobra.Command{
		Use:   "request SERVICE --member MEMBER --for DURATION --reason TEXT",
		Short: "Ask for temporary access to an access group of a ProtectedService",
		Long: `Create an AccessGrant asking that the members pass IAP to the ProtectedService SERVICE, in the
context of one of its access groups (narrowed by --path-prefix and --host), for a while once
approved. spec.requestedBy is your Kubernetes username, as the API server knows it.

--group may be left out when the ProtectedService has exactly one access group. The grant is
named SERVICE-<5 random characters> unless --name says otherwise; the name is printed.
A --break-glass grant is active at once, without approval, for at most the namespace's
iap.runguard.dev/max-break-glass-duration (default 1h), and asks for a review after the fact.`,
		Example: fmt.Sprintf(`  %[1]s grant request billing-dashboard --member user:alice@acme.com --for 2h --reason "INC-4711: month-end report" -n finance
  %[1]s grant request billing-dashboard --group analysts --member user:alice@acme.com --member user:bob@acme.com \
      --for 30m --starts-at 2026-12-07T18:00:00Z --reason "quarterly audit" --path-prefix /reports/
  %[1]s grant request ops-console --member user:oncall@acme.com --for 1h --break-glass --reason "INC-4712: outage"`, command()),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd.Context(), args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.group, "group", "", "The access group of the ProtectedService whose context the members get. Default: its only access group.")
	fs.StringSliceVar(&f.members, "member", nil, "An IAM principal to grant access (user:, group:, serviceAccount:, domain:, principal://, principalSet://); repeat it, or separate with commas.")
	fs.DurationVar(&f.duration, "for", 0, "How long the grant lasts once active, such as 2h or 30m; the namespace bounds it (default at most 8h, 1h for break-glass).")
	fs.StringVar(&f.reason, "reason", "", "Why access is needed (a ticket, an incident): approvers read it.")
	fs.StringVar(&f.startsAt, "starts-at", "", "Make the grant active at this time (RFC 3339, e.g. 2026-12-07T18:00:00Z) once approved, rather than at once.")
	fs.BoolVar(&f.breakGlass, "break-glass", false, "Active at once without approval, reviewed after the fact (an emergency).")
	fs.StringVar(&f.name, "name", "", "The AccessGrant's name (at most 63 characters). Default: SERVICE- and 5 random characters.")
	fs.StringSliceVar(&f.pathPrefixes, "path-prefix", nil, "Narrow the group's context to requests whose path starts with this (within the group's own prefixes); repeatable.")
	fs.StringSliceVar(&f.hosts, "host", nil, "Narrow the group's context to requests for this host (one of the group's hosts, if it names any); repeatable.")
	for _, required := range []string{"member", "for", "reason"} {
		_ = cmd.MarkFlagRequired(required)
	}
	cmd.MarkFlagsMutuallyExclusive("break-glass", "starts-at")
	return cmd
}

func (f *grantRequestFlags) run(ctx context.Context, service string, stdout, stderr io.Writer) error {
	grant, err := f.grant(service)
	if err != nil {
		return err
	}
	s, err := openGrantSession(f.kube)
	if err != nil {
		return err
	}
	grant.Namespace = s.namespace
	if grant.Spec.RequestedBy, err = s.whoAmI(ctx); err != nil {
		return err
	}
	if grant.Spec.AccessGroup, err = s.accessGroup(ctx, service, f.group, stderr); err != nil {
		return err
	}
	if err := s.client.Create(ctx, grant); err != nil {
		return s.kindMissing(err, "AccessGrant")
	}
	fmt.Fprintf(stdout, "accessgrant/%s created in namespace %s: %s, requested by %s\n", grant.Name, grant.Namespace, describeGrant(grant), grant.Spec.RequestedBy)
	approve := fmt.Sprintf("%s grant approve %s -n %s", command(), grant.Name, grant.Namespace)
	if grant.Spec.BreakGlass {
		fmt.Fprintf(stdout, "Break-glass: active as soon as runguard binds it, without approval; it stays ReviewRequired until an approver runs:\n  %s\n", approve)
	} else {
		fmt.Fprintf(stdout, "Next, ask an approver to run:\n  %s\n", approve)
	}
	fmt.Fprintf(stdout, "Follow it with:\n  %s grant list -n %s %s\n", command(), grant.Namespace, service)
	return nil
}

// grant is the AccessGrant the flags ask for, before the cluster is asked anything: its group
// and requester are filled in from there.
func (f *grantRequestFlags) grant(service string) (*iapv1alpha1.AccessGrant, error) {
	if f.duration <= 0 {
		return nil, fmt.Errorf("--for must be a positive duration such as 2h or 30m, not %s", f.duration)
	}
	g := &iapv1alpha1.AccessGrant{
		ObjectMeta: metav1.ObjectMeta{Name: f.name},
		Spec: iapv1alpha1.AccessGrantSpec{ProtectedService: service, Duration: metav1.Duration{Duration: f.duration},
			Reason: f.reason, BreakGlass: f.breakGlass},
	}
	if f.name == "" {
		// The API server adds 5 characters and shortens the prefix to keep the name within 63.
		g.GenerateName = service + "-"
	}
	for _, m := range f.members {
		g.Spec.Members = append(g.Spec.Members, iapv1alpha1.Member(strings.TrimSpace(m)))
	}
	if f.startsAt != "" {
		at, err := time.Parse(time.RFC3339, f.startsAt)
		if err != nil {
			return nil, fmt.Errorf("--starts-at %q is not an RFC 3339 time (2026-12-07T18:00:00Z)", f.startsAt)
		}
		g.Spec.StartsAt = &metav1.Time{Time: at}
	}
	if len(f.pathPrefixes) > 0 || len(f.hosts) > 0 {
		g.Spec.Context = &iapv1alpha1.GrantContext{}
		for _, p := range f.pathPrefixes {
			g.Spec.Context.PathPrefixes = append(g.Spec.Context.PathPrefixes, iapv1alpha1.PathPrefix(p))
		}
		for _, h := range f.hosts {
			g.Spec.Context.Hosts = append(g.Spec.Context.Hosts, iapv1alpha1.Host(h))
		}
	}
	return g, nil
}

// accessGroup is the group the grant names: --group, checked against the ProtectedService when
// it can be read, else the service's only group.
func (s *grantSession) accessGroup(ctx context.Context, service, group string, stderr io.Writer) (string, error) {
	var ps iapv1alpha1.ProtectedService
	err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: service}, &ps)
	switch {
	case apierrors.IsNotFound(err):
		return "", fmt.Errorf("no ProtectedService %s in namespace %s", service, s.namespace)
	case err != nil && group != "":
		// Requesters need not read ProtectedServices; runguard denies a grant naming no group of it.
		fmt.Fprintf(stderr, "note: ProtectedService %s/%s cannot be read (%v): --group %s is not checked\n", s.namespace, service, err, group)
		return group, nil
	case err != nil:
		return "", fmt.Errorf("read ProtectedService %s/%s to find its access group (or pass --group): %w", s.namespace, service, s.kindMissing(err, "ProtectedService"))
	}
	names := make([]string, len(ps.Spec.AccessGroups))
	for i, g := range ps.Spec.AccessGroups {
		if g.Name == group {
			return group, nil
		}
		names[i] = g.Name
	}
	switch {
	case len(names) == 0:
		return "", fmt.Errorf("ProtectedService %s/%s has no access groups: a grant gives the context of one of them", s.namespace, service)
	case group != "":
		return "", fmt.Errorf("ProtectedService %s/%s has no access group %s; its groups: %s", s.namespace, service, group, strings.Join(names, ", "))
	case len(names) > 1:
		return "", fmt.Errorf("ProtectedService %s/%s has %d access groups: pass --group with one of %s", s.namespace, service, len(names), strings.Join(names, ", "))
	}
	return names[0], nil
}
