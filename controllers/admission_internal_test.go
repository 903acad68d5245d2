package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
)

// appliedObject is an object whose last pass applied generation 3: it bound alice and bob in
// group devs, revoked public access, and found IAP on.
func appliedObject(name string) *iapv1alpha1.ProtectedService {
	ps := &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Generation: 3, ResourceVersion: "1"}}
	ps.Spec.AccessGroups = []iapv1alpha1.AccessGroup{{Name: "devs", Members: []iapv1alpha1.Member{"user:alice@acme.com", "user:bob@acme.com"}}}
	ps.Status.ObservedGeneration = 3
	ps.Status.ManagedBindings = []iapv1alpha1.ManagedBinding{{Group: "devs", Role: "roles/iap.httpsResourceAccessor", ConditionTitle: "runguard:devs",
		Members: []string{"user:alice@acme.com", "user:Bob@acme.com"}}, {Group: "grant.oncall", Members: []string{"user:carol@acme.com"}}}
	ps.Status.Conditions = []metav1.Condition{
		{Type: iapv1alpha1.ConditionPublicAccessRevoked, Status: metav1.ConditionTrue},
		{Type: iapv1alpha1.ConditionIAPEnabled, Status: metav1.ConditionTrue},
	}
	return ps
}

func TestClassOf_ToldFromTheSpecAgainstWhatTheLastPassBound(t *testing.T) {
	now := metav1.Now()
	for name, tc := range map[string]struct {
		change func(*iapv1alpha1.ProtectedService)
		want   passClass
	}{
		"resync":     {change: func(*iapv1alpha1.ProtectedService) {}, want: classResync},
		"new object": {change: func(ps *iapv1alpha1.ProtectedService) { ps.Status = iapv1alpha1.ProtectedServiceStatus{} }, want: classNew},
		"deletion":   {change: func(ps *iapv1alpha1.ProtectedService) { ps.DeletionTimestamp = &now }, want: classRevocation},
		"a member removed": {change: edit(func(ps *iapv1alpha1.ProtectedService) {
			ps.Spec.AccessGroups[0].Members = ps.Spec.AccessGroups[0].Members[:1]
		}), want: classRevocation},
		"a group removed": {change: edit(func(ps *iapv1alpha1.ProtectedService) { ps.Spec.AccessGroups[0].Name = "other" }), want: classRevocation},
		"a member added": {change: edit(func(ps *iapv1alpha1.ProtectedService) {
			ps.Spec.AccessGroups[0].Members = append(ps.Spec.AccessGroups[0].Members, "user:dave@acme.com")
		}), want: classEdit},
		"members differing only in case": {change: edit(func(*iapv1alpha1.ProtectedService) {}), want: classEdit},
		"public access now denied": {change: edit(func(ps *iapv1alpha1.ProtectedService) {
			ps.Status.Conditions[0].Status = metav1.ConditionFalse
		}), want: classRevocation},
		"public access still allowed": {change: edit(func(ps *iapv1alpha1.ProtectedService) {
			ps.Status.Conditions[0].Status, ps.Spec.PublicAccess = metav1.ConditionFalse, iapv1alpha1.PublicAccessAllow
		}), want: classEdit},
		"IAP now switched on": {change: edit(func(ps *iapv1alpha1.ProtectedService) { ps.Status.Conditions[1].Status = metav1.ConditionFalse }), want: classRevocation},
		"inherited access now denied": {change: edit(func(ps *iapv1alpha1.ProtectedService) {
			ps.Spec.InheritedAccess = iapv1alpha1.InheritedAccessDeny
			ps.Status.Conditions = append(ps.Status.Conditions, metav1.Condition{Type: iapv1alpha1.ConditionInheritedAccess, Status: metav1.ConditionTrue})
		}), want: classRevocation},
	} {
		ps := appliedObject("app")
		tc.change(ps)
		if got := classOf(ps); got != tc.want {
			t.Errorf("%s: class %d, want %d", name, got, tc.want)
		}
	}
}

// edit makes change a new generation the last pass has not applied.
func edit(change func(*iapv1alpha1.ProtectedService)) func(*iapv1alpha1.ProtectedService) {
	return func(ps *iapv1alpha1.ProtectedService) {
		ps.Generation++
		change(ps)
	}
}

// On controller-runtime's own priority queue: a revocation goes ahead of other edits, edits
// ahead of new objects, new objects ahead of the initial listing's resyncs.
func TestEditsFirst_RevocationsFirstOfAll(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	h := editsFirst()
	ctx := context.Background()
	for _, name := range []string{"resync-1", "resync-2"} {
		h.Create(ctx, event.CreateEvent{Object: appliedObject(name), IsInInitialList: true}, q)
	}
	fresh := appliedObject("new")
	fresh.Status = iapv1alpha1.ProtectedServiceStatus{}
	h.Create(ctx, event.CreateEvent{Object: fresh}, q)
	added := appliedObject("added")
	edit(func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups[0].Members = append(ps.Spec.AccessGroups[0].Members, "user:dave@acme.com")
	})(added)
	h.Update(ctx, event.UpdateEvent{ObjectOld: appliedObject("added"), ObjectNew: added}, q)
	revoked := appliedObject("revoked")
	edit(func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups[0].Members = ps.Spec.AccessGroups[0].Members[:1]
	})(revoked)
	h.Update(ctx, event.UpdateEvent{ObjectOld: appliedObject("revoked"), ObjectNew: revoked}, q)

	want := []string{"revoked", "added", "new", "resync-1", "resync-2"}
	assertHandedOut(t, q, want)
}

// A manager that has just become leader lists every object as created; a revocation made just
// before the leader changed is handed out first, ahead of edits and of every other listed object.
func TestEditsFirst_ANewLeaderTakesAPendingRevocationFirstOfAll(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	h := editsFirst()
	ctx := context.Background()
	listed := []*iapv1alpha1.ProtectedService{appliedObject("resync-1"), appliedObject("added"), appliedObject("revoked"), appliedObject("resync-2")}
	edit(func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups[0].Members = append(ps.Spec.AccessGroups[0].Members, "user:dave@acme.com")
	})(listed[1])
	edit(func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups[0].Members = ps.Spec.AccessGroups[0].Members[1:]
	})(listed[2])
	for _, o := range listed {
		h.Create(ctx, event.CreateEvent{Object: o, IsInInitialList: true}, q)
	}
	want := []string{"revoked", "added", "resync-1", "resync-2"}
	assertHandedOut(t, q, want)
}

// What a pass books before it starts: a new object's first pass the writes new objects made
// lately; the passes after it, and member edits, nothing; an edit switching IAP, two.
func TestExpectedRunWrites(t *testing.T) {
	var m memory
	key := types.NamespacedName{Namespace: "team", Name: "app"}
	fresh := appliedObject("app")
	fresh.Generation, fresh.Status = 1, iapv1alpha1.ProtectedServiceStatus{}
	if n, _ := m.expectedRunWrites(key, "p/r", classNew, fresh); n != 2 {
		t.Errorf("a first new object books %d, want 2", n)
	}
	b := (&gcp.Clients{}).BookRunWrites("p", "r", 0, time.Now())
	m.passAdmitted(key, 1, "p/r", classNew, b, false)
	if n, _ := m.expectedRunWrites(key, "p/r", classNew, fresh); n != 0 {
		t.Errorf("the pass after the writing pass books %d, want 0", n)
	}
	fresh.Generation = 2
	if n, _ := m.expectedRunWrites(key, "p/r", classNew, fresh); n != 0 {
		t.Errorf("an edit of an object whose writing pass ran books %d, want 0", n)
	}
	other := types.NamespacedName{Namespace: "team", Name: "next"}
	if n, first := m.expectedRunWrites(other, "p/r", classNew, fresh); n != 0 || !first {
		t.Errorf("after a new object that wrote nothing, the next books %d (first pass %v), want 0 and still a booking to learn from", n, first)
	}
	edited := appliedObject("app")
	edited.Generation++
	if n, _ := m.expectedRunWrites(types.NamespacedName{Name: "x"}, "p/r", classEdit, edited); n != 0 {
		t.Errorf("a member edit books %d, want 0", n)
	}
	edited.Spec.IAP.Enabled = ptr(false)
	edited.Spec.PublicAccess = iapv1alpha1.PublicAccessAllow
	if n, _ := m.expectedRunWrites(types.NamespacedName{Name: "x"}, "p/r", classEdit, edited); n != 2 {
		t.Errorf("an edit switching IAP off books %d, want 2", n)
	}
}
