package controllers_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
)

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
	updates := func() int {
		n := 0
		for _, m := range w.writes() {
			if m == "run.UpdateService" {
				n++
			}
		}
		return n
	}
	time.Sleep(3 * 2 * time.Second) // three stalled rechecks of this suite
	if n := updates(); n != 1 {
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
