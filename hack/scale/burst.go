package main

import (
	"context"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// burstEdits is issue 27's "edits first during a burst": at each of cfg.burstEditAt after the
// first create, while the objects are still being created or adopted, one object that is already
// Ready gains a member, timed until Google lists it. An edit waits for an object to be Ready if
// none is yet, and is not made once every object is Ready (done closes).
func (h *harness) burstEdits(ctx context.Context, c client.Client, rec *recorder, res *results, start time.Time, done <-chan struct{}) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, at := range h.cfg.burstEditAt {
		d, ok := readyAfter(ctx, rec, res, start.Add(at), done)
		if !ok {
			res.burstNotMade = len(h.cfg.burstEditAt) - i
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			te := h.timeEdit(ctx, c, rec, res, d, start, nextUser(d, &res.memberEdits), true)
			mu.Lock()
			defer mu.Unlock()
			res.burst = append(res.burst, te)
		}()
	}
}

// readyAfter waits until `at`, then until an object no edit took is Ready, and takes it; false
// when done closes or ctx ends first.
func readyAfter(ctx context.Context, rec *recorder, res *results, at time.Time, done <-chan struct{}) (declared, bool) {
	for wait := time.Until(at); ; wait = 20 * time.Millisecond {
		select {
		case <-time.After(wait):
		case <-done:
			return declared{}, false
		case <-ctx.Done():
			return declared{}, false
		}
		if d, ok := res.pickReady(rec, 0); ok {
			return d, true
		}
	}
}
