package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// On controller-runtime's own priority queue: an edit is handed to a worker before objects an
// adoption created earlier, and the initial listing comes last.
func TestEditsFirst_AnEditGoesAheadOfCreatesAndTheInitialListing(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	h := editsFirst()
	obj := func(name string, generation int64, rv string) *iapv1alpha1.ProtectedService {
		return &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Generation: generation, ResourceVersion: rv}}
	}
	ctx := context.Background()
	h.Create(ctx, event.CreateEvent{Object: obj("listed", 1, "1"), IsInInitialList: true}, q)
	for _, name := range []string{"new-1", "new-2", "new-3"} {
		h.Create(ctx, event.CreateEvent{Object: obj(name, 1, "2")}, q)
	}
	h.Update(ctx, event.UpdateEvent{ObjectOld: obj("edited", 1, "3"), ObjectNew: obj("edited", 2, "4")}, q)

	want := []string{"edited", "new-1", "new-2", "new-3", "listed"}
	assertHandedOut(t, q, want)
}

// An edit or a deletion handed back stays ahead in the work queue; an adoption's new objects and
// resyncs do not.
func TestUserChange_EditsAndDeletionsNotNewObjectsOrResyncs(t *testing.T) {
	now := metav1.Now()
	for name, tc := range map[string]struct {
		generation, observed int64
		deleting             bool
		want                 bool
	}{
		"new object, never reconciled":          {generation: 1, observed: 0, want: false},
		"resync of an applied object":           {generation: 3, observed: 3, want: false},
		"edit not yet applied":                  {generation: 4, observed: 3, want: true},
		"deletion":                              {generation: 3, observed: 3, deleting: true, want: true},
		"deletion of a never-reconciled object": {generation: 1, observed: 0, deleting: true, want: true},
	} {
		ps := &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Generation: tc.generation}}
		ps.Status.ObservedGeneration = tc.observed
		if tc.deleting {
			ps.DeletionTimestamp = &now
		}
		if got := userChange(ps); got != tc.want {
			t.Errorf("%s: userChange = %v, want %v", name, got, tc.want)
		}
	}
}

// A manager that has just become leader lists every object as created: the objects with a user's
// change not yet applied (a deletion — a revocation — first, then an edit made just before the
// leader changed) are handed out before the initial listing's others and before new objects.
func TestEditsFirst_ANewLeaderTakesPendingChangesFirst(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	h := editsFirst()
	now := metav1.Now()
	obj := func(name string, generation, observed int64, deleting bool) *iapv1alpha1.ProtectedService {
		ps := &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Generation: generation, ResourceVersion: "1"}}
		ps.Status.ObservedGeneration = observed
		if deleting {
			ps.DeletionTimestamp = &now
			ps.Finalizers = []string{iapv1alpha1.Finalizer}
		}
		return ps
	}
	ctx := context.Background()
	for _, o := range []*iapv1alpha1.ProtectedService{obj("applied-1", 3, 3, false), obj("edited", 5, 4, false),
		obj("applied-2", 2, 2, false), obj("going", 2, 2, true), obj("never-reconciled", 1, 0, false)} {
		h.Create(ctx, event.CreateEvent{Object: o, IsInInitialList: true}, q)
	}
	h.Create(ctx, event.CreateEvent{Object: obj("new", 1, 0, false)}, q)

	want := []string{"going", "edited", "new", "applied-1", "applied-2", "never-reconciled"}
	assertHandedOut(t, q, want)
}

// assertHandedOut takes every item off the queue and checks they come in the order want.
func assertHandedOut(t *testing.T, q priorityqueue.PriorityQueue[reconcile.Request], want []string) {
	t.Helper()
	for i, name := range want {
		item, priority, _ := q.GetWithPriority()
		if item.Name != name {
			t.Fatalf("item %d handed out is %s (priority %d), want %s: order %v", i, item.Name, priority, name, want)
		}
		q.Done(item)
	}
}
