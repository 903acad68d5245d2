package controllers

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
)

var (
	driftCorrections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runguard_drift_corrections_total",
		Help: "Corrections of Google Cloud state that drifted from a Ready ProtectedService, by field.",
	}, []string{"field"})
	reconcileOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runguard_reconcile_outcomes_total",
		Help: "Reconcile outcomes by condition reason.",
	}, []string{"reason"})
	readyStatus = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "runguard_protectedservice_ready_status",
		Help: "The Ready condition of each ProtectedService: 1 on the series of its current status (True, False or Unknown), 0 on the others.",
	}, []string{"namespace", "name", "condition"})
)

var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

// recordReadiness sets the object's readiness series from its Ready condition (Unknown while it
// has none).
func recordReadiness(ps *iapv1alpha1.ProtectedService) {
	current := metav1.ConditionUnknown
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady); c != nil {
		current = c.Status
	}
	for _, status := range conditionStatuses {
		v := 0.0
		if status == current {
			v = 1
		}
		readyStatus.WithLabelValues(ps.Namespace, ps.Name, string(status)).Set(v)
	}
}

// forgetReadiness drops a deleted object's readiness series.
func forgetReadiness(key types.NamespacedName) {
	readyStatus.DeletePartialMatch(prometheus.Labels{"namespace": key.Namespace, "name": key.Name})
}

func init() {
	ctrlmetrics.Registry.MustRegister(driftCorrections, reconcileOutcomes, readyStatus)
	ctrlmetrics.Registry.MustRegister(gcp.Metrics()...)
}

// registerVerificationAge exports the age of the oldest verification in m. lastSyncTime is not
// written on every pass (a quiet resync makes no Kubernetes write), so this gauge is how to see
// that resyncs keep happening. The reconciler set up last is the one reported: a manager runs one.
func registerVerificationAge(m *memory) {
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "runguard_verification_age_max_seconds",
		Help: "Age of the oldest verification among objects whose last pass found Google matching their spec; above twice the resync period, resyncs are not happening.",
	}, func() float64 { return m.oldestVerification(time.Now()).Seconds() })
	registering.Lock()
	defer registering.Unlock()
	ctrlmetrics.Registry.Unregister(g)
	ctrlmetrics.Registry.MustRegister(g)
}

// registering makes the replacement of the gauge one step for reconcilers set up at once.
var registering sync.Mutex
