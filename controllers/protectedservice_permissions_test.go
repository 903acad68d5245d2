package controllers_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/api/meta"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
)

// preflights counts the permission preflight's calls (TestIamPermissions) on this world's
// service and IAP resource.
func (w *world) preflights() int {
	n := 0
	for _, c := range w.serviceCalls() {
		if c.Method == "run.TestIamPermissions" || c.Method == "iap.TestIamPermissions" {
			n++
		}
	}
	return n
}

// Before it converges access, runguard asks Google (TestIamPermissions) which of the permissions
// it needs it lacks on the service and on the IAP resource, and names every missing one at once.
// The lockdown still runs (here: IAP switched on); no policy is written. A grant made later is
// picked up. (The project is this test's own: a project that passed is not asked again.)
func TestPermissionPreflight_NamesEveryMissingPermissionBeforeAnyPolicyWrite(t *testing.T) {
	t.Parallel()
	w := newWorld(t, inProject(newProject(t)))
	fake.DenyPermission(w.fullName, "run.services.setIamPolicy")
	fake.DenyPermission(w.iapTarget, "iap.webServices.setIamPolicy")
	allow := func() {
		fake.AllowPermission(w.fullName, "run.services.setIamPolicy")
		fake.AllowPermission(w.iapTarget, "iap.webServices.setIamPolicy")
	}
	t.Cleanup(allow)
	w.create(w.object("preflight", group("devs", "user:alice@acme.com")))
	w.expectStalled("preflight", iapv1alpha1.ReasonPermissionDenied,
		"run.services.setIamPolicy on "+w.fullName, "iap.webServices.setIamPolicy on "+w.iapTarget, "docs/install.md")
	for _, m := range w.writes() {
		if m != "run.UpdateService" {
			t.Errorf("wrote %s although the preflight found permissions missing (only the lockdown may write)", m)
		}
	}
	allow()
	w.waitReady("preflight")
}

// The preflight's answer holds for the project: the next service adopted there is not asked
// about again, so an adoption of many services pays for it about once per project.
func TestPermissionPreflight_ASecondObjectInTheProjectMakesNoPreflightCall(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	first := newWorld(t, inProject(p))
	first.create(first.object("first", group("devs", "user:alice@acme.com")))
	first.waitReady("first")
	if n := first.preflights(); n != 2 {
		t.Fatalf("precondition: the first object of the project made %d TestIamPermissions calls, want 2 (service and IAP resource)", n)
	}

	second := newWorld(t, inProject(p))
	second.create(second.object("second", group("devs", "user:bob@acme.com")))
	second.waitReady("second")
	if n := second.preflights(); n != 0 {
		t.Errorf("the second object in the same project made %d TestIamPermissions calls, want none", n)
	}
}

// Objects of one project adopted at the same time do not each ask: the preflights made while
// one is under way wait for its answer, so the project is asked once per kind of resource.
func TestPermissionPreflight_ObjectsAdoptedTogetherAskOncePerProject(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	var worlds []*world
	for range 6 {
		worlds = append(worlds, newWorld(t, inProject(p)))
	}
	for i, w := range worlds {
		w.create(w.object(fmt.Sprintf("burst-%d", i), group("devs", "user:alice@acme.com")))
	}
	n := 0
	for i, w := range worlds {
		w.waitReady(fmt.Sprintf("burst-%d", i))
		n += w.preflights()
	}
	if n != 2 {
		t.Errorf("%d objects adopted together in one project made %d TestIamPermissions calls, want 2 (one per kind of resource)", len(worlds), n)
	}
}

// The price of remembering the preflight per project: a permission missing on one service only
// is not found by the preflight but by the call it denies. That call still stalls the object
// PermissionDenied naming the permission, the object's next pass asks about its own resources
// again, and a grant made later is picked up.
func TestPermissionPreflight_APermissionMissingOnOneServiceOfAPassedProjectIsNamed(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	first := newWorld(t, inProject(p))
	first.create(first.object("first", group("devs", "user:alice@acme.com")))
	first.waitReady("first")

	w := newWorld(t, inProject(p))
	// Denied on this service only: to the preflight and to the call itself.
	fake.DenyPermission(w.iapTarget, "iap.webServices.setIamPolicy")
	id := fake.AddFault(gcpfake.FaultRule{Method: "iap.SetIamPolicy", Resource: w.iapTarget, Code: codes.PermissionDenied})
	allow := func() {
		fake.AllowPermission(w.iapTarget, "iap.webServices.setIamPolicy")
		fake.RemoveFault(id)
	}
	t.Cleanup(allow)
	w.create(w.object("denied", group("devs", "user:bob@acme.com")))
	w.expectStalled("denied", iapv1alpha1.ReasonPermissionDenied, "iap.webServices.setIamPolicy on "+w.iapTarget)
	// Its next pass asks about its own resources, and names what is missing there.
	w.waitUntil("denied", "the preflight's message", func(ps *iapv1alpha1.ProtectedService) error {
		if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled); c == nil || !strings.Contains(c.Message, "nothing was written") {
			return errNotYet
		}
		return nil
	})
	w.expectStalled("denied", iapv1alpha1.ReasonPermissionDenied, "iap.webServices.setIamPolicy on "+w.iapTarget, "nothing was written")
	if w.preflights() == 0 {
		t.Error("the denied object never asked about its own resources")
	}
	// One denied access write; afterwards the object asks before writing, on every pass.
	if policyWrites := slices.DeleteFunc(w.writes(), func(m string) bool { return m == "run.UpdateService" }); !slices.Equal(policyWrites, []string{"run.SetIamPolicy", "iap.SetIamPolicy"}) {
		t.Errorf("policy writes %v, want the invoker grant and the one denied access write", policyWrites)
	}
	allow()
	w.waitReady("denied")
}
