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
	var c permissionCache
	now := time.Now()
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	run, iap := permissionKey("", "acme", preflightService), permissionKey("", "acme", preflightAccess)
	c.passed(run, now)
	c.passed(iap, now)
	for _, k := range []string{run, iap} {
		if !c.fresh(b, k, now, time.Hour) {
			t.Errorf("%q: another object of the passed project must not ask again", k)
		}
	}
	for _, other := range []string{permissionKey("sa@x.iam.gserviceaccount.com", "acme", preflightService),
		permissionKey("", "other", preflightService), permissionKey("", "acme", preflightSettings)} {
		if c.fresh(b, other, now, time.Hour) {
			t.Errorf("%q: another identity, project or kind must ask for itself", other)
		}
	}
	if c.fresh(b, run, now.Add(2*time.Hour), time.Hour) {
		t.Error("an answer older than the TTL was trusted")
	}

	c.passEnded(a, "", "acme", true, false)
	if c.fresh(b, run, now, time.Hour) || c.fresh(b, iap, now, time.Hour) {
		t.Error("a denial in the project must drop its remembered answers")
	}
	c.passed(run, now) // another object refills the project's entry
	if c.fresh(a, run, now, time.Hour) {
		t.Error("the denied object must ask about its own resources until a pass ends clean")
	}
	if !c.fresh(b, run, now, time.Hour) {
		t.Error("the refilled entry must hold for the others")
	}
	c.passEnded(a, "", "acme", false, false)
	if c.fresh(a, run, now, time.Hour) {
		t.Error("a pass cut short (not clean) proved nothing, yet the object trusts the project again")
	}
	c.passEnded(a, "", "acme", false, true)
	if !c.fresh(a, run, now, time.Hour) {
		t.Error("after a clean pass, the object trusts the project again")
	}
}
