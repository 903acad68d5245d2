package controllers

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

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
)

func init() {
	ctrlmetrics.Registry.MustRegister(driftCorrections, reconcileOutcomes)
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
