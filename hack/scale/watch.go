package main

import (
	"context"
	"strconv"
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

type tracked struct {
	last       *iapv1alpha1.ProtectedService
	created    time.Time
	firstReady time.Time
	ready      bool
	// statusWritesToReady counts the status writes up to and including the first that said
	// Ready: 1 means the object was Ready on its first pass that wrote status.
	statusWritesToReady int
	// seen is when the watch first delivered each generation.
	seen map[int64]time.Time
}

// recorder follows every ProtectedService through a watch: when each was created and became
// Ready. A list every few seconds catches up with what a stalled watch did not deliver.
type recorder struct {
	mu      sync.Mutex
	objects map[string]*tracked
	ready   int
	want    int
	// createdCount and everReady count objects the harness created and objects that were Ready
	// once.
	createdCount, everReady int
	allReady                chan struct{}
	// gaps counts objects a list found changed beyond what the watch had delivered; their
	// status writes up to Ready may be undercounted.
	gaps    int
	restart chan string // a resourceVersion to watch from instead
}

func newRecorder(want int) *recorder {
	return &recorder{objects: map[string]*tracked{}, want: want, allReady: make(chan struct{}), restart: make(chan string, 1)}
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
	r.createdCount++
}

// isReady: Ready=True for the object's current generation.
func isReady(o *iapv1alpha1.ProtectedService) bool {
	c := meta.FindStatusCondition(o.Status.Conditions, iapv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.Generation
}

// newer compares resourceVersions, which the API server makes from etcd's increasing revision.
func newer(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA != nil || errB != nil || x > y
}

// observe takes an object as the API server now has it; fromList marks a list's copy.
func (r *recorder) observe(o *iapv1alpha1.ProtectedService, fromList bool, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.entry(key(o.Namespace, o.Name))
	if old := t.last; old != nil {
		if !newer(o.ResourceVersion, old.ResourceVersion) {
			return
		}
		if fromList {
			r.gaps++
		} else if t.firstReady.IsZero() && !equality.Semantic.DeepEqual(old.Status, o.Status) {
			t.statusWritesToReady++
		}
	}
	t.last = o
	if _, ok := t.seen[o.Generation]; !ok {
		if t.seen == nil {
			t.seen = map[int64]time.Time{}
		}
		t.seen[o.Generation] = now
	}
	switch ready := isReady(o); {
	case ready && !t.ready:
		t.ready = true
		r.ready++
		if t.firstReady.IsZero() {
			t.firstReady = now
			r.everReady++
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

// run watches until ctx ends, resuming where a closed watch left off, or where catchUp says.
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
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = r.catchUp(ctx, c, rv)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		rv = r.follow(ctx, c, w, rv)
		w.Stop()
	}
	return nil
}

// follow reads one watch until it ends or a catch-up list asks for a fresh one.
func (r *recorder) follow(ctx context.Context, c client.WithWatch, w watch.Interface, rv string) string {
	for {
		select {
		case <-ctx.Done():
			return rv
		case from := <-r.restart:
			return from
		case ev, open := <-w.ResultChan():
			if !open {
				return rv
			}
			if ev.Type == watch.Error {
				if err := apierrors.FromObject(ev.Object); apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return r.catchUp(ctx, c, rv)
				}
				return rv
			}
			o, ok := ev.Object.(*iapv1alpha1.ProtectedService)
			if !ok {
				continue
			}
			rv = o.ResourceVersion
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				r.observe(o, false, time.Now())
			}
		}
	}
}

// catchUp lists every object and, once the watch has had two seconds to deliver what the list
// shows, takes what it still has not; when it missed anything, the watch starts again from the
// list.
func (r *recorder) catchUp(ctx context.Context, c client.WithWatch, rv string) string {
	list := &iapv1alpha1.ProtectedServiceList{}
	if err := c.List(ctx, list); err != nil {
		return rv
	}
	time.Sleep(2 * time.Second)
	r.mu.Lock()
	before := r.gaps
	r.mu.Unlock()
	for i := range list.Items {
		r.observe(&list.Items[i], true, time.Now())
	}
	r.mu.Lock()
	missed := r.gaps > before
	r.mu.Unlock()
	if missed {
		logf("the watch had missed changes to %d object(s); watching again", r.gaps-before)
		select {
		case r.restart <- list.ResourceVersion:
		default:
		}
	}
	return list.ResourceVersion
}

// readiness is a snapshot: each object's time from creation to Ready, and how many status
// writes that took.
type readiness struct {
	toReady       []time.Duration
	writesToReady []int
	gaps          int
}

func (r *recorder) snapshot() readiness {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := readiness{gaps: r.gaps}
	for _, t := range r.objects {
		if t.firstReady.IsZero() || t.created.IsZero() {
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

// progress is how many objects the harness has created and how many were Ready at least once.
func (r *recorder) progress() (created, everReady int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.createdCount, r.everReady
}

// readyNow: the object is Ready for its current generation, as far as the watch has told.
func (r *recorder) readyNow(k string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.objects[k]
	return t != nil && t.ready
}

// generationSeen is when the watch first delivered generation gen of the object, or zero.
func (r *recorder) generationSeen(k string, gen int64) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.objects[k]; t != nil {
		return t.seen[gen]
	}
	return time.Time{}
}
