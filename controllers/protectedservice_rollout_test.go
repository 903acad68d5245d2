package controllers_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/testenv"
)

// versions records every version of an object the API server announces on a watch started
// before the object exists: each write of it, in order.
func (w *world) versions(name string) func() []*iapv1alpha1.ProtectedService {
	w.t.Helper()
	c, err := client.NewWithWatch(restConfig, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	watch, err := c.Watch(ctx, &iapv1alpha1.ProtectedServiceList{}, client.InNamespace(w.ns),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)})
	if err != nil {
		cancel()
		w.t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []*iapv1alpha1.ProtectedService
	go func() {
		for e := range watch.ResultChan() {
			if ps, ok := e.Object.(*iapv1alpha1.ProtectedService); ok {
				mu.Lock()
				seen = append(seen, ps)
				mu.Unlock()
			}
		}
	}()
	w.t.Cleanup(func() { watch.Stop(); cancel() })
	return func() []*iapv1alpha1.ProtectedService {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// untilReady is the versions up to and including the first Ready one.
func untilReady(versions []*iapv1alpha1.ProtectedService) []*iapv1alpha1.ProtectedService {
	for i, ps := range versions {
		if meta.IsStatusConditionTrue(ps.Status.Conditions, iapv1alpha1.ConditionReady) {
			return versions[:i+1]
		}
	}
	return versions
}

func reasonOf(ps *iapv1alpha1.ProtectedService, conditionType string) string {
	if c := meta.FindStatusCondition(ps.Status.Conditions, conditionType); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return ""
}

// The pass that switches IAP on looks at the service once more at its end; Cloud Run (here the
// fake, which rolls out at once) has finished, so the object is Ready from that very pass: the
// controller writes it twice, the finalizer and one status patch, and never says RollingOut.
func TestRollout_AFinishedRolloutIsReadyInThePassThatStartedIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	versions := w.versions("quick")
	w.create(w.object("quick", group("devs", "user:alice@acme.com")))
	w.waitReady("quick")
	var got []*iapv1alpha1.ProtectedService
	eventually(t, 10*time.Second, "the watch sees the Ready version", func() error {
		if got = untilReady(versions()); len(got) == 0 || !meta.IsStatusConditionTrue(got[len(got)-1].Status.Conditions, iapv1alpha1.ConditionReady) {
			return errNotYet
		}
		return nil
	})
	for _, ps := range got {
		if r := reasonOf(ps, iapv1alpha1.ConditionIAPEnabled); r != "" && r != "True/Enabled" {
			t.Errorf("IAPEnabled was %s on the way to Ready, want only True/Enabled", r)
		}
	}
	// created, finalizer added, status written once
	if len(got) != 3 {
		t.Errorf("%d versions of the object up to Ready, want 3 (create, finalizer, one status patch)", len(got))
	}
	if n := w.updates(); n != 1 {
		t.Errorf("run.UpdateService sent %d times, want once", n)
	}
}

// A rollout that takes longer (the fake holds this service's next one for 3 s) ends the pass
// RollingOut, and a later pass finds it done: Ready, without sending the update again.
func TestRollout_ASlowRolloutIsRollingOutThenReady(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := fake.SlowNextRollout(w.fullName, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	versions := w.versions("slow")
	w.create(w.object("slow", group("devs", "user:alice@acme.com")))
	w.waitFor("slow", iapv1alpha1.ConditionIAPEnabled, metav1.ConditionFalse, iapv1alpha1.ReasonRollingOut)
	w.waitReady("slow")
	got := untilReady(versions())
	var reasons []string
	for _, ps := range got {
		reasons = append(reasons, reasonOf(ps, iapv1alpha1.ConditionReconciling))
	}
	if !slices.Contains(reasons, "True/RollingOut") {
		t.Errorf("Reconciling on the way to Ready: %v, want True/RollingOut before Ready", reasons)
	}
	if n := w.updates(); n != 1 {
		t.Errorf("run.UpdateService sent %d times, want once", n)
	}
}

// Switching IAP off follows its rollout the same way: one that takes a while (3 s here) is
// RollingOut, then the object is Ready with IAP off.
func TestRollout_SwitchingIAPOffSlowlyIsRollingOutThenReady(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.IAPEnabled = true }))
	if err := fake.SlowNextRollout(w.fullName, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	ps := w.object("off", group("devs", "user:alice@acme.com"))
	ps.Spec.IAP.Enabled = ptr(false)
	w.create(ps)
	w.waitFor("off", iapv1alpha1.ConditionIAPEnabled, metav1.ConditionFalse, iapv1alpha1.ReasonRollingOut)
	got := w.waitReady("off")
	if r := reasonOf(got, iapv1alpha1.ConditionIAPEnabled); r != "False/Disabled" {
		t.Errorf("IAPEnabled = %s, want False/Disabled", r)
	}
	if n := w.updates(); n != 1 {
		t.Errorf("run.UpdateService sent %d times, want once", n)
	}
}

// updates counts the run.UpdateService calls on this world's service.
func (w *world) updates() int {
	n := 0
	for _, m := range w.writes() {
		if m == "run.UpdateService" {
			n++
		}
	}
	return n
}

// The rollout runguard started to switch IAP on fails (the new revision cannot serve). As Google
// reports it, reconciling is false and observed_generation stays behind: the wait must end with
// a clear condition, and the update must not be sent again in a loop.
func TestRollout_AFailedIAPRolloutEndsTheWaitWithoutSendingTheUpdateAgain(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	msg := "Revision 'svc-00002-abc' is not ready and cannot serve traffic. Container failed to start."
	if err := fake.FailNextRollout(w.fullName, msg); err != nil {
		t.Fatal(err)
	}
	w.create(w.object("failing", group("devs", "user:alice@acme.com")))
	ps := w.expectStalled("failing", iapv1alpha1.ReasonRolloutFailed, "Container failed to start", "iap_enabled is set", "deploy again")
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionIAPEnabled); c == nil || c.Status != metav1.ConditionFalse || c.Reason != iapv1alpha1.ReasonRolloutFailed {
		t.Errorf("IAPEnabled = %v, want False/RolloutFailed", c)
	}
	time.Sleep(3 * 2 * time.Second) // three stalled rechecks of this suite
	if n := w.updates(); n != 1 {
		t.Errorf("run.UpdateService sent %d times, want once: a failed rollout must not be retried in a loop", n)
	}
	w.expectStalled("failing", iapv1alpha1.ReasonRolloutFailed)
}

// Just after `gcloud beta services identity create`, IAM rejects the new IAP agent for a while.
// runguard waits that out as progress (IAPServiceAgentPropagating) and then binds: it never
// reports the agent missing.
func TestIAPServiceAgent_AJustCreatedAgentIsWaitedForNotStalledOn(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.Project = "late-agent-project" }))
	if err := fake.CreateIAPServiceAgent("late-agent-project", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	ps := w.object("late", group("devs", "user:alice@acme.com"))
	ps.Spec.Service.Project = "late-agent-project"
	w.create(ps)
	w.waitReady("late")
	rejected := 0
	for _, c := range w.serviceCalls() {
		if c.Method == "run.SetIamPolicy" && c.Code == codes.InvalidArgument {
			rejected++
		}
	}
	if rejected == 0 {
		t.Fatal("precondition: IAM never rejected the just-created agent")
	}
	for _, e := range w.events("late") {
		if e.Reason == iapv1alpha1.ReasonIAPServiceAgentMissing {
			t.Errorf("reported the agent missing while it propagated (%d rejected grants): %s", rejected, e.Note)
		}
	}
}

// A stale etag on UpdateService (a deploy landed between runguard's read and its update) is a
// conflict: runguard reads the service again and retries, and never stalls on it (AIP-154).
func TestRollout_AStaleEtagOnUpdateIsRetriedNotStalled(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	addFault(t, gcpfake.FaultRule{Method: "run.UpdateService", Resource: w.fullName, Code: codes.Aborted, Times: 1})
	w.create(w.object("raced", group("devs", "user:alice@acme.com")))
	ps := w.waitReady("raced")
	if meta.IsStatusConditionTrue(ps.Status.Conditions, iapv1alpha1.ConditionStalled) {
		t.Errorf("Stalled after a conflict: %s", describeConditions(ps))
	}
	var updates []string
	for _, c := range w.serviceCalls() {
		if c.Method == "run.UpdateService" {
			updates = append(updates, gcpfake.CodeName(c.Code))
		}
	}
	if len(updates) != 2 || updates[0] != "ABORTED" || updates[1] != "OK" {
		t.Errorf("run.UpdateService answers = %v, want [ABORTED OK]", updates)
	}
}
