package controllers

// What the end of a pass, and an audit entry, change in the memory (memory.go).

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// auditWakeInterval is the shortest time between two passes audit entries trigger for one
// object. Entries are only hints (the pass re-reads Google), so a flood of them — forged, or
// repeated by a sink — costs at most one pass per object per interval, and a real change reported
// inside an interval is still looked at by its end.
const auditWakeInterval = 2 * time.Second

// auditWake decides what an audit entry naming the object does at now: wake it now (the first
// entry of an interval), or once at the interval's end (later > 0; then the caller calls
// auditWoken when it fires), or nothing (a wake-up is already due).
func (m *memory) auditWake(key types.NamespacedName, now time.Time) (wakeNow bool, later time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.object(key)
	switch {
	case o.auditWakePending:
		return false, 0
	case now.Sub(o.auditWokenAt) >= auditWakeInterval:
		o.auditWokenAt = now
		return true, 0
	}
	o.auditWakePending = true
	return false, auditWakeInterval - now.Sub(o.auditWokenAt)
}

// auditSkew is how far Google's clock (an entry's timestamp) may be from ours: an entry is stale
// only when a pass of its object began that much after the change it reports.
const auditSkew = 5 * time.Second

// auditEntryFor judges an entry about the object: stale when a pass that began after the change
// has already read Google; an echo when its principal is one of runguard's identities (known:
// configured, or the namespace's) and its change falls within the object's last writing pass.
// Identities are never guessed from timing: a tool that changes services just after runguard
// writes them would be taken for runguard, and its changes left uncorrected.
func (m *memory) auditEntryFor(key types.NamespacedName, known bool, changed time.Time) (echo, stale bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.object(key)
	if changed.Before(o.lastPassStarted.Add(-auditSkew)) {
		return false, true
	}
	duringWrite := !o.lastWriteStarted.IsZero() && !changed.Before(o.lastWriteStarted.Add(-auditSkew)) && !changed.After(o.lastWriteEnded.Add(auditSkew))
	return known && duringWrite, false
}

// ownWakeAllowed takes the one wake-up per auditWakeInterval that entries by runguard's identity
// outside its own writes may make in all.
func (m *memory) ownWakeAllowed(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.ownWakeAt) < auditWakeInterval {
		return false
	}
	m.ownWakeAt = now
	return true
}

// auditWoken records that a scheduled wake-up fired.
func (m *memory) auditWoken(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.objects[key]; o != nil {
		o.auditWakePending, o.auditWokenAt = false, time.Now()
	}
}

// passEnd is how one pass ended, as the memory needs it.
type passEnd struct {
	key      types.NamespacedName
	identity string
	project  string
	started  time.Time
	// denied: a call or the preflight was denied a permission; clean: nothing is left to do.
	denied, clean bool
	// wrote: the pass made a Google write; verified: it found Google matching the spec.
	wrote, verified bool
	// answered: Google answered the pass's calls on the project.
	answered bool
	// backingOff: the pass failed transiently; notBefore is the delay Google asked for.
	backingOff bool
	notBefore  time.Time
}

// passEnded records how a pass ended. It returns the other objects backing off from the project
// to wake now that it answers again, and, when this pass corrected a change an audit entry
// reported, how long after the change it did (0 otherwise).
//
// A denial drops the project's preflight answers of the identity (the answer was wrong, has
// changed, or does not hold for this object's resources) and makes the object ask for itself
// until a pass of it ends clean: one cut short before the preflight (a transient failure) proves
// nothing.
func (m *memory) passEnded(e passEnd) (woken []types.NamespacedName, correctedAfter time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, p := m.object(e.key), m.project(e.project)
	if e.clean {
		o.permissionDenied = false
	}
	if e.denied {
		o.permissionDenied = true
		for _, k := range []preflightKind{preflightService, preflightAccess, preflightSettings} {
			delete(p.preflights, preflightAsk{identity: e.identity, kind: k})
		}
	}
	if !o.changeReported.IsZero() && !o.changeReported.After(e.started) {
		if e.wrote {
			correctedAfter = max(time.Since(o.changeReported), time.Nanosecond)
		}
		o.changeReported = time.Time{}
	}
	o.verifiedAt = time.Time{}
	if e.verified {
		o.verifiedAt = e.started
	}
	if e.answered {
		// Only a pass that read Google saw the changes made before it began.
		o.lastPassStarted = e.started
	}
	if e.wrote {
		o.lastWriteStarted, o.lastWriteEnded = e.started, time.Now()
	}
	return m.wake(o, p, e), correctedAfter
}

// wakeInterval spaces the wake-ups of one project, so a flaky project is not hammered by every
// object each time one call gets through.
const wakeInterval = 3 * time.Second

// wake records whether the object backs off from its project and, when the project answered,
// picks the objects waiting on it whose RetryInfo delay has passed. The caller holds mu.
func (m *memory) wake(o *objectRecord, p *projectRecord, e passEnd) []types.NamespacedName {
	if o.backingOffFrom != "" && o.backingOffFrom != e.project {
		delete(m.project(o.backingOffFrom).waiting, e.key)
	}
	if e.backingOff {
		o.backingOffFrom, o.notBefore = e.project, e.notBefore
		p.waiting[e.key] = true
		return nil
	}
	o.backingOffFrom = ""
	delete(p.waiting, e.key)
	if !e.answered || len(p.waiting) == 0 || e.started.Sub(p.lastWake) < wakeInterval {
		return nil
	}
	p.lastWake = e.started
	var woken []types.NamespacedName
	for k := range p.waiting {
		w := m.objects[k]
		if w == nil || !e.started.Before(w.notBefore) {
			woken = append(woken, k)
			delete(p.waiting, k)
			if w != nil {
				w.backingOffFrom = ""
			}
		}
	}
	return woken
}

// oldestVerification is how long ago the least recently verified object was verified; objects
// whose last pass was not clean are not counted (their conditions say why).
func (m *memory) oldestVerification(now time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var age time.Duration
	for _, o := range m.objects {
		if !o.verifiedAt.IsZero() {
			age = max(age, now.Sub(o.verifiedAt))
		}
	}
	return age
}

// inheritedFor is the last reading of the policies above a service, and whether it is still
// fresh (younger than maxAge).
func (m *memory) inheritedFor(project string, ask inheritedAsk, now time.Time, maxAge time.Duration) (f inheritedFact, fresh, found bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	read, found := m.project(project).inherited[ask]
	return read.fact, found && now.Sub(read.at) < maxAge, found
}

// inheritedRead remembers a reading of the policies above a service.
func (m *memory) inheritedRead(project string, ask inheritedAsk, now time.Time, f inheritedFact) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.project(project)
	if p.inherited == nil {
		p.inherited = map[inheritedAsk]inheritedRead{}
	}
	p.inherited[ask] = inheritedRead{at: now, fact: f}
}

// forgetInherited drops every reading of a project's policies above its services (an audit entry
// reported a change there, or above it), so the next pass reads them again.
func (m *memory) forgetInherited(project string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.projects[project]; p != nil {
		p.inherited = nil
	}
}

// forgetAllInherited drops every reading of policies above services: a folder's or an
// organization's changed, and any project may be below it.
func (m *memory) forgetAllInherited() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.projects {
		p.inherited = nil
	}
}
