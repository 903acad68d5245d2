package controllers

import (
	"math"
	"sync"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runguard/runguard/internal/gcp"
)

// memory is what runguard remembers between passes, in this process only: one record per object
// and one per project, behind one lock, and forgotten together. A restart forgets it all, which
// only restarts waits (backoff, the IAP agent's propagation) and asks the preflight again.
type memory struct {
	mu       sync.Mutex
	objects  map[types.NamespacedName]*objectRecord
	projects map[string]*projectRecord
	// newObjectWrites is, per project and region, how many Cloud Run writes a new object's pass
	// made lately (a moving average): what the next new object books.
	newObjectWrites map[string]float64
	// ownWakeAt is when an entry by runguard's identity outside its own writes last woke an object.
	ownWakeAt time.Time
	// asking coalesces the permission preflights of one project, identity and kind made at the
	// same time.
	asking singleflight.Group
}

// objectRecord is what is remembered of one object.
type objectRecord struct {
	// failures and polls count consecutive transient failures and progress polls, for backoff;
	// ours rather than the workqueue's so RetryInfo and "not found yet" share one schedule.
	failures, polls int
	// corrections are the times each field was corrected within fightWindow.
	corrections map[string][]time.Time
	// agentRejectedSince is when IAM first rejected the project's IAP service agent.
	agentRejectedSince time.Time
	// rolloutGeneration is the service generation the object's own IAP switch produced (0: none),
	// so a failed rollout is reported as runguard's only when it is: a team's failed deploy is
	// not runguard's to stall on.
	rolloutGeneration int64
	// permissionDenied: a pass was denied a permission, so the object asks the preflight about
	// its own resources on every pass until one ends clean, whatever the project's record says.
	permissionDenied bool
	// changeReported is when the earliest change an audit entry reported happened, until a pass
	// that began after it ends.
	changeReported time.Time
	// verifiedAt is the end of the last pass that found Google matching the spec.
	verifiedAt time.Time
	// auditWokenAt is when an audit entry last woke the object, and auditWakePending says a
	// wake-up is already scheduled for the end of the window (auditWake).
	auditWokenAt     time.Time
	auditWakePending bool
	// backingOffFrom is the project a transient failure made the object back off from, and
	// notBefore the delay Google asked for (RetryInfo), before which it is not woken.
	backingOffFrom string
	notBefore      time.Time
	// booking is the object's turn at its project and region's Cloud Run write rate, held while
	// the pass waits for it unstarted (admit).
	booking *gcp.Booking
	// lastPassStarted is when the object's last pass began; lastWriteStarted and lastWriteEnded
	// bound its last pass that wrote to Google.
	lastPassStarted, lastWriteStarted, lastWriteEnded time.Time
	// bookedGeneration is the generation whose pass last ran on a booking: the passes that follow
	// it for the same generation book nothing more.
	bookedGeneration int64
	// runWritesPaced: the last pass was held back by the Cloud Run write rate, so the next one
	// books a write before it starts.
	runWritesPaced bool
}

// projectRecord is what is remembered of one project.
type projectRecord struct {
	// preflights are when each preflight passed in the project.
	preflights map[preflightAsk]time.Time
	// waiting are the objects backing off from the project.
	waiting map[types.NamespacedName]bool
	// lastWake is when waiting objects were last woken.
	lastWake time.Time
	// inherited are the policies above the project's services, by region and identity, as last
	// read: read once per resync period, and again after an audit entry reports a change there.
	inherited map[inheritedAsk]inheritedRead
}

// inheritedAsk is what the policies above a service were read for: its region's IAP level, and
// who read them (another identity may read less).
type inheritedAsk struct{ location, identity string }

// inheritedRead is one reading of the policies above a service.
type inheritedRead struct {
	at   time.Time
	fact inheritedFact
}

// preflightAsk is who asked the permission preflight, and for what: another identity has other
// rights, and settings need permissions the others do not.
type preflightAsk struct {
	identity string
	kind     preflightKind
}

// preflightKind is what a preflight asked for: the permissions on a Cloud Run service, on an IAP
// resource, or, for objects that declare settings, the settings permissions on it.
type preflightKind string

const (
	preflightService  preflightKind = "Cloud Run services"
	preflightAccess   preflightKind = "IAP web services"
	preflightSettings preflightKind = "IAP web service settings"
)

// object is key's record, created on first use. The caller holds mu.
func (m *memory) object(key types.NamespacedName) *objectRecord {
	if m.objects == nil {
		m.objects = map[types.NamespacedName]*objectRecord{}
	}
	o := m.objects[key]
	if o == nil {
		o = &objectRecord{}
		m.objects[key] = o
	}
	return o
}

// project is the project's record, created on first use. The caller holds mu.
func (m *memory) project(id string) *projectRecord {
	if m.projects == nil {
		m.projects = map[string]*projectRecord{}
	}
	p := m.projects[id]
	if p == nil {
		p = &projectRecord{preflights: map[preflightAsk]time.Time{}, waiting: map[types.NamespacedName]bool{}}
		m.projects[id] = p
	}
	return p
}

// forget drops everything remembered of a deleted object.
func (m *memory) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.objects[key]; o != nil && o.backingOffFrom != "" {
		delete(m.project(o.backingOffFrom).waiting, key)
	}
	delete(m.objects, key)
}

// nextBackoff counts a failure (or a poll) and returns how long to wait: 1 s doubling to
// maxBackoff, jittered.
func (m *memory) nextBackoff(key types.NamespacedName, poll bool) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.object(key)
	n := &o.failures
	if poll {
		n = &o.polls
	}
	d := time.Duration(float64(minBackoff) * math.Pow(2, float64(min(*n, 10))))
	*n++
	return jitter(min(d, maxBackoff))
}

// resetBackoff ends a run of failures (or polls).
func (m *memory) resetBackoff(key types.NamespacedName, poll bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.objects[key]; o != nil && poll {
		o.polls = 0
	} else if o != nil {
		o.failures = 0
	}
}

// fightWindow and fightThreshold: the same field corrected this often this fast means another
// tool is writing it.
const (
	fightWindow    = time.Hour
	fightThreshold = 3
)

// corrected records a drift correction of field and reports how often it was corrected within
// fightWindow, and whether that means another writer is fighting runguard over it.
func (m *memory) corrected(key types.NamespacedName, field string, now time.Time) (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.object(key)
	if o.corrections == nil {
		o.corrections = map[string][]time.Time{}
	}
	recent := []time.Time{now}
	for _, t := range o.corrections[field] {
		if now.Sub(t) < fightWindow {
			recent = append(recent, t)
		}
	}
	o.corrections[field] = recent
	return len(recent), len(recent) >= fightThreshold
}

// agentRejected records that IAM rejects the object's IAP service agent and returns since when
// it has done so.
func (m *memory) agentRejected(key types.NamespacedName, now time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.object(key)
	if o.agentRejectedSince.IsZero() {
		o.agentRejectedSince = now
	}
	return o.agentRejectedSince
}

// agentAccepted ends a wait for the IAP service agent.
func (m *memory) agentAccepted(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.objects[key]; o != nil {
		o.agentRejectedSince = time.Time{}
	}
}

// rolloutStarted records the service generation the object's IAP switch produces.
func (m *memory) rolloutStarted(key types.NamespacedName, generation int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.object(key).rolloutGeneration = generation
}

// ownRolloutFailed reports whether the rollout this object started failed; a rollout that
// reached its generation is forgotten.
func (m *memory) ownRolloutFailed(key types.NamespacedName, svc *runpb.Service) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.objects[key]
	if o == nil || o.rolloutGeneration == 0 {
		return false
	}
	if svc.GetObservedGeneration() >= o.rolloutGeneration {
		o.rolloutGeneration = 0
		return false
	}
	return rolloutFailed(svc)
}

// preflightFresh reports whether object may skip the preflight ask in project: it passed within
// ttl, and the object's last pass was not denied.
func (m *memory) preflightFresh(object types.NamespacedName, project string, ask preflightAsk, now time.Time, ttl time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.project(project).preflights[ask]
	return ok && now.Sub(at) < ttl && !m.object(object).permissionDenied
}

// preflightPassed records a preflight that found nothing missing.
func (m *memory) preflightPassed(project string, ask preflightAsk, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.project(project).preflights[ask] = now
}

// permissionWasDenied reports whether the object's last pass was denied a permission.
func (m *memory) permissionWasDenied(object types.NamespacedName) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.object(object).permissionDenied
}

// auditReported records a change an audit entry reported at at.
func (m *memory) auditReported(key types.NamespacedName, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.object(key)
	if o.changeReported.IsZero() || at.Before(o.changeReported) {
		o.changeReported = at
	}
}
