package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// editsDuringResync is issue 13's "edits first" figure: while the restarted manager resyncs every
// object, cfg.edits objects are edited, spread evenly over one resync period, each gaining a
// member, and each edit is timed from its update to Google holding the member.
func (h *harness) editsDuringResync(ctx context.Context, c client.Client, res *results) {
	n := min(h.cfg.edits, len(res.world.objects)-1)
	if n <= 0 {
		return
	}
	res.editedMembers = map[string]string{}
	interval := h.cfg.resync / time.Duration(n)
	logf("editing %d objects over %s while every object resyncs", n, h.cfg.resync)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		// Object 0 had the converge's edit; the rest are spread over every project and region.
		d := res.world.objects[1+i*(len(res.world.objects)-1)/n]
		member := nextUser(d)
		mu.Lock()
		res.editedMembers[key(d.namespace, d.name)] = member
		mu.Unlock()
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

// nextUser is a principal of the object's project its first group does not hold yet.
func nextUser(d declared) string {
	for u := range usersPerProject {
		m := user(u)
		held := false
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
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var o iapv1alpha1.ProtectedService
		if err := c.Get(ctx, client.ObjectKey{Namespace: d.namespace, Name: d.name}, &o); err != nil {
			return err
		}
		o.Spec.AccessGroups[0].Members = append(o.Spec.AccessGroups[0].Members, iapv1alpha1.Member(member))
		return c.Update(ctx, &o)
	})
	if err != nil {
		return 0, fmt.Errorf("edit %s/%s: %w", d.namespace, d.name, err)
	}
	start := time.Now()
	path := adminapi.ServicesPath + "/" + d.project + "/" + d.location + "/" + d.service
	for time.Since(start) < h.cfg.timeout && ctx.Err() == nil {
		var ss adminapi.ServiceState
		if err := h.fake.do("GET", path, nil, &ss); err == nil && holds(ss.IAPPolicy, "runguard:"+d.groups[0].Name, member) {
			return time.Since(start), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not in the IAP policy of %s after %s", member, d.fullName(), time.Since(start).Round(time.Second))
}
