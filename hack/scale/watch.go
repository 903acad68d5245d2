package main

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// writeCounts classifies the writes the API server persisted on ProtectedServices: each
// MODIFIED event of a watch is one.
type writeCounts struct {
	spec     int // generation changed: the harness's own edit
	metadata int // finalizer, annotations, labels: generation and status unchanged
	status   int
}

func (w writeCounts) minus(o writeCounts) writeCounts {
	return writeCounts{spec: w.spec - o.spec, metadata: w.metadata - o.metadata, status: w.status - o.status}
}

type tracked struct {
	last       *iapv1alpha1.ProtectedService
	created    time.Time
	firstReady time.Time
	ready      bool
	// statusWritesToReady counts the status writes up to and including the first that said
	// Ready: 1 means the object was Ready on its first pass that wrote status.
	statusWritesToReady int
}

// recorder follows every ProtectedService through one watch.
type recorder struct {
	mu       sync.Mutex
	objects  map[string]*tracked
	writes   writeCounts
	ready    int
	want     int
	allReady chan struct{}
	// relists counts watches the API server expired; writes during such a gap are not counted.
	relists int
}

func newRecorder(want int) *recorder {
	return &recorder{objects: map[string]*tracked{}, want: want, allReady: make(chan struct{})}
}

func key(ns, name string) string { return ns + "/" + name }

func (r *recorder) entry(k string) *tracked {
	t := r.objects[k]
	if t == nil {
		t = &tracked{}
		r.objects[k] = t
	}
	return t
}

// created notes when the harness created an object.
func (r *recorder) created(ns, name string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entry(key(ns, name)).created = at
}

// isReady: Ready=True for the object's current generation.
func isReady(o *iapv1alpha1.ProtectedService) bool {
	c := meta.FindStatusCondition(o.Status.Conditions, iapv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.Generation
}

func (r *recorder) observe(typ watch.EventType, o *iapv1alpha1.ProtectedService, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.entry(key(o.Namespace, o.Name))
	if typ == watch.Deleted {
		return
	}
	if old := t.last; typ == watch.Modified && old != nil && old.ResourceVersion != o.ResourceVersion {
		switch {
		case old.Generation != o.Generation:
			r.writes.spec++
		case !equality.Semantic.DeepEqual(old.Status, o.Status):
			r.writes.status++
			if t.firstReady.IsZero() {
				t.statusWritesToReady++
			}
		default:
			r.writes.metadata++
		}
	}
	t.last = o
	switch ready := isReady(o); {
	case ready && !t.ready:
		t.ready = true
		r.ready++
		if t.firstReady.IsZero() {
			t.firstReady = now
		}
		if r.ready == r.want {
			select {
			case <-r.allReady:
			default:
				close(r.allReady)
			}
		}
	case !ready && t.ready:
		t.ready = false
		r.ready--
	}
}

// run watches until ctx ends, resuming where a closed watch left off.
func (r *recorder) run(ctx context.Context, c client.WithWatch) error {
	list := &iapv1alpha1.ProtectedServiceList{}
	if err := c.List(ctx, list); err != nil {
		return err
	}
	rv := list.ResourceVersion
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, &iapv1alpha1.ProtectedServiceList{},
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				if apierrors.IsResourceExpired(apierrors.FromObject(ev.Object)) || apierrors.IsGone(apierrors.FromObject(ev.Object)) {
					rv = r.relist(ctx, c, rv)
				}
				break
			}
			o, ok := ev.Object.(*iapv1alpha1.ProtectedService)
			if !ok {
				continue
			}
			rv = o.ResourceVersion
			if ev.Type != watch.Bookmark {
				r.observe(ev.Type, o, time.Now())
			}
		}
		w.Stop()
	}
	return nil
}

func (r *recorder) relist(ctx context.Context, c client.WithWatch, rv string) string {
	list := &iapv1alpha1.ProtectedServiceList{}
	if err := c.List(ctx, list); err != nil {
		return rv
	}
	r.mu.Lock()
	r.relists++
	r.mu.Unlock()
	for i := range list.Items {
		r.observe(watch.Added, &list.Items[i], time.Now())
	}
	return list.ResourceVersion
}

// readiness is a snapshot: each object's time from creation to Ready, and how many status
// writes that took.
type readiness struct {
	toReady       []time.Duration
	writesToReady []int
	notReady      int
	writes        writeCounts
	relists       int
}

func (r *recorder) snapshot() readiness {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := readiness{writes: r.writes, relists: r.relists}
	for _, t := range r.objects {
		if t.firstReady.IsZero() || t.created.IsZero() {
			out.notReady++
			continue
		}
		out.toReady = append(out.toReady, t.firstReady.Sub(t.created))
		out.writesToReady = append(out.writesToReady, t.statusWritesToReady)
	}
	return out
}

func (r *recorder) readyCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready
}
