package controllers

import (
	"context"
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// wakeBuffer bounds the wake-ups waiting to be enqueued; past it a wake-up is dropped and the
// object keeps its own backoff.
const wakeBuffer = 4096

// wakeUp enqueues an object now, without blocking a worker.
func (r *ProtectedServiceReconciler) wakeUp(key types.NamespacedName) { r.wakeOn(r.wake, key) }

// wakeAtResyncPriority enqueues an object now behind everything but resyncs: for an audit entry
// that reports nothing but runguard's own writes.
func (r *ProtectedServiceReconciler) wakeAtResyncPriority(key types.NamespacedName) {
	r.wakeOn(r.wakeLow, key)
}

func (r *ProtectedServiceReconciler) wakeOn(ch chan event.TypedGenericEvent[*iapv1alpha1.ProtectedService], key types.NamespacedName) {
	ps := &iapv1alpha1.ProtectedService{}
	ps.Namespace, ps.Name = key.Namespace, key.Name
	select {
	case ch <- event.TypedGenericEvent[*iapv1alpha1.ProtectedService]{Object: ps}:
	default:
	}
}

// atLowPriority enqueues each generic event at the priority of resyncs.
func atLowPriority() handler.TypedEventHandler[*iapv1alpha1.ProtectedService, reconcile.Request] {
	return handler.TypedFuncs[*iapv1alpha1.ProtectedService, reconcile.Request]{
		GenericFunc: func(_ context.Context, e event.TypedGenericEvent[*iapv1alpha1.ProtectedService], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueueAt(q, types.NamespacedName{Namespace: e.Object.Namespace, Name: e.Object.Name}, ptr(handler.LowPriority))
		},
	}
}

// enqueueAt adds key to the work queue at priority (nil: the queue's default) when the queue is
// controller-runtime's priority queue, as it is here (UsePriorityQueue).
func enqueueAt(q workqueue.TypedRateLimitingInterface[reconcile.Request], key types.NamespacedName, priority *int) {
	req := reconcile.Request{NamespacedName: key}
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: priority}, req)
		return
	}
	q.Add(req)
}

// userChange reports whether the pass serves a user's change not yet applied: an edit of an
// object runguard had applied (observedGeneration stays behind until a pass completes for the
// new generation; paced and failed passes leave it), or a deletion. A new object is not one:
// thousands arrive together in an adoption.
func userChange(ps *iapv1alpha1.ProtectedService) bool {
	return !ps.DeletionTimestamp.IsZero() ||
		(ps.Status.ObservedGeneration > 0 && ps.Status.ObservedGeneration != ps.Generation)
}

// editsFirst enqueues each ProtectedService event for its object, as For's handler does, with
// edits (a new generation, or deletion starting) at editPriority: a user who changes who may
// pass IAP should not wait behind an adoption. Creates keep controller-runtime's priorities
// (normal; low for the initial listing).
func editsFirst() handler.TypedEventHandler[client.Object, reconcile.Request] {
	enqueue := func(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request], priority *int) {
		enqueueAt(q, client.ObjectKeyFromObject(o), priority)
	}
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q, pendingChangePriority(e.Object))
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.ObjectNew, q, userChangePriority(e.ObjectNew))
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q, nil)
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q, nil)
		},
	}
}

// pendingChangePriority is editPriority for an object the cache lists with a user's change not
// yet applied (a new generation, a deletion): a manager that has just become leader lists every
// object as created, and a revocation made just before the leader changed must not wait its turn
// among them. Other creates keep controller-runtime's priority (low for the initial listing).
func pendingChangePriority(o client.Object) *int {
	if ps, ok := o.(*iapv1alpha1.ProtectedService); ok && userChange(ps) {
		return userChangePriority(ps)
	}
	return nil
}

// userChangePriority is the priority of an update a user made (a new generation, a deletion, a
// pause switched): revocationPriority when it takes access away, editPriority otherwise.
func userChangePriority(o client.Object) *int {
	if ps, ok := o.(*iapv1alpha1.ProtectedService); ok && classOf(ps) == classRevocation {
		return ptr(revocationPriority)
	}
	return ptr(editPriority)
}

// requeuePriority orders the work queue (controller-runtime's priority queue): a plain resync of
// a converged object, and the recheck of a Stalled one, wait behind everything else, like the
// initial listing at start; a pass that still has work — a rollout to follow, a failure to
// retry — comes back at normal priority, with users' edits, so an adoption finishes objects
// instead of starting ever more of them.
func requeuePriority(outcomes []*outcome) *int {
	for _, o := range outcomes {
		if o.kind != stalled {
			return ptr(0)
		}
	}
	return ptr(handler.LowPriority)
}

func ptr[T any](v T) *T { return &v }

// requeueAfter is the soonest any outcome of the pass asks to be looked at again. Transient
// failures and progress polls back off separately: a rollout started right after an outage is
// polled from 1 s again, not at the backoff the outage left behind.
func (r *ProtectedServiceReconciler) requeueAfter(key types.NamespacedName, outcomes []*outcome) time.Duration {
	soonest := jitter(r.ResyncPeriod)
	failed, polled := false, false
	for _, o := range outcomes {
		d := jitter(r.StalledRecheck)
		switch {
		case o.kind == waiting && o.after > 0:
			d = o.after
		case o.kind == waiting:
			d, polled = r.memory.nextBackoff(key, true), true
		case o.reason == iapv1alpha1.ReasonThrottled:
			d = o.after
		case o.kind == retrying:
			d, failed = max(r.memory.nextBackoff(key, false), min(o.after, maxBackoff)), true
		}
		soonest = min(soonest, d)
	}
	if !failed {
		r.memory.resetBackoff(key, false)
	}
	if !polled {
		r.memory.resetBackoff(key, true)
	}
	return soonest
}

// jitter spreads resyncs of objects created together over ±10% of the period.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// minBackoff and maxBackoff bound the backoff of transient failures and progress polls.
const (
	minBackoff = time.Second
	maxBackoff = 2 * time.Minute
)
