package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// adoptionFigures are issue 27's revocation scenario: one member removed from a Ready object once
// a quarter of the objects were Ready, and other Ready objects gaining a member over the rest
// of the adoption.
type adoptionFigures struct {
	revocation *timedEdit
	edits      []timedEdit
	notMade    int // planned edits the adoption ended before
}

// plannedEdit is an edit to make once `at` objects were Ready at least once.
type plannedEdit struct {
	at     int
	revoke bool
}

// adoptionPlan is when the edits are made, by how many objects were Ready: the revocation at a
// quarter, the additions evenly between none and all, so that they spread over the adoption
// however its pace varies.
func adoptionPlan(n, edits int) []plannedEdit {
	plan := []plannedEdit{{at: (n + 3) / 4, revoke: true}}
	for i := range edits {
		plan = append(plan, plannedEdit{at: max(1, (n*(i+1)+edits)/(edits+1))})
	}
	slices.SortStableFunc(plan, func(a, b plannedEdit) int { return a.at - b.at })
	return plan
}

// editsDuringAdoption makes and times the planned edits until the adoption ends (adopted
// closes), each on a Ready object no other edit of the run touched, and waits for the edits it
// made to reach Google.
func (h *harness) editsDuringAdoption(ctx context.Context, c client.Client, rec *recorder, res *results, start time.Time, adopted <-chan struct{}) {
	fig := &adoptionFigures{}
	res.adoption = fig
	plan := adoptionPlan(len(res.world.objects), h.cfg.adoptionEdits)
	var mu sync.Mutex
	var wg sync.WaitGroup
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for len(plan) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-adopted:
			fig.notMade = len(plan)
			plan = nil
			continue
		case <-ticker.C:
		}
		_, ready := rec.progress()
		for len(plan) > 0 && ready >= plan[0].at {
			next := plan[0]
			// Objects are dealt over project-regions in turn, so starting each search elsewhere
			// spreads the edits over them.
			made := h.cfg.adoptionEdits + 1 - len(plan)
			d, ok := res.pickReady(rec, made*len(res.world.objects)/(h.cfg.adoptionEdits+1))
			if !ok {
				break
			}
			plan = plan[1:]
			wg.Add(1)
			go func() {
				defer wg.Done()
				var te timedEdit
				if next.revoke {
					// user(i) is the object's own user: the one that leaves.
					te = h.timeEdit(ctx, c, rec, res, d, start, string(d.groups[0].Members[len(d.groups[0].Members)-1]), false)
				} else {
					te = h.timeEdit(ctx, c, rec, res, d, start, nextUser(d, &res.memberEdits), true)
				}
				mu.Lock()
				defer mu.Unlock()
				if next.revoke {
					fig.revocation = &te
				} else {
					fig.edits = append(fig.edits, te)
				}
			}()
		}
	}
	wg.Wait()
}

// pickReady is the first object from index `from` on (round the end) that is Ready and that no
// other scenario edit took, object 0 excepted (the converge's own edit); it marks it taken.
func (res *results) pickReady(rec *recorder, from int) (declared, bool) {
	res.takenMu.Lock()
	defer res.takenMu.Unlock()
	if res.taken == nil {
		res.taken = map[string]bool{}
	}
	objects := res.world.objects
	for i := range len(objects) {
		j := (from + i) % len(objects)
		k := key(objects[j].namespace, objects[j].name)
		if j == 0 || res.taken[k] || !rec.readyNow(k) {
			continue
		}
		res.taken[k] = true
		return objects[j], true
	}
	return declared{}, false
}

// timeEdit adds member to the object's first group (or removes it) and times until Google lists
// it (or no longer does).
func (h *harness) timeEdit(ctx context.Context, c client.Client, rec *recorder, res *results, d declared, start time.Time, member string, add bool) timedEdit {
	created, ready := rec.progress()
	te := timedEdit{object: key(d.namespace, d.name), madeAt: time.Since(start), created: created, ready: ready}
	change := func(ms []iapv1alpha1.Member) []iapv1alpha1.Member {
		if add {
			return append(ms, iapv1alpha1.Member(member))
		}
		return slices.DeleteFunc(ms, func(m iapv1alpha1.Member) bool { return string(m) == member })
	}
	e, err := editFirstGroup(ctx, c, d, change)
	if err != nil {
		te.err = err
		return te
	}
	te.updated = true
	if add {
		res.memberEdits.add(te.object, member)
	} else {
		res.memberEdits.remove(te.object, member)
	}
	te.took, te.err = h.untilGoogle(ctx, d, member, add, e.at)
	if seen := rec.generationSeen(te.object, e.generation); !seen.IsZero() {
		te.watchSaw = max(seen.Sub(e.sent), 0)
	}
	return te
}
