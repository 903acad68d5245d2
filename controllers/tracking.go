package controllers

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
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
}

// backoffTracker counts consecutive failures per object for capped exponential backoff; it is
// ours rather than the workqueue's so RetryInfo and "not found yet" share one schedule.
type backoffTracker struct {
	mu       sync.Mutex
	failures map[types.NamespacedName]int
}

func (b *backoffTracker) next(key types.NamespacedName) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures == nil {
		b.failures = map[types.NamespacedName]int{}
	}
	n := b.failures[key]
	b.failures[key] = n + 1
	d := time.Duration(float64(minBackoff) * math.Pow(2, float64(min(n, 10))))
	return jitter(min(d, maxBackoff))
}

func (b *backoffTracker) reset(key types.NamespacedName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.failures, key)
}

// fightWindow and fightThreshold: the same field corrected this often this fast means another
// tool is writing it.
const (
	fightWindow    = time.Hour
	fightThreshold = 3
)

type driftTracker struct {
	mu          sync.Mutex
	corrections map[types.NamespacedName]map[string][]time.Time
}

// corrected records a correction and reports whether the field is being fought over.
func (d *driftTracker) corrected(ps *iapv1alpha1.ProtectedService, field string) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.corrections == nil {
		d.corrections = map[types.NamespacedName]map[string][]time.Time{}
	}
	key := types.NamespacedName{Namespace: ps.Namespace, Name: ps.Name}
	if d.corrections[key] == nil {
		d.corrections[key] = map[string][]time.Time{}
	}
	now := time.Now()
	recent := []time.Time{now}
	for _, t := range d.corrections[key][field] {
		if now.Sub(t) < fightWindow {
			recent = append(recent, t)
		}
	}
	d.corrections[key][field] = recent
	return len(recent), len(recent) >= fightThreshold
}

func (d *driftTracker) forget(key types.NamespacedName) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.corrections, key)
}
