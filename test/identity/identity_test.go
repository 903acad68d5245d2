// Package identity tests a Google identity per namespace against a real API server and a fake
// Google Cloud that knows who is calling: runguard impersonates each namespace's service account
// through the IAM Credentials API and makes every call for that namespace's objects as it.
package identity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/testenv"
)

const (
	runguard = "serviceAccount:runguard@ops-project.iam.gserviceaccount.com"
	tenantA  = "tenant-a@ops-project.iam.gserviceaccount.com"
	tenantB  = "tenant-b@ops-project.iam.gserviceaccount.com"
	tenantD  = "tenant-d@ops-project.iam.gserviceaccount.com"
	// tokenLifetime is how long the fake's tokens last, so a revoked grant shows within seconds.
	tokenLifetime = 3 * time.Second
)

var (
	k8s   client.Client
	fake  *gcpfake.Server
	names atomic.Int64
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	seed, err := gcpfake.LoadSeed(filepath.Join("testdata", "seed.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if fake, err = gcpfake.Start(gcpfake.Options{Seed: seed, HTTPAddr: "127.0.0.1:0", TokenLifetime: tokenLifetime}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer fake.Stop()
	k8s = env.Client
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The manager reaches the fake as it reaches Google: endpoints, and the IAM Credentials API
	// on the fake's REST surface.
	google, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: fake.Endpoint(), IAPEndpoint: fake.Endpoint(),
		ResourceManagerEndpoint: fake.Endpoint(), IAMCredentialsEndpoint: fake.HTTPEndpoint()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer google.Close()
	opts := controllers.DefaultOptions()
	opts.ResyncPeriod, opts.StalledRecheck, opts.RequireNamespaceIdentity = 2*time.Second, 2*time.Second, true
	r := &controllers.ProtectedServiceReconciler{Client: mgr.GetClient(), Google: google, Recorder: mgr.GetEventRecorder("runguard"), Options: opts}
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		cancel()
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() { cancel(); <-done }()
	return m.Run()
}

// apply creates a namespace with annotations and one object in it targeting project/web.
func apply(t *testing.T, annotations map[string]string, project, service string, members ...iapv1alpha1.Member) string {
	t.Helper()
	ns := fmt.Sprintf("identity-%d", names.Add(1))
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Annotations: annotations}}); err != nil {
		t.Fatal(err)
	}
	ps := &iapv1alpha1.ProtectedService{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: service},
		Spec: iapv1alpha1.ProtectedServiceSpec{
			Service:      iapv1alpha1.ServiceRef{Project: project, Location: "us-central1", Name: service},
			AccessGroups: []iapv1alpha1.AccessGroup{{Name: "team", Members: members}},
		},
	}
	if err := k8s.Create(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	return ns
}

// waitFor waits until the object's condition has status and reason, and returns the object.
func waitFor(t *testing.T, ns, name, conditionType string, status metav1.ConditionStatus, reason string) *iapv1alpha1.ProtectedService {
	t.Helper()
	ps := &iapv1alpha1.ProtectedService{}
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("%s/%s %s=%s/%s", ns, name, conditionType, status, reason), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ps); err != nil {
			return err
		}
		c := meta.FindStatusCondition(ps.Status.Conditions, conditionType)
		if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != ps.Generation {
			return fmt.Errorf("conditions: %v", ps.Status.Conditions)
		}
		return nil
	})
	return ps
}

// callers lists who made the fake's calls on resources containing s, and which of them wrote
// successfully.
func callers(s string) (all, wrote map[string]int) {
	all, wrote = map[string]int{}, map[string]int{}
	for _, c := range fake.Calls() {
		if !strings.Contains(c.Resource, s) {
			continue
		}
		all[c.Caller]++
		if c.Write && c.Code == 0 {
			wrote[c.Caller]++
		}
	}
	return all, wrote
}

func annotations(projects, account string) map[string]string {
	a := map[string]string{iapv1alpha1.AnnotationAllowedProjects: projects}
	if account != "" {
		a[iapv1alpha1.AnnotationGoogleServiceAccount] = account
	}
	return a
}

// Two namespaces, two identities on one manager: every call for a namespace's object is made
// as that namespace's service account, never with the other's token or runguard's own.
func TestIdentity_EachNamespaceActsAsItsOwnServiceAccount(t *testing.T) {
	nsA := apply(t, annotations("team-a-prod", tenantA), "team-a-prod", "web", "user:alice@acme.com")
	nsB := apply(t, annotations("team-b-prod/us-central1/web", tenantB), "team-b-prod", "web", "user:bob@acme.com")
	waitFor(t, nsA, "web", iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonProtected)
	waitFor(t, nsB, "web", iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonProtected)

	for project, want := range map[string]string{"team-a-prod": "serviceAccount:" + tenantA, "team-b-prod/locations/us-central1/services/web": "serviceAccount:" + tenantB,
		"100000000002": "serviceAccount:" + tenantA, "100000000003/iap_web/cloud_run-us-central1/services/web": "serviceAccount:" + tenantB} {
		all, wrote := callers(project)
		if len(all) != 1 || all[want] == 0 {
			t.Errorf("calls on %s were made by %v, want only %s", project, all, want)
		}
		if wrote[want] == 0 {
			t.Errorf("no successful write on %s by %s: %v", project, want, wrote)
		}
	}
	// runguard's own identity only minted the tokens.
	for _, c := range fake.Calls() {
		if c.Caller == runguard && c.Method != "iamcredentials.GenerateAccessToken" && (strings.Contains(c.Resource, "team-") || strings.Contains(c.Resource, "10000000000")) {
			t.Errorf("runguard's own identity called %s on %s", c.Method, c.Resource)
		}
	}
	p, _ := fake.IAPPolicy("projects/100000000002/iap_web/cloud_run-us-central1/services/web")
	if !hasMember(p, "user:alice@acme.com") {
		t.Errorf("alice is not bound on team-a's service: %v", p)
	}
}

// Defence in depth: a namespace whose annotation wrongly allows team-b's project, acting as
// tenant-a (no rights there), changes nothing in team-b and says which identity lacks what.
func TestIdentity_AnnotationAllowingAnotherProjectGrantsNoRightsThere(t *testing.T) {
	before, _ := fake.ServicePolicy("projects/team-b-prod/locations/us-central1/services/admin")
	ns := apply(t, annotations("team-b-prod", tenantA), "team-b-prod", "admin", "user:mallory@acme.com")
	ps := waitFor(t, ns, "admin", iapv1alpha1.ConditionStalled, metav1.ConditionTrue, iapv1alpha1.ReasonPermissionDenied)
	msg := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled).Message
	if !strings.Contains(msg, tenantA) || !strings.Contains(msg, "resourcemanager.projects.get") {
		t.Errorf("Stalled message %q does not name the identity and the permission it lacks", msg)
	}
	if _, wrote := callers("team-b-prod/locations/us-central1/services/admin"); len(wrote) != 0 {
		t.Errorf("writes on team-b's service: %v", wrote)
	}
	if _, wrote := callers("100000000003/iap_web/cloud_run-us-central1/services/admin"); len(wrote) != 0 {
		t.Errorf("writes on team-b's IAP resource: %v", wrote)
	}
	after, _ := fake.ServicePolicy("projects/team-b-prod/locations/us-central1/services/admin")
	if !hasMember(after, "allUsers") || len(after.GetBindings()) != len(before.GetBindings()) {
		t.Errorf("team-b's public service changed: before %v, after %v", before, after)
	}
}

// A revoked token-creator grant is reported as soon as the token runguard holds expires, as a
// Stalled object with what to do, and the object recovers when the grant is back.
func TestIdentity_RevokedTokenCreatorGrantIsReported(t *testing.T) {
	ns := apply(t, annotations("team-d-prod", tenantD), "team-d-prod", "web", "user:dora@acme.com")
	waitFor(t, ns, "web", iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonProtected)
	if err := fake.RemoveTokenCreator(tenantD, runguard); err != nil {
		t.Fatal(err)
	}
	ps := waitFor(t, ns, "web", iapv1alpha1.ConditionStalled, metav1.ConditionTrue, iapv1alpha1.ReasonNamespaceIdentityUnusable)
	msg := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled).Message
	for _, want := range []string{tenantD, "iam.serviceAccounts.getAccessToken", "roles/iam.serviceAccountTokenCreator"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Stalled message %q does not mention %s", msg, want)
		}
	}
	if err := fake.AddTokenCreator(tenantD, runguard); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ns, "web", iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonProtected)
}

// With --require-namespace-identity, a namespace that names no identity gets no Google call
// made for it as runguard's own identity (which could write shared-prod).
func TestIdentity_RequiredAndMissingStallsWithoutCallingGoogle(t *testing.T) {
	ns := apply(t, annotations("shared-prod", ""), "shared-prod", "web", "user:carol@acme.com")
	ps := waitFor(t, ns, "web", iapv1alpha1.ConditionStalled, metav1.ConditionTrue, iapv1alpha1.ReasonNamespaceIdentityRequired)
	if msg := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled).Message; !strings.Contains(msg, iapv1alpha1.AnnotationGoogleServiceAccount) {
		t.Errorf("Stalled message %q does not say which annotation to add", msg)
	}
	if all, _ := callers("shared-prod"); len(all) != 0 {
		t.Errorf("calls on shared-prod: %v", all)
	}
}

// A malformed annotation is reported, not tried.
func TestIdentity_MalformedAnnotationIsReported(t *testing.T) {
	ns := apply(t, annotations("team-a-prod", "tenant-a"), "team-a-prod", "web2", "user:alice@acme.com")
	ps := waitFor(t, ns, "web2", iapv1alpha1.ConditionStalled, metav1.ConditionTrue, iapv1alpha1.ReasonNamespaceIdentityUnusable)
	if msg := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled).Message; !strings.Contains(msg, "not a service account email") {
		t.Errorf("Stalled message %q does not say what is wrong", msg)
	}
}

// An annotation that is present but blank is unusable, never "runguard's own identity": only an
// absent annotation means that. Nothing is called in Google for the object.
func TestIdentity_BlankAnnotationIsUnusableNotRunguardsOwnIdentity(t *testing.T) {
	for i, blank := range []string{" ", "\t \n", ""} {
		a := annotations("team-a-prod", "")
		a[iapv1alpha1.AnnotationGoogleServiceAccount] = blank
		service := fmt.Sprintf("blank-%d", i)
		ns := apply(t, a, "team-a-prod", service, "user:alice@acme.com")
		ps := waitFor(t, ns, service, iapv1alpha1.ConditionStalled, metav1.ConditionTrue, iapv1alpha1.ReasonNamespaceIdentityUnusable)
		if msg := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled).Message; !strings.Contains(msg, "blank") {
			t.Errorf("annotation %q: Stalled message %q does not say the annotation is blank", blank, msg)
		}
		if all, _ := callers("/services/" + service); len(all) != 0 {
			t.Errorf("annotation %q: calls on the service although its namespace's identity is unusable: %v", blank, all)
		}
	}
}

func hasMember(p *iampb.Policy, member string) bool {
	for _, b := range p.GetBindings() {
		for _, m := range b.GetMembers() {
			if m == member {
				return true
			}
		}
	}
	return false
}
