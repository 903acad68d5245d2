package controllers_test

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

func accessTest(name, member string, expect iapv1alpha1.TestOutcome, from *iapv1alpha1.TestContext, groups ...iapv1alpha1.TestGroup) iapv1alpha1.AccessTest {
	return iapv1alpha1.AccessTest{Name: name, Member: member, Groups: groups, From: from, Expect: expect}
}

func TestAccessTests_AFailingTestBlocksTheIAMWriteUntilTheSpecIsFixed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfakeService) { s.Public = true }))
	ps := w.object("tested", group("sre", "group:eng@acme.com"))
	ps.Spec.AccessGroups[0].Context = &iapv1alpha1.AccessContext{PathPrefixes: []iapv1alpha1.PathPrefix{"/admin/"}}
	ps.Spec.AccessTests = []iapv1alpha1.AccessTest{
		accessTest("oncall-reaches-admin", "user:alice@acme.com", iapv1alpha1.TestAllow,
			&iapv1alpha1.TestContext{Path: "/admin/users"}, "group:eng@acme.com"),
		// The declaration forgets the on-call engineer's /debug/ pages: this test fails.
		accessTest("oncall-reaches-debug", "user:alice@acme.com", iapv1alpha1.TestAllow,
			&iapv1alpha1.TestContext{Path: "/debug/vars"}, "group:eng@acme.com"),
		accessTest("contractor-stays-out", "user:mallory@acme.com", iapv1alpha1.TestDeny, &iapv1alpha1.TestContext{Path: "/admin/"}),
	}
	w.create(ps)
	got := w.expectStalled("tested", iapv1alpha1.ReasonAccessTestFailed, "oncall-reaches-debug", "/admin/")
	if err := w.lockedDown("tested"); err != nil {
		t.Errorf("lockdown while the tests fail: %v", err)
	}
	if b := accessorBinding(w.iapPolicy(), "sre"); b != nil {
		t.Errorf("a failing access test let the binding through: %v", b)
	}
	results := map[string]iapv1alpha1.AccessTestResult{}
	for _, r := range got.Status.AccessTests {
		results[r.Name] = r
	}
	for name, want := range map[string]string{"oncall-reaches-admin": "ALLOW", "oncall-reaches-debug": "DENY", "contractor-stays-out": "DENY"} {
		if r := results[name]; r.Result != want || r.Passed != (name != "oncall-reaches-debug") {
			t.Errorf("status.accessTests[%s] = %+v, want %s", name, r, want)
		}
	}

	w.update("tested", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups[0].Context.PathPrefixes = append(ps.Spec.AccessGroups[0].Context.PathPrefixes, "/debug/")
	})
	fixed := w.waitReady("tested")
	for _, r := range fixed.Status.AccessTests {
		if !r.Passed {
			t.Errorf("after the fix %s still fails: %+v", r.Name, r)
		}
	}
	if b := accessorBinding(w.iapPolicy(), "sre"); b == nil || !strings.Contains(b.GetCondition().GetExpression(), "/debug/") {
		t.Errorf("the fixed declaration was not bound: %v", b)
	}
	w.waitFor("tested", iapv1alpha1.ConditionStalled, metav1.ConditionFalse, "")
}

func TestInheritedAccess_AGrantAboveTheServiceIsReportedAndDeniedOnRequest(t *testing.T) {
	t.Parallel()
	w := newWorld(t, inProject(newProject(t)), withService(func(s *gcpfakeService) { s.Public = true }))
	iapWeb := fmt.Sprintf("projects/%d/iap_web", numberOf(w.project))
	// Someone grants mallory access to every IAP resource of the project, by hand.
	if err := fake.SetPolicy(iapWeb, &iampb.Policy{Bindings: []*iampb.Binding{{Role: accessor, Members: []string{"user:mallory@acme.com"}}}}); err != nil {
		t.Fatal(err)
	}
	ps := w.object("exclusive", group("devs", "user:alice@acme.com"))
	ps.Spec.BindingPolicy = iapv1alpha1.BindingPolicyExclusive
	ps.Spec.InheritedAccess = iapv1alpha1.InheritedAccessDeny
	w.create(ps)
	got := w.expectStalled("exclusive", iapv1alpha1.ReasonInheritedAccessFound, "user:mallory@acme.com", iapWeb)
	if err := w.lockedDown("exclusive"); err != nil {
		t.Errorf("lockdown while inherited access is found: %v", err)
	}
	if accessorBinding(w.iapPolicy(), "devs") == nil {
		t.Error("the object's own access was not bound before the stall")
	}
	if len(got.Status.InheritedAccess) != 1 || got.Status.InheritedAccess[0].Where != iapWeb {
		t.Errorf("status.inheritedAccess = %+v", got.Status.InheritedAccess)
	}

	// Reported only, it does not stall.
	w.update("exclusive", func(ps *iapv1alpha1.ProtectedService) { ps.Spec.InheritedAccess = iapv1alpha1.InheritedAccessReport })
	w.waitReady("exclusive")
	w.waitFor("exclusive", iapv1alpha1.ConditionInheritedAccess, metav1.ConditionTrue, iapv1alpha1.ReasonInheritedAccessFound)

	// Once the grant goes, the next reading says so.
	if err := fake.SetPolicy(iapWeb, &iampb.Policy{}); err != nil {
		t.Fatal(err)
	}
	w.waitFor("exclusive", iapv1alpha1.ConditionInheritedAccess, metav1.ConditionFalse, iapv1alpha1.ReasonNoInheritedAccess)
}
