package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/iampolicy"
)

// lockedDown checks what the lockdown guarantees for an IAP-on, publicAccess: Deny object: IAP
// on, no public invoker, the invoker check on, and conditions that say so for this generation.
func (w *world) lockedDown(name string) error {
	svc := w.cloudRun()
	switch {
	case !svc.GetIapEnabled():
		return fmt.Errorf("IAP is off")
	case svc.GetInvokerIamDisabled():
		return fmt.Errorf("invoker_iam_disabled is true")
	case iampolicy.HasMember(w.servicePolicy(), invoker, "allUsers"):
		return fmt.Errorf("allUsers may invoke the service")
	}
	ps := w.get(name)
	for _, typ := range []string{iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ConditionPublicAccessRevoked} {
		c := meta.FindStatusCondition(ps.Status.Conditions, typ)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != ps.Generation {
			return fmt.Errorf("%s is not True for generation %d: %s", typ, ps.Generation, describeConditions(ps))
		}
	}
	return nil
}

// Whatever stalls the convergence of access, the fail-closed actions run on every pass: a
// service made public and switched off IAP behind runguard's back is locked down again while
// the object stays Stalled, and the conditions say what Google holds.
func TestLockdown_RunsOnEveryPassWhateverElseStalls(t *testing.T) {
	t.Parallel()
	public := func(s *gcpfake.Service) { s.Public, s.InvokerIAMDisabled = true, true }
	for _, tc := range []struct {
		name, reason string
		opts         []worldOption
		change       func(*iapv1alpha1.ProtectedService)
		setup        func(*testing.T, *world)
	}{
		{name: "invalid condition", reason: iapv1alpha1.ReasonInvalidCondition, opts: []worldOption{withService(public)},
			change: func(ps *iapv1alpha1.ProtectedService) {
				ps.Spec.AccessGroups[0].Context = &iapv1alpha1.AccessContext{Expression: "request.time <"}
			}},
		{name: "member not allowed", reason: iapv1alpha1.ReasonMemberNotAllowed,
			opts: []worldOption{withService(public), withAnnotation(iapv1alpha1.AnnotationAllowedMembers, "*@acme.com")},
			change: func(ps *iapv1alpha1.ProtectedService) {
				ps.Spec.AccessGroups[0].Members = append(ps.Spec.AccessGroups[0].Members, "user:eve@evil.example")
			}},
		{name: "IAP policy write not permitted", reason: iapv1alpha1.ReasonPermissionDenied, opts: []worldOption{withService(public)},
			change: func(*iapv1alpha1.ProtectedService) {},
			setup: func(t *testing.T, w *world) {
				// Denied to the preflight and to the call: the project may have passed the
				// preflight already (it is remembered per project).
				fake.DenyPermission(w.iapTarget, "iap.webServices.setIamPolicy")
				t.Cleanup(func() { fake.AllowPermission(w.iapTarget, "iap.webServices.setIamPolicy") })
				addFault(t, gcpfake.FaultRule{Method: "iap.SetIamPolicy", Resource: w.iapTarget, Code: codes.PermissionDenied})
			}},
		{name: "IAP service agent missing", reason: iapv1alpha1.ReasonIAPServiceAgentMissing,
			opts:   []worldOption{withService(func(s *gcpfake.Service) { public(s); s.Project = "no-agent-project" })},
			change: func(ps *iapv1alpha1.ProtectedService) { ps.Spec.Service.Project = "no-agent-project" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.opts...)
			if tc.setup != nil {
				tc.setup(t, w)
			}
			ps := w.object("stuck", group("devs", "user:alice@acme.com"))
			tc.change(ps)
			w.create(ps)
			w.expectStalled("stuck", tc.reason)
			eventually(t, 30*time.Second, "locked down while Stalled", func() error { return w.lockedDown("stuck") })

			// Someone deploys with --allow-unauthenticated and switches IAP off in the console.
			p := w.servicePolicy()
			p.Bindings = append(p.Bindings, &iampb.Binding{Role: invoker, Members: []string{"allUsers"}})
			if err := fake.SetServicePolicy(w.fullName, p); err != nil {
				t.Fatal(err)
			}
			if err := fake.UpdateServiceOutOfBand(w.fullName, func(s *runpb.Service) { s.IapEnabled = false }); err != nil {
				t.Fatal(err)
			}
			eventually(t, 30*time.Second, "locked down again while Stalled", func() error { return w.lockedDown("stuck") })
			w.expectStalled("stuck", tc.reason)
		})
	}
}

// An Exclusive object that does not hold the claim — another runguard owner's markers are on
// the IAP policy — writes nothing at all: not the removal-only plan (which would delete
// hand-granted bindings on a service it does not manage), not the invoker grant, not IAP.
func TestServiceClaimed_ByMarkers_AnExclusiveObjectWritesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.Public = true }))
	w.seedMarkedBinding(iampolicy.Owner{Cluster: "other", Namespace: "team", Name: "app"}, "user:bob@acme.com",
		&iampb.Binding{Role: accessor, Members: []string{"user:carol@acme.com"}})
	ps := w.object("exclusive", group("devs", "user:alice@acme.com"))
	ps.Spec.BindingPolicy = iapv1alpha1.BindingPolicyExclusive
	w.create(ps)
	w.expectStalled("exclusive", iapv1alpha1.ReasonServiceClaimed, "cluster other", "nothing was written")
	w.editStaysStalled("exclusive", iapv1alpha1.ReasonServiceClaimed, "cluster other")
	if writes := w.writes(); len(writes) > 0 {
		t.Errorf("an object that does not hold the claim wrote to Google: %v", writes)
	}
	if got := bindingsOf(w.iapPolicy())[accessor+"|"]; len(got) != 1 || got[0] != "user:carol@acme.com" {
		t.Errorf("the hand-granted accessor binding = %v, want it untouched", got)
	}
}

// The manager wrote the IAP policy and died before the status patch; the object is then deleted
// while run.GetService answers PERMISSION_DENIED. Cleanup decides from Google, not from status:
// the finalizer stays with a Deleting condition until Google can be read, then this owner's
// bindings go.
func TestDelete_DecidesFromGoogleNotStatus(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seedMarkedBinding(iampolicy.Owner{Cluster: "test", Namespace: w.ns, Name: "orphan"}, "user:alice@acme.com")
	id := fake.AddFault(gcpfake.FaultRule{Method: "run.GetService", Resource: w.fullName, Code: codes.PermissionDenied})
	t.Cleanup(func() { fake.RemoveFault(id) })
	w.create(w.object("orphan", group("devs", "user:alice@acme.com")))
	if ps := w.expectStalled("orphan", iapv1alpha1.ReasonPermissionDenied, "run.services.get"); len(ps.Status.ManagedBindings) > 0 {
		t.Fatalf("status records managed bindings: %v", ps.Status.ManagedBindings)
	}

	if err := k8s.Delete(context.Background(), w.get("orphan")); err != nil {
		t.Fatal(err)
	}
	ps := w.waitFor("orphan", iapv1alpha1.ConditionDeleting, metav1.ConditionTrue, iapv1alpha1.ReasonPermissionDenied)
	c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionDeleting)
	for _, want := range []string{"run.services.get", "deletionPolicy: Abandon"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Deleting message does not mention %q: %q", want, c.Message)
		}
	}
	expectKstatus(t, ps, status.TerminatingStatus)
	if got := bindingsOf(w.iapPolicy())[accessor+"|runguard:devs"]; len(got) != 1 {
		t.Fatalf("the binding changed while Google could not be read: %v", got)
	}

	fake.RemoveFault(id)
	eventually(t, 30*time.Second, "object gone", func() error { return existsErr(w.ns, "orphan") })
	if b := bindingsOf(w.iapPolicy()); len(b) != 0 {
		t.Errorf("the deleted object's binding is still in Google: %v", b)
	}
}

// After the spec grows past IAM's limits, no condition still speaks for the old generation.
func TestStalled_EveryConditionDescribesTheCurrentGeneration(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("growing", group("devs", "user:alice@acme.com")))
	w.waitReady("growing")
	var foreign []string
	for i := range 1499 {
		foreign = append(foreign, fmt.Sprintf("user:member-%04d@partner.example", i))
	}
	p := w.iapPolicy()
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: accessor, Members: foreign})
	if err := fake.SetIAPPolicy(w.iapTarget, p); err != nil {
		t.Fatal(err)
	}
	w.update("growing", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups = append(ps.Spec.AccessGroups, group("more", "user:bob@acme.com", "user:carol@acme.com"))
	})
	ps := w.expectStalled("growing", iapv1alpha1.ReasonPolicyTooLarge)
	for _, c := range ps.Status.Conditions {
		if c.ObservedGeneration != ps.Generation {
			t.Errorf("%s=%s (%s) still describes generation %d; the object is at %d", c.Type, c.Status, c.Reason, c.ObservedGeneration, ps.Generation)
		}
	}
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionAccessBound); c == nil || c.Status == metav1.ConditionTrue {
		t.Errorf("AccessBound = %v while the declared access cannot be bound", c)
	}
}

// After an outage (IAP's quota exhausted for one resource), the object is retried within seconds
// of the project answering again, not after the minutes its backoff grew to. RESOURCE_EXHAUSTED
// is not retried inside the Google client, so every failed call is one failed pass.
func TestOutage_RecoveryWakesObjectsBackingOffFromTheProject(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	id := fake.AddFault(gcpfake.FaultRule{Method: "iap.GetIamPolicy", Resource: w.iapTarget, Code: codes.ResourceExhausted})
	t.Cleanup(func() { fake.RemoveFault(id) })
	w.create(w.object("outage", group("devs", "user:alice@acme.com")))
	// Five failures: with exponential backoff alone (1, 2, 4, 8 s) the next try is 16 s away.
	eventually(t, 60*time.Second, "five failed passes", func() error {
		n := 0
		for _, c := range w.serviceCalls() {
			if c.Method == "iap.GetIamPolicy" && c.Code == codes.ResourceExhausted {
				n++
			}
		}
		if n < 5 {
			return errNotYet
		}
		return nil
	})
	fake.RemoveFault(id)
	start := time.Now()
	// Other objects of the project resync every 2 s in this suite; their success is the signal.
	neighbour := newWorld(t)
	neighbour.create(neighbour.object("neighbour", group("devs", "user:bob@acme.com")))
	eventually(t, 10*time.Second, "Ready soon after the project answers again", func() error {
		if !isReady(w, "outage") {
			return errNotYet
		}
		return nil
	})
	t.Logf("Ready %s after the fault was removed", time.Since(start).Round(100*time.Millisecond))
}
