package controllers

import (
	"math"
	"sync"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
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

// verifications remembers when each object last passed with nothing left to do: Google was
// read and matched the spec. lastSyncTime is no longer written on every pass (a quiet resync
// makes no Kubernetes write), so this gauge is how to see that resyncs keep happening.
var verifications = &verificationClock{at: map[types.NamespacedName]time.Time{}}

var verificationAge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
	Name: "runguard_verification_age_max_seconds",
	Help: "Age of the oldest verification among objects whose last pass found Google matching their spec; above twice the resync period, resyncs are not happening.",
}, func() float64 { return verifications.oldest(time.Now()).Seconds() })

func init() {
	ctrlmetrics.Registry.MustRegister(driftCorrections, reconcileOutcomes, verificationAge)
	ctrlmetrics.Registry.MustRegister(gcp.Metrics()...)
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

// wakeBuffer bounds the wake-ups waiting to be enqueued; past it a wake-up is dropped and the
// object keeps its own backoff.
const wakeBuffer = 4096

// wakeInterval spaces the wake-ups of one project, so a flaky project is not hammered by every
// object each time one call gets through.
const wakeInterval = 3 * time.Second

// projectHealth remembers which objects back off from a project after transient failures, so
// that once the project answers again they are retried at once instead of sitting out a backoff
// that may have grown to minutes during the outage. A delay Google asked for (RetryInfo) is
// still honoured: such an object is not woken before it.
type projectHealth struct {
	mu       sync.Mutex
	waiting  map[string]map[types.NamespacedName]time.Time // project → object → not before
	lastWake map[string]time.Time
	wake     chan event.TypedGenericEvent[*iapv1alpha1.ProtectedService]
}

// observe records how a pass on project ended and returns the objects to wake: answered says
// Google answered the pass's calls on the project.
func (h *projectHealth) observe(key types.NamespacedName, project string, answered bool, outcomes []*outcome, now time.Time) []types.NamespacedName {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiting == nil {
		h.waiting, h.lastWake = map[string]map[types.NamespacedName]time.Time{}, map[string]time.Time{}
	}
	for _, o := range outcomes {
		if o.kind == retrying {
			if h.waiting[project] == nil {
				h.waiting[project] = map[types.NamespacedName]time.Time{}
			}
			h.waiting[project][key] = now.Add(o.after)
			return nil
		}
	}
	delete(h.waiting[project], key)
	if !answered || len(h.waiting[project]) == 0 || now.Sub(h.lastWake[project]) < wakeInterval {
		return nil
	}
	h.lastWake[project] = now
	var woken []types.NamespacedName
	for k, notBefore := range h.waiting[project] {
		if !now.Before(notBefore) {
			woken = append(woken, k)
			delete(h.waiting[project], k)
		}
	}
	return woken
}

func (h *projectHealth) forget(key types.NamespacedName) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, objects := range h.waiting {
		delete(objects, key)
	}
}

// send enqueues an object now, without blocking a worker.
func (h *projectHealth) send(key types.NamespacedName) {
	ps := &iapv1alpha1.ProtectedService{}
	ps.Namespace, ps.Name = key.Namespace, key.Name
	select {
	case h.wake <- event.TypedGenericEvent[*iapv1alpha1.ProtectedService]{Object: ps}:
	default:
	}
}

// firstSeen remembers since when something has been true of an object (here: IAM rejecting its
// project's IAP service agent). Kept in memory: a restart only restarts the wait.
type firstSeen struct {
	mu    sync.Mutex
	first map[types.NamespacedName]time.Time
}

func (f *firstSeen) since(key types.NamespacedName, now time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.first == nil {
		f.first = map[types.NamespacedName]time.Time{}
	}
	if t, ok := f.first[key]; ok {
		return t
	}
	f.first[key] = now
	return now
}

func (f *firstSeen) forget(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.first, key)
}

// permissionTTL is how long a passed permission preflight is trusted (at least two resync
// periods): the preflight is for reporting what is missing before the first write; a role
// revoked later is found by the call it denies, which clears the project's entries.
const permissionTTL = 24 * time.Hour

// permissionCache remembers when each project passed the permission preflight, per identity and
// kind of resource. An entry is trusted for a time longer than a (jittered) resync, so a quiet
// resync never pays for it; a revoked role is otherwise found by the call it denies, which also
// clears the project's entries.
//
// Keyed by project, not by resource: roles are granted on projects (docs/install.md), so the
// answer for one service is the answer for the next one adopted there, and an adoption of N
// services asks once per project and kind instead of 2 N times. The price: a permission granted
// or denied on one service only is found by the call it affects, not by the preflight; that
// denial clears the entries, so the object's next pass asks about its own resources and names
// every missing permission.
type permissionCache struct {
	mu     sync.Mutex
	passes map[string]time.Time
	// denied are the objects a pass of which was denied a permission: they ask about their own
	// resources on every pass until one ends clean, whatever the project's entries say, so their
	// condition keeps naming every missing permission instead of alternating with the call's
	// denial as other objects refill the project's entries.
	denied map[types.NamespacedName]bool
	// asking coalesces the preflights of one key made at the same time.
	asking singleflight.Group
}

// preflightKind is what a preflight asked for: the permissions on a Cloud Run service, on an IAP
// resource, or, for objects that declare settings, the settings permissions on it.
type preflightKind string

const (
	preflightService  preflightKind = "Cloud Run services"
	preflightAccess   preflightKind = "IAP web services"
	preflightSettings preflightKind = "IAP web service settings"
)

var preflightKinds = []preflightKind{preflightService, preflightAccess, preflightSettings}

// permissionKey keys the preflight by who asked, where, and for what: another identity has other
// rights, and settings need permissions the others do not.
func permissionKey(identity, project string, kind preflightKind) string {
	return identity + " in " + project + " on " + string(kind)
}

// fresh reports whether object may skip the preflight of key: key passed within ttl, and the
// object's last pass was not denied.
func (c *permissionCache) fresh(object types.NamespacedName, key string, now time.Time, ttl time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.passes[key]
	return ok && now.Sub(at) < ttl && !c.denied[object]
}

func (c *permissionCache) passed(key string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.passes == nil {
		c.passes = map[string]time.Time{}
	}
	c.passes[key] = now
}

// passEnded records how object's pass, acting as identity in project, ended. A denial drops the
// project's entries of every kind (the answer was wrong, has changed, or does not hold for this
// object's resources) and makes the object ask for itself until a pass of it ends clean: one cut
// short before the preflight (a transient failure) proves nothing.
func (c *permissionCache) passEnded(object types.NamespacedName, identity, project string, denied, clean bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if clean {
		delete(c.denied, object)
	}
	if !denied {
		return
	}
	if c.denied == nil {
		c.denied = map[types.NamespacedName]bool{}
	}
	c.denied[object] = true
	for _, k := range preflightKinds {
		delete(c.passes, permissionKey(identity, project, k))
	}
}

func (c *permissionCache) wasDenied(object types.NamespacedName) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.denied[object]
}

func (c *permissionCache) forget(object types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.denied, object)
}

// rolloutTracker remembers the service generation each object's own IAP switch produced, so a
// failed rollout is reported as runguard's (RolloutFailed) only when it is: a team's failed
// deploy is not runguard's to stall on. In memory: after a restart runguard does not claim it.
type rolloutTracker struct {
	mu  sync.Mutex
	gen map[types.NamespacedName]int64
}

func (t *rolloutTracker) started(key types.NamespacedName, generation int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen == nil {
		t.gen = map[types.NamespacedName]int64{}
	}
	t.gen[key] = generation
}

// failed reports whether the rollout this object started failed; a rollout that reached its
// generation is forgotten.
func (t *rolloutTracker) failed(key types.NamespacedName, svc *runpb.Service) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := t.gen[key]
	if !ok {
		return false
	}
	if svc.GetObservedGeneration() >= g {
		delete(t.gen, key)
		return false
	}
	return rolloutFailed(svc)
}

func (t *rolloutTracker) forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.gen, key)
}

// verificationClock holds the last clean pass of each object.
type verificationClock struct {
	mu sync.Mutex
	at map[types.NamespacedName]time.Time
}

// passed records a pass: a clean one is a verification; any other takes the object out, so an
// object a human must fix is not counted as overdue (its conditions say why).
func (v *verificationClock) passed(key types.NamespacedName, now time.Time, clean bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if clean {
		v.at[key] = now
	} else {
		delete(v.at, key)
	}
}

func (v *verificationClock) forget(key types.NamespacedName) { v.passed(key, time.Time{}, false) }

// oldest is how long ago the least recently verified object was verified.
func (v *verificationClock) oldest(now time.Time) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	var age time.Duration
	for _, at := range v.at {
		age = max(age, now.Sub(at))
	}
	return age
}
