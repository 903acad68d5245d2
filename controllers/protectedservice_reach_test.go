package controllers_test

import (
	"strings"
	"testing"

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
