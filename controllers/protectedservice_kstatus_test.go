package controllers_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// kstatusOf is what Flux and Argo CD (through kstatus) make of the object.
func kstatusOf(t testing.TB, ps *iapv1alpha1.ProtectedService) *status.Result {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ps)
	if err != nil {
		t.Fatalf("to unstructured: %v", err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion(iapv1alpha1.GroupVersion.String())
	u.SetKind("ProtectedService")
	res, err := status.Compute(u)
	if err != nil {
		t.Fatalf("kstatus: %v", err)
	}
	return res
}

func expectKstatus(t testing.TB, ps *iapv1alpha1.ProtectedService, want status.Status) {
	t.Helper()
	if got := kstatusOf(t, ps); got.Status != want {
		t.Errorf("kstatus of %s/%s (generation %d, observed %d) = %s (%q), want %s; conditions: %s",
			ps.Namespace, ps.Name, ps.Generation, ps.Status.ObservedGeneration, got.Status, got.Message, want, describeConditions(ps))
	}
}

func TestKstatus_CurrentWhenReady(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("current", group("devs", "user:alice@acme.com")))
	expectKstatus(t, w.waitReady("current"), status.CurrentStatus)

	// And again after a spec edit has been applied.
	w.update("current", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups = append(ps.Spec.AccessGroups, group("ops", "user:bob@acme.com"))
	})
	ps := w.waitReady("current")
	if ps.Generation != 2 {
		t.Fatalf("generation %d after one edit, want 2", ps.Generation)
	}
	expectKstatus(t, ps, status.CurrentStatus)
}

// A service that does not exist yet is progress, not failure: Ready=False ServiceNotFound,
// Reconciling=True, observedGeneration current (kstatus InProgress); once the service is
// deployed the object converges by itself (kstatus Current).
func TestServiceNotFound_ConvergesOnceTheServiceAppears(t *testing.T) {
	t.Parallel()
	w := newUndeployedWorld(t)
	w.create(w.object("early", group("devs", "user:alice@acme.com")))

	ps := w.waitFor("early", iapv1alpha1.ConditionReady, metav1.ConditionFalse, iapv1alpha1.ReasonServiceNotFound)
	ready := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady)
	if !strings.Contains(ready.Message, w.fullName) {
		t.Errorf("ServiceNotFound message does not name %s: %q", w.fullName, ready.Message)
	}
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReconciling); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Reconciling = %v, want True while the service does not exist", c)
	}
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		t.Errorf("a missing service is not Stalled: %v", c)
	}
	expectKstatus(t, ps, status.InProgressStatus)
	for _, c := range w.serviceCalls() {
		if c.Write {
			t.Errorf("wrote to Google for a service that does not exist: %s %s", c.Method, c.Resource)
		}
	}

	w.deploy(nil)
	ps = w.waitReady("early")
	expectKstatus(t, ps, status.CurrentStatus)
	if !w.cloudRun().GetIapEnabled() {
		t.Error("IAP is not on after the service appeared")
	}
	if b := bindingsOf(w.iapPolicy()); len(b[accessor+"|runguard:devs"]) != 1 {
		t.Errorf("access not bound after the service appeared: %v", b)
	}
}
