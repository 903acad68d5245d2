package controllers

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// One series per Ready status, 1 on the current one, like certmanager_certificate_ready_status;
// a deleted object's series go.
func TestReadiness_OneSeriesPerStatusAndGoneWithTheObject(t *testing.T) {
	ps := &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: "readiness", Name: "web"}}
	value := func(status string) float64 {
		var m dto.Metric
		if err := readyStatus.WithLabelValues("readiness", "web", status).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetGauge().GetValue()
	}
	recordReadiness(ps)
	if value("Unknown") != 1 || value("True") != 0 || value("False") != 0 {
		t.Errorf("without a Ready condition: True %v False %v Unknown %v, want Unknown only", value("True"), value("False"), value("Unknown"))
	}
	meta.SetStatusCondition(&ps.Status.Conditions, metav1.Condition{Type: iapv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: iapv1alpha1.ReasonProtected})
	recordReadiness(ps)
	if value("True") != 1 || value("False") != 0 || value("Unknown") != 0 {
		t.Errorf("Ready: True %v False %v Unknown %v, want True only", value("True"), value("False"), value("Unknown"))
	}
	forgetReadiness(types.NamespacedName{Namespace: "readiness", Name: "web"})
	for _, status := range []string{"True", "False", "Unknown"} {
		if readyStatus.DeleteLabelValues("readiness", "web", status) {
			t.Errorf("the %s series outlived the object", status)
		}
	}
}
