package controllers_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/iampolicy"
)

// iapCalls lists "method code" for every call on this world's IAP resource, in order.
// iapCalls lists the policy calls on the world's IAP resource (the permission preflight's
// TestIamPermissions is not part of a read-modify-write).
func (w *world) iapCalls() []string {
	var out []string
	for _, c := range fake.Calls() {
		if c.Resource == w.iapTarget && c.Method != "iap.TestIamPermissions" {
			s := c.Method + " " + gcpfake.CodeName(c.Code)
			if c.Injected {
				s += " (injected)"
			}
			out = append(out, s)
		}
	}
	return out
}

func (w *world) addForeignAccessor(member string) {
	w.t.Helper()
	p := w.iapPolicy()
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: accessor, Members: []string{member}})
	if err := fake.SetIAPPolicy(w.iapTarget, p); err != nil {
		w.t.Fatal(err)
	}
}

// A real outside writer changes the IAP policy after the controller read it and before its write
// arrives (held back 3 s on the way): Google answers ABORTED for the stale etag, the controller
// redoes the read-modify-write, and both changes survive.
func TestOutsideWriterBetweenReadAndWrite_BothChangesSurvive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	addFault(t, gcpfake.FaultRule{Method: "iap.SetIamPolicy", Resource: w.iapTarget, Latency: 3 * time.Second, Times: 1})
	w.create(w.object("race", group("devs", "user:alice@acme.com")))
	eventually(t, 30*time.Second, "the controller reads the IAP policy", func() error {
		if len(w.iapCalls()) == 0 {
			return errNotYet
		}
		return nil
	})
	w.addForeignAccessor("user:carol@acme.com")
	w.waitReady("race")

	b := bindingsOf(w.iapPolicy())
	if !slices.Equal(b[accessor+"|"], []string{"user:carol@acme.com"}) {
		t.Errorf("the outside writer's binding was lost: %v", b)
	}
	if !slices.Equal(b[accessor+"|runguard:devs"], []string{"user:alice@acme.com"}) {
		t.Errorf("our binding is missing: %v", b)
	}
	calls := w.iapCalls()
	if len(calls) < 2 || calls[1] != "iap.SetIamPolicy ABORTED" {
		t.Fatalf("precondition: the outside write did not land between the controller's read and write; IAP calls %v", calls)
	}
	if want := []string{"iap.GetIamPolicy OK", "iap.SetIamPolicy ABORTED", "iap.GetIamPolicy OK", "iap.SetIamPolicy OK"}; !slices.Equal(calls[:min(4, len(calls))], want) {
		t.Errorf("IAP calls %v, want the whole read-modify-write redone: %v", calls, want)
	}
}

// An injected ABORTED (once) on the write, with an out-of-band change landing while that write is
// on its way (held back 3 s): the controller must redo the whole read-modify-write — re-sending
// what it had, with or without the old etag, would fail again or drop the outside change.
func TestInjectedAbortedWithOutOfBandChange_BothChangesSurvive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	addFault(t, gcpfake.FaultRule{Method: "iap.SetIamPolicy", Resource: w.iapTarget, Code: codes.Aborted, Latency: 3 * time.Second, Times: 1})
	w.create(w.object("aborted", group("devs", "user:alice@acme.com")))
	eventually(t, 30*time.Second, "the controller reads the IAP policy", func() error {
		if len(w.iapCalls()) == 0 {
			return errNotYet
		}
		return nil
	})
	w.addForeignAccessor("user:dave@acme.com")
	w.waitReady("aborted")

	b := bindingsOf(w.iapPolicy())
	if !slices.Equal(b[accessor+"|"], []string{"user:dave@acme.com"}) || !slices.Equal(b[accessor+"|runguard:devs"], []string{"user:alice@acme.com"}) {
		t.Errorf("IAP policy %v, want dave's foreign binding and our devs binding", b)
	}
	calls := w.iapCalls()
	want := []string{"iap.GetIamPolicy OK", "iap.SetIamPolicy ABORTED (injected)", "iap.GetIamPolicy OK", "iap.SetIamPolicy OK"}
	if !slices.Equal(calls[:min(4, len(calls))], want) {
		t.Errorf("IAP calls %v, want %v", calls, want)
	}
}

// A member Google rejects must not keep revoked access alive: the removal of ops is applied,
// AccessBound names the rejected member, the object is Stalled MemberRejected.
func TestRejectedMember_DoesNotBlockARevocation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("reject", group("devs", "user:alice@acme.com"), group("ops", "user:bob@acme.com")))
	w.waitReady("reject")

	w.update("reject", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups = []iapv1alpha1.AccessGroup{group("devs", "user:alice@acme.com", "user:ghost@acme.com")}
	})
	ps := w.waitFor("reject", iapv1alpha1.ConditionAccessBound, metav1.ConditionFalse, iapv1alpha1.ReasonMemberRejected)
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionAccessBound); !strings.Contains(c.Message, "user:ghost@acme.com") {
		t.Errorf("AccessBound does not name the rejected member: %q", c.Message)
	}
	checkStalled(t, ps, iapv1alpha1.ReasonMemberRejected, "user:ghost@acme.com")

	b := bindingsOf(w.iapPolicy())
	if _, ok := b[accessor+"|runguard:ops"]; ok {
		t.Errorf("the removed group ops is still bound although only the addition was rejected: %v", b)
	}
	if !slices.Equal(b[accessor+"|runguard:devs"], []string{"user:alice@acme.com"}) {
		t.Errorf("devs binding = %v, want alice only", b[accessor+"|runguard:devs"])
	}

	// Fixing the member clears it.
	w.update("reject", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups = []iapv1alpha1.AccessGroup{group("devs", "user:alice@acme.com", "user:carol@acme.com")}
	})
	w.waitReady("reject")
	if got := bindingsOf(w.iapPolicy())[accessor+"|runguard:devs"]; !slices.Equal(got, []string{"user:alice@acme.com", "user:carol@acme.com"}) {
		t.Errorf("devs binding after the fix = %v", got)
	}
}

// iap.enabled: false with publicAccess Deny on a public IAP service ends IAM-only: the lockdown is
// written before IAP is switched off, so the service is never public in between.
func TestIAPDisabledWithDeny_EndsIAMOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.IAPEnabled = true; s.Public = true }))
	ps := w.object("iamonly", group("devs", "user:alice@acme.com"))
	ps.Spec.IAP.Enabled = ptr(false)
	w.create(ps)
	got := w.waitReady("iamonly")

	for typ, want := range map[string][2]string{
		iapv1alpha1.ConditionReady:               {string(metav1.ConditionTrue), iapv1alpha1.ReasonReconciled},
		iapv1alpha1.ConditionIAPEnabled:          {string(metav1.ConditionFalse), iapv1alpha1.ReasonDisabled},
		iapv1alpha1.ConditionPublicAccessRevoked: {string(metav1.ConditionTrue), iapv1alpha1.ReasonRevoked},
	} {
		c := meta.FindStatusCondition(got.Status.Conditions, typ)
		if c == nil || string(c.Status) != want[0] || c.Reason != want[1] {
			t.Errorf("%s = %v, want %s/%s", typ, c, want[0], want[1])
		}
	}
	svc := w.cloudRun()
	if svc.GetIapEnabled() || svc.GetInvokerIamDisabled() {
		t.Errorf("service iap_enabled=%v invoker_iam_disabled=%v, want both false", svc.GetIapEnabled(), svc.GetInvokerIamDisabled())
	}
	if got := bindingsOf(w.servicePolicy())[invoker+"|"]; !slices.Equal(got, []string{agentOf("123456789012")}) {
		t.Errorf("run.invoker = %v, want only the IAP agent", got)
	}
	want := []string{"run.SetIamPolicy", "run.SetIamPolicy", "iap.SetIamPolicy", "run.UpdateService"}
	if writes := w.writes(); !slices.Equal(writes, want) {
		t.Errorf("Google writes = %v, want %v (lockdown first, then invoker grant, access, and IAP off last)", writes, want)
	}
	expectKstatus(t, got, status.CurrentStatus)
}

// If the lockdown cannot be written, IAP stays on: switching it off first would leave the
// service public.
func TestIAPDisabledWithDeny_FailedLockdownKeepsIAPOn(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) {
		s.IAPEnabled, s.Public = true, true
		// The agent already may invoke, so the only run.SetIamPolicy is the lockdown.
		s.InvokerPolicy = &iampb.Policy{Bindings: []*iampb.Binding{{Role: invoker, Members: []string{agentOf("123456789012")}}}}
	}))
	id := fake.AddFault(gcpfake.FaultRule{Method: "run.SetIamPolicy", Resource: w.fullName, Code: codes.PermissionDenied})
	t.Cleanup(func() { fake.RemoveFault(id) })
	ps := w.object("locked", group("devs", "user:alice@acme.com"))
	ps.Spec.IAP.Enabled = ptr(false)
	w.create(ps)
	w.expectStalled("locked", iapv1alpha1.ReasonPermissionDenied, "run.services.setIamPolicy")
	if !w.cloudRun().GetIapEnabled() {
		t.Fatal("IAP was switched off although public access could not be revoked")
	}
	for _, c := range w.serviceCalls() {
		if c.Method == "run.UpdateService" {
			t.Errorf("updated the service although the lockdown failed")
		}
	}

	fake.RemoveFault(id)
	w.waitReady("locked")
	if w.cloudRun().GetIapEnabled() || iampolicy.HasMember(w.servicePolicy(), invoker, "allUsers") {
		t.Errorf("after the fault: iap_enabled=%v, allUsers invoker=%v; want IAM-only",
			w.cloudRun().GetIapEnabled(), iampolicy.HasMember(w.servicePolicy(), invoker, "allUsers"))
	}
}

// invoker_iam_disabled is turned back off before IAP goes off; if that update fails, IAP stays on.
func TestIAPDisabledWithDeny_InvokerCheckRestoredBeforeIAPOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.IAPEnabled, s.InvokerIAMDisabled = true, true }))
	id := fake.AddFault(gcpfake.FaultRule{Method: "run.UpdateService", Resource: w.fullName, Code: codes.PermissionDenied})
	t.Cleanup(func() { fake.RemoveFault(id) })
	ps := w.object("checked", group("devs", "user:alice@acme.com"))
	ps.Spec.IAP.Enabled = ptr(false)
	w.create(ps)
	w.expectStalled("checked", iapv1alpha1.ReasonPermissionDenied)
	n := 0
	for _, c := range w.serviceCalls() {
		if c.Method == "run.UpdateService" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d run.UpdateService attempts, want exactly one (the invoker check) before stopping", n)
	}
	svc := w.cloudRun()
	if !svc.GetIapEnabled() || !svc.GetInvokerIamDisabled() {
		t.Fatalf("iap_enabled=%v invoker_iam_disabled=%v: IAP must stay on while the invoker check is off", svc.GetIapEnabled(), svc.GetInvokerIamDisabled())
	}

	fake.RemoveFault(id)
	w.waitReady("checked")
	svc = w.cloudRun()
	if svc.GetIapEnabled() || svc.GetInvokerIamDisabled() {
		t.Errorf("iap_enabled=%v invoker_iam_disabled=%v, want both false", svc.GetIapEnabled(), svc.GetInvokerIamDisabled())
	}
}

// The lockdown removes only the public members: a conditional run.invoker binding another tool
// wrote keeps its condition (the policy is read and written as version 3).
func TestLockdown_KeepsConditionalInvokerBindings(t *testing.T) {
	t.Parallel()
	officeHours := &expr.Expr{Title: "office-hours", Expression: `request.time.getHours("UTC") < 18`}
	w := newWorld(t, withService(func(s *gcpfake.Service) {
		s.Public = true
		s.InvokerPolicy = &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{
			{Role: invoker, Members: []string{"user:carol@acme.com"}, Condition: officeHours},
			{Role: "roles/run.developer", Members: []string{"user:dave@acme.com"}},
		}}
	}))
	w.create(w.object("keepcond", group("devs", "user:alice@acme.com")))
	w.waitReady("keepcond")
	p := w.servicePolicy()
	b := bindingsOf(p)
	if !slices.Equal(b[invoker+"|"], []string{agentOf("123456789012")}) {
		t.Errorf("unconditional run.invoker = %v, want only the IAP agent", b[invoker+"|"])
	}
	if !slices.Equal(b[invoker+"|office-hours"], []string{"user:carol@acme.com"}) || !slices.Equal(b["roles/run.developer|"], []string{"user:dave@acme.com"}) {
		t.Errorf("foreign bindings on the service changed: %v", b)
	}
	for _, x := range p.GetBindings() {
		if x.GetCondition().GetTitle() == "office-hours" && x.GetCondition().GetExpression() != officeHours.Expression {
			t.Errorf("condition changed: %v", x.GetCondition())
		}
	}
}

func TestTransient_UnavailableTwiceStillReachesReady(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	addFault(t, gcpfake.FaultRule{Method: "iap.GetIamPolicy", Resource: w.iapTarget, Code: codes.Unavailable, Times: 2})
	w.create(w.object("flaky", group("devs", "user:alice@acme.com")))
	got := w.waitReady("flaky")
	expectKstatus(t, got, status.CurrentStatus)
	injected := 0
	for _, c := range w.iapCalls() {
		if c == "iap.GetIamPolicy UNAVAILABLE (injected)" {
			injected++
		}
	}
	if injected != 2 {
		t.Errorf("IAP calls %v: want 2 injected UNAVAILABLE", w.iapCalls())
	}
	if !slices.Equal(bindingsOf(w.iapPolicy())[accessor+"|runguard:devs"], []string{"user:alice@acme.com"}) {
		t.Errorf("IAP policy %v", bindingsOf(w.iapPolicy()))
	}
}

// While a new generation fails transiently, status.observedGeneration stays at the last one
// evaluated, so kstatus says InProgress, not Current or Failed.
func TestTransient_LeavesObservedGenerationAlone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("retry", group("devs", "user:alice@acme.com")))
	w.waitReady("retry")

	id := fake.AddFault(gcpfake.FaultRule{Method: "iap.GetIamPolicy", Resource: w.iapTarget, Code: codes.Unavailable})
	t.Cleanup(func() { fake.RemoveFault(id) })
	w.update("retry", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups = append(ps.Spec.AccessGroups, group("ops", "user:bob@acme.com"))
	})
	ps := w.waitUntil("retry", "Reconciling=True Retrying for generation 2", func(ps *iapv1alpha1.ProtectedService) error {
		c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReconciling)
		if ps.Generation != 2 || c == nil || c.Status != metav1.ConditionTrue || c.Reason != iapv1alpha1.ReasonRetrying || c.ObservedGeneration != 2 {
			return errNotYet
		}
		return nil
	})
	if ps.Status.ObservedGeneration != 1 {
		t.Errorf("status.observedGeneration = %d during a transient failure of generation 2, want 1", ps.Status.ObservedGeneration)
	}
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		t.Errorf("a transient failure is not Stalled: %v", c)
	}
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady); c == nil || c.Status == metav1.ConditionTrue {
		t.Errorf("Ready = %v while generation 2 is not applied", c)
	}
	expectKstatus(t, ps, status.InProgressStatus)

	fake.RemoveFault(id)
	w.waitReady("retry")
	if got := bindingsOf(w.iapPolicy())[accessor+"|runguard:ops"]; !slices.Equal(got, []string{"user:bob@acme.com"}) {
		t.Errorf("ops binding = %v after the transient failure ended", got)
	}
}

// A pass reads the service once, and once more at its end when it switched IAP on, to follow the
// rollout: after switching IAP on, the invoker check is known from the first read (the update
// touched only iap_enabled), so it is not read again in between.
func TestColdProtect_ReadsTheServiceOncePerPassAndOnceToFollowItsRollout(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("once", group("devs", "user:alice@acme.com")))
	w.waitReady("once")
	count := map[string]int{}
	for _, c := range w.serviceCalls() {
		count[c.Method]++
	}
	// Every pass reads the IAP policy exactly once (the claim check), so it counts passes.
	if count["run.GetService"] != count["iap.GetIamPolicy"]+count["run.UpdateService"] {
		t.Errorf("%d service reads in %d passes with %d updates, want one per pass and one per update: %v",
			count["run.GetService"], count["iap.GetIamPolicy"], count["run.UpdateService"], count)
	}
	if count["run.UpdateService"] != 1 {
		t.Errorf("%d service updates, want 1 (IAP on): %v", count["run.UpdateService"], count)
	}
}

// With IAP off on the service and in the spec, nothing calls the service as IAP's service agent:
// runguard grants it nothing (an exported IAP-off service then reads as in sync).
func TestIAPOff_NoInvokerGrantForIAPsAgent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ps := w.object("private", group("devs", "user:alice@acme.com"))
	ps.Spec.IAP.Enabled = ptr(false)
	w.create(ps)
	got := w.waitReady("private")
	c := meta.FindStatusCondition(got.Status.Conditions, iapv1alpha1.ConditionInvokerGranted)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != iapv1alpha1.ReasonNotNeeded {
		t.Errorf("InvokerGranted = %v, want False/NotNeeded", c)
	}
	if iampolicy.HasMember(w.servicePolicy(), invoker, agentOf("123456789012")) {
		t.Errorf("IAP's agent was granted run.invoker on a service with IAP off")
	}
	if writes := w.writes(); !slices.Equal(writes, []string{"iap.SetIamPolicy"}) {
		t.Errorf("Google writes = %v, want only the access binding", writes)
	}
}
