package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// memberEdits are the members the harness added to and removed from objects' first groups, by
// object key, so that the final check knows what each object declares and no edit adds a member
// its object held before.
type memberEdits struct {
	mu      sync.Mutex
	added   map[string][]string
	removed map[string][]string
}

func (m *memberEdits) add(k, member string) { m.note(&m.added, k, member) }

func (m *memberEdits) remove(k, member string) { m.note(&m.removed, k, member) }

func (m *memberEdits) note(to *map[string][]string, k, member string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if *to == nil {
		*to = map[string][]string{}
	}
	(*to)[k] = append((*to)[k], member)
}

// of is what the harness added to and removed from the object.
func (m *memberEdits) of(k string) (added, removed []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.added[k]), slices.Clone(m.removed[k])
}

// editsDuringResync is issue 13's "edits first" figure: while the restarted manager resyncs every
// object, cfg.edits objects are edited, spread evenly over one resync period, each gaining a
// member, and each edit is timed from its update to Google holding the member.
func (h *harness) editsDuringResync(ctx context.Context, c client.Client, res *results) {
	n := min(h.cfg.edits, len(res.world.objects)-1)
	if n <= 0 {
		return
	}
	interval := h.cfg.resync / time.Duration(n)
	logf("editing %d objects over %s while every object resyncs", n, h.cfg.resync)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		// Object 0 had the converge's edit; the rest are spread over every project and region.
		d := res.world.objects[1+i*(len(res.world.objects)-1)/n]
		member := nextUser(d, &res.memberEdits)
		res.memberEdits.add(key(d.namespace, d.name), member)
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, err := h.addMember(ctx, c, d, member)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.editErrs = append(res.editErrs, err)
				return
			}
			res.edits = append(res.edits, took)
		}()
		select {
		case <-time.After(interval):
		case <-ctx.Done():
			return
		}
	}
	wg.Wait()
}

// nextUser is a principal of the object's project its first group never held.
func nextUser(d declared, edits *memberEdits) string {
	added, removed := edits.of(key(d.namespace, d.name))
	for u := range usersPerProject {
		m := user(u)
		held := slices.Contains(added, m) || slices.Contains(removed, m)
		for _, have := range d.groups[0].Members {
			held = held || string(have) == m
		}
		if !held {
			return m
		}
	}
	return editedMember
}

// addMember adds member to the object's first group and times until Google holds it.
func (h *harness) addMember(ctx context.Context, c client.Client, d declared, member string) (time.Duration, error) {
	e, err := editFirstGroup(ctx, c, d, func(ms []iapv1alpha1.Member) []iapv1alpha1.Member { return append(ms, iapv1alpha1.Member(member)) })
	if err != nil {
		return 0, err
	}
	return h.untilGoogle(ctx, d, member, true, e.at)
}

// memberEdit is one update of an object's first group: the generation it made, when it was sent
// and when the API server answered.
type memberEdit struct {
	generation int64
	sent, at   time.Time
}

// editFirstGroup changes the members of the object's first group.
func editFirstGroup(ctx context.Context, c client.Client, d declared, change func([]iapv1alpha1.Member) []iapv1alpha1.Member) (memberEdit, error) {
	var o iapv1alpha1.ProtectedService
	var sent time.Time
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: d.namespace, Name: d.name}, &o); err != nil {
			return err
		}
		o.Spec.AccessGroups[0].Members = change(o.Spec.AccessGroups[0].Members)
		sent = time.Now()
		return c.Update(ctx, &o)
	})
	if err != nil {
		return memberEdit{}, fmt.Errorf("edit %s/%s: %w", d.namespace, d.name, err)
	}
	return memberEdit{generation: o.Generation, sent: sent, at: time.Now()}, nil
}

// untilGoogle waits until the IAP policy of the object's service lists member in the first
// group's binding (listed) or no longer does, and says how long after since that was. It looks
// every 20 ms for the first 5 s, then less often: a wait of minutes needs no finer measure, and
// many waits at once would load the fake's admin endpoint.
func (h *harness) untilGoogle(ctx context.Context, d declared, member string, listed bool, since time.Time) (time.Duration, error) {
	path := adminapi.ServicesPath + "/" + d.project + "/" + d.location + "/" + d.service
	title := "runguard:" + d.groups[0].Name
	for time.Since(since) < h.cfg.timeout && ctx.Err() == nil {
		var ss adminapi.ServiceState
		if err := h.fake.do("GET", path, nil, &ss); err == nil && holds(ss.IAPPolicy, title, member) == listed {
			return time.Since(since), nil
		}
		switch waited := time.Since(since); {
		case waited < 5*time.Second:
			time.Sleep(20 * time.Millisecond)
		case waited < time.Minute:
			time.Sleep(100 * time.Millisecond)
		default:
			time.Sleep(500 * time.Millisecond)
		}
	}
	if listed {
		return 0, fmt.Errorf("%s not in the IAP policy of %s after %s", member, d.fullName(), time.Since(since).Round(time.Second))
	}
	return 0, fmt.Errorf("%s still in the IAP policy of %s after %s", member, d.fullName(), time.Since(since).Round(time.Second))
}
