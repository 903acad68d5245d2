package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// A project that passed the preflight is trusted for every object in it, until one object's
// pass is denied: then the project is asked again, and that object asks on every pass until one
// ends clean.
func TestPermissionCache_RemembersProjectsUntilADenial(t *testing.T) {
	var c memory
	now := time.Now()
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	run, iap := preflightAsk{kind: preflightService}, preflightAsk{kind: preflightAccess}
	c.preflightPassed("acme", run, now)
	c.preflightPassed("acme", iap, now)
	for _, k := range []preflightAsk{run, iap} {
		if !c.preflightFresh(b, "acme", k, now, time.Hour) {
			t.Errorf("%v: another object of the passed project must not ask again", k)
		}
	}
	for _, other := range []struct {
		project string
		ask     preflightAsk
	}{{"acme", preflightAsk{identity: "sa@x.iam.gserviceaccount.com", kind: preflightService}},
		{"other", run}, {"acme", preflightAsk{kind: preflightSettings}}} {
		if c.preflightFresh(b, other.project, other.ask, now, time.Hour) {
			t.Errorf("%v: another identity, project or kind must ask for itself", other)
		}
	}
	if c.preflightFresh(b, "acme", run, now.Add(2*time.Hour), time.Hour) {
		t.Error("an answer older than the TTL was trusted")
	}

	c.passEnded(passEnd{key: a, project: "acme", denied: true})
	if c.preflightFresh(b, "acme", run, now, time.Hour) || c.preflightFresh(b, "acme", iap, now, time.Hour) {
		t.Error("a denial in the project must drop its remembered answers")
	}
	c.preflightPassed("acme", run, now) // another object refills the project's entry
	if c.preflightFresh(a, "acme", run, now, time.Hour) {
		t.Error("the denied object must ask about its own resources until a pass ends clean")
	}
	if !c.preflightFresh(b, "acme", run, now, time.Hour) {
		t.Error("the refilled entry must hold for the others")
	}
	c.passEnded(passEnd{key: a, project: "acme"})
	if c.preflightFresh(a, "acme", run, now, time.Hour) {
		t.Error("a pass cut short (not clean) proved nothing, yet the object trusts the project again")
	}
	c.passEnded(passEnd{key: a, project: "acme", clean: true})
	if !c.preflightFresh(a, "acme", run, now, time.Hour) {
		t.Error("after a clean pass, the object trusts the project again")
	}
}

func TestVerificationClock_OldestCleanPass(t *testing.T) {
	var v memory
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	a, b := types.NamespacedName{Namespace: "n", Name: "a"}, types.NamespacedName{Namespace: "n", Name: "b"}
	if got := v.oldestVerification(now); got != 0 {
		t.Errorf("oldest of none = %s", got)
	}
	v.passEnded(passEnd{key: a, started: now.Add(-10 * time.Minute), verified: true})
	v.passEnded(passEnd{key: b, started: now.Add(-time.Minute), verified: true})
	if got := v.oldestVerification(now); got != 10*time.Minute {
		t.Errorf("oldest = %s, want 10m", got)
	}
	v.passEnded(passEnd{key: a, started: now}) // a's last pass needs a human: not overdue
	if got := v.oldestVerification(now); got != time.Minute {
		t.Errorf("oldest after a's failed pass = %s, want 1m", got)
	}
	v.forget(b)
	if got := v.oldestVerification(now); got != 0 {
		t.Errorf("oldest after forgetting = %s, want 0", got)
	}
}

// A flood of audit entries naming one object wakes it once per interval: the first at once, the
// rest of the interval's entries once at its end, none in between.
func TestAuditWake_OncePerIntervalAndTheRestAtItsEnd(t *testing.T) {
	var m memory
	key := types.NamespacedName{Namespace: "ns", Name: "web"}
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if now, later := m.auditWake(key, t0); !now || later != 0 {
		t.Fatalf("first entry: now %v later %s, want a wake-up at once", now, later)
	}
	now, later := m.auditWake(key, t0.Add(500*time.Millisecond))
	if now || later != auditWakeInterval-500*time.Millisecond {
		t.Fatalf("second entry in the interval: now %v later %s, want one at the interval's end", now, later)
	}
	for i := range 1000 {
		if now, later := m.auditWake(key, t0.Add(time.Duration(600+i)*time.Millisecond)); now || later != 0 {
			t.Fatalf("entry %d of the flood woke the object (now %v, later %s): one wake-up is already due", i, now, later)
		}
	}
	m.auditWoken(key)
	if now, _ := m.auditWake(key, time.Now().Add(auditWakeInterval)); !now {
		t.Error("an entry after the next interval did not wake the object at once")
	}
	other := types.NamespacedName{Namespace: "ns", Name: "api"}
	if now, _ := m.auditWake(other, t0.Add(time.Second)); !now {
		t.Error("another object's first entry waited for this one's interval")
	}
}

// An audit entry is stale once a pass that began after its change read Google; an entry by one of
// runguard's known identities within the object's writing pass is that write's echo.
func TestAuditEntryFor_StaleEntriesAndEchoes(t *testing.T) {
	var m memory
	t0 := time.Now()
	key := types.NamespacedName{Namespace: "team", Name: "a"}
	if echo, stale := m.auditEntryFor(key, true, t0); echo || stale {
		t.Fatalf("before any pass: echo %v stale %v", echo, stale)
	}
	m.passEnded(passEnd{key: key, project: "p", started: t0.Add(time.Second), answered: true, wrote: true})
	if echo, _ := m.auditEntryFor(key, true, t0.Add(1500*time.Millisecond)); !echo {
		t.Error("runguard's own identity during its writing pass was not taken for the write's echo")
	}
	if echo, _ := m.auditEntryFor(key, false, t0.Add(1500*time.Millisecond)); echo {
		t.Error("another principal during runguard's writing pass was taken for an echo")
	}
	if echo, _ := m.auditEntryFor(key, true, t0.Add(time.Minute)); echo {
		t.Error("runguard's identity long after its last write was taken for an echo")
	}
	m.passEnded(passEnd{key: key, project: "p", started: t0.Add(time.Minute), answered: true})
	if _, stale := m.auditEntryFor(key, false, t0.Add(30*time.Second)); !stale {
		t.Error("an entry whose change a later pass read was not stale")
	}
	if _, stale := m.auditEntryFor(key, false, t0.Add(58*time.Second)); stale {
		t.Error("an entry within the clock skew of the pass's start was taken for stale")
	}
	m.passEnded(passEnd{key: key, project: "p", started: t0.Add(2 * time.Minute)})
	if _, stale := m.auditEntryFor(key, false, t0.Add(90*time.Second)); stale {
		t.Error("a pass that read nothing (not admitted, failed early) made an entry stale")
	}
}

// Entries by runguard's identity outside its own writes wake one object per interval in all.
func TestOwnWakeAllowed_OnePerIntervalInAll(t *testing.T) {
	var m memory
	t0 := time.Now()
	if !m.ownWakeAllowed(t0) {
		t.Fatal("the first was refused")
	}
	if m.ownWakeAllowed(t0.Add(auditWakeInterval / 2)) {
		t.Error("a second within the interval was allowed")
	}
	if !m.ownWakeAllowed(t0.Add(auditWakeInterval)) {
		t.Error("one after the interval was refused")
	}
}
