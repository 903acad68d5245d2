package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
)

func observed(ps *iapv1alpha1.ProtectedService) *iapv1alpha1.ProtectedService {
	ps.Spec.Mode = iapv1alpha1.ModeObserve
	return ps
}

// writeOf is the Google write a pending change becomes under Enforce.
func writeOf(change string) string {
	switch {
	case strings.HasPrefix(change, "grant roles/run.invoker"), strings.HasPrefix(change, "revoke "):
		return "run.SetIamPolicy"
	case strings.HasPrefix(change, "grant roles/iap.httpsResourceAccessor"), strings.HasPrefix(change, "remove "):
		return "iap.SetIamPolicy"
	case strings.HasPrefix(change, "switch IAP"), strings.HasPrefix(change, "turn the invoker"):
		return "run.UpdateService"
	}
	return "unknown: " + change
}

// Observe makes no Google write of any kind, shows the plan, and Enforce then makes exactly it.
func TestObserve_ShowsThePlanWritesNothingAndEnforceAppliesIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.Public = true }))
	w.create(observed(w.object("watch", group("devs", "user:alice@acme.com"))))
	ps := w.waitFor("watch", iapv1alpha1.ConditionInSync, metav1.ConditionFalse, iapv1alpha1.ReasonChangesPending)
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue || c.Reason != iapv1alpha1.ReasonObserving {
		t.Errorf("Ready = %v, want True/Observing", c)
	}
	if got := w.writes(); len(got) != 0 {
		t.Fatalf("an observing object wrote to Google: %v", got)
	}
	pending := ps.Status.PendingChanges
	for _, want := range []string{"grant roles/run.invoker", "grant roles/iap.httpsResourceAccessor to user:alice@acme.com (runguard:devs)",
		"switch IAP on for " + w.fullName, "revoke allUsers from roles/run.invoker"} {
		if !slices.ContainsFunc(pending, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("pendingChanges %q lack %q", pending, want)
		}
	}
	if int(ps.Status.PendingChangeCount) != len(pending) {
		t.Errorf("pendingChangeCount %d for %d changes", ps.Status.PendingChangeCount, len(pending))
	}
	if svc := w.cloudRun(); svc.GetIapEnabled() {
		t.Error("IAP was switched on by an observing object")
	}

	// Switching to Enforce makes the calls the plan showed, in its order, and nothing else.
	var planned []string
	for _, p := range pending {
		if m := writeOf(p); len(planned) == 0 || planned[len(planned)-1] != m || m != "iap.SetIamPolicy" {
			planned = append(planned, m)
		}
	}
	w.update("watch", func(ps *iapv1alpha1.ProtectedService) { ps.Spec.Mode = iapv1alpha1.ModeEnforce })
	done := w.waitReady("watch")
	if got := w.writes(); !slices.Equal(got, planned) {
		t.Errorf("Enforce wrote %v, the plan was %v (%q)", got, planned, pending)
	}
	if done.Status.PendingChanges != nil || meta.FindStatusCondition(done.Status.Conditions, iapv1alpha1.ConditionInSync) != nil {
		t.Errorf("Enforce still shows the plan: %v", done.Status)
	}
}

// An enforced object switched to Observe reports Google as matching, and writes nothing.
func TestObserve_InSyncWhenGoogleMatches(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("synced", group("devs", "user:alice@acme.com")))
	w.waitReady("synced")
	before := len(w.writes())
	w.update("synced", func(ps *iapv1alpha1.ProtectedService) { ps.Spec.Mode = iapv1alpha1.ModeObserve })
	ps := w.waitFor("synced", iapv1alpha1.ConditionInSync, metav1.ConditionTrue, iapv1alpha1.ReasonMatches)
	if len(ps.Status.PendingChanges) != 0 || len(w.writes()) != before {
		t.Errorf("in sync, yet pending %q and writes %v", ps.Status.PendingChanges, w.writes()[before:])
	}
	// Drift behind its back is reported, not corrected.
	w.removeMemberOutOfBand("user:alice@acme.com")
	ps = w.waitFor("synced", iapv1alpha1.ConditionInSync, metav1.ConditionFalse, iapv1alpha1.ReasonChangesPending)
	if !slices.ContainsFunc(ps.Status.PendingChanges, func(p string) bool { return strings.Contains(p, "user:alice@acme.com") }) {
		t.Errorf("pendingChanges %q do not name the removed member", ps.Status.PendingChanges)
	}
	if len(w.writes()) != before {
		t.Errorf("an observing object corrected drift: %v", w.writes()[before:])
	}
}

// Observing objects take part in claims: the older one holds the service, so an enforcing object
// created later waits for it instead of writing behind the observer's back.
func TestObserve_TakesPartInClaims(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(observed(w.object("observer", group("devs", "user:alice@acme.com"))))
	w.waitFor("observer", iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonObserving)
	w.create(w.object("takeover", group("devs", "user:bob@acme.com")))
	w.expectStalled("takeover", iapv1alpha1.ReasonServiceClaimed, w.ns+"/observer")
	if got := w.writes(); len(got) != 0 {
		t.Errorf("writes while an observer holds the claim: %v", got)
	}
}

// manyMembers are n users that exist in a project of the test's own.
func manyMembers(t *testing.T, n int) (string, []string) {
	t.Helper()
	members := make([]string, n)
	for i := range members {
		members[i] = fmt.Sprintf("user:member-%02d@acme.com", i)
	}
	id := fmt.Sprintf("many-members-%d", names.Add(1))
	if err := fake.AddProject(gcpfake.Project{ID: id, Number: 600000000000 + names.Load(), Principals: members}); err != nil {
		t.Fatal(err)
	}
	return id, members
}

// A plan larger than the list status shows is counted exactly: 60 grants, the IAP agent's invoker
// grant and IAP switched on are 62 changes, the list holds the first 20 and says nothing of its
// own, and every listed change is a change (never a "… and N more" line).
func TestObserve_CountsEveryPendingChangeOfALargePlan(t *testing.T) {
	t.Parallel()
	p, members := manyMembers(t, 60)
	w := newWorld(t, inProject(p))
	w.create(observed(w.object("large", group("devs", members...))))
	ps := w.waitFor("large", iapv1alpha1.ConditionInSync, metav1.ConditionFalse, iapv1alpha1.ReasonChangesPending)
	if ps.Status.PendingChangeCount != 62 {
		t.Errorf("pendingChangeCount = %d, want 62 (60 grants, the invoker grant, IAP on)", ps.Status.PendingChangeCount)
	}
	if len(ps.Status.PendingChanges) != 20 {
		t.Errorf("status lists %d changes, want the first 20", len(ps.Status.PendingChanges))
	}
	for _, c := range ps.Status.PendingChanges {
		if writeOf(c) == "unknown: "+c {
			t.Errorf("listed change %q is not a change", c)
		}
	}
	insync := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionInSync)
	if !strings.Contains(insync.Message, "62 changes") {
		t.Errorf("InSync message %q does not count 62 changes", insync.Message)
	}
}

// runguard plan counts every change of a large plan too.
func TestPlan_CountsEveryChangeOfALargePlan(t *testing.T) {
	t.Parallel()
	p, members := manyMembers(t, 33)
	w := newWorld(t, inProject(p))
	ns := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: w.ns, Annotations: map[string]string{}}}
	google, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: fake.Endpoint(), IAPEndpoint: fake.Endpoint(), ResourceManagerEndpoint: fake.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	defer google.Close()
	opts := testOptions()
	opts.AllowAnyProject = true
	plan := controllers.PlanWithoutCluster(context.Background(), google, "ci", w.object("large", group("devs", members...)), ns, opts, nil)
	if plan.Blocked != nil {
		t.Fatalf("plan blocked: %v", plan.Blocked)
	}
	if len(plan.Changes) != 35 {
		t.Errorf("plan has %d changes, want 35 (33 grants, the invoker grant, IAP on): %q", len(plan.Changes), plan.Changes)
	}
	for _, c := range plan.Changes {
		if writeOf(c) == "unknown: "+c {
			t.Errorf("planned change %q is not a change", c)
		}
	}
}
