package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
)

var readyStatusDesc = prometheus.NewDesc("runguard_protectedservice_ready_status",
	"The Ready condition of each ProtectedService: 1 on the series of its current status (True, False or Unknown), 0 on the others.",
	[]string{"namespace", "name", "condition"}, nil)

var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

// readiness exports each object's Ready condition, read from the manager's cache at each scrape:
// it keeps no series of its own, so 10,000 objects cost no memory between scrapes, and a deleted
// object's series go with it.
type readiness struct{ cache client.Reader }

func (readiness) Describe(ch chan<- *prometheus.Desc) { ch <- readyStatusDesc }

func (r readiness) Collect(ch chan<- prometheus.Metric) {
	var list iapv1alpha1.ProtectedServiceList
	if err := r.cache.List(context.Background(), &list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(readyStatusDesc, err)
		return
	}
	for i := range list.Items {
		ps := &list.Items[i]
		current := metav1.ConditionUnknown
		if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady); c != nil {
			current = c.Status
		}
		for _, status := range conditionStatuses {
			v := 0.0
			if status == current {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(readyStatusDesc, prometheus.GaugeValue, v, ps.Namespace, ps.Name, string(status))
		}
	}
}

func init() {
	ctrlmetrics.Registry.MustRegister(driftCorrections, reconcileOutcomes)
	ctrlmetrics.Registry.MustRegister(gcp.Metrics()...)
}

// registerCollectors exports what is read at scrape time: the age of the oldest verification in
// m (lastSyncTime is not written on every pass, a quiet resync makes no Kubernetes write, so this
// gauge is how to see that resyncs keep happening) and each object's readiness from cache. The
// reconciler set up last is the one reported: a manager runs one.
func registerCollectors(m *memory, cache client.Reader) {
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "runguard_verification_age_max_seconds",
		Help: "Age of the oldest verification among objects whose last pass found Google matching their spec; above twice the resync period, resyncs are not happening.",
	}, func() float64 { return m.oldestVerification(time.Now()).Seconds() })
	registering.Lock()
	defer registering.Unlock()
	for _, c := range []prometheus.Collector{age, readiness{cache: cache}} {
		ctrlmetrics.Registry.Unregister(c)
		ctrlmetrics.Registry.MustRegister(c)
	}
}

// registering makes the replacement of the collectors one step for reconcilers set up at once.
var registering sync.Mutex
