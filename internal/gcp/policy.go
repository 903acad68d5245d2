package gcp

import (
	"context"
	"slices"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/runguard/runguard/internal/iampolicy"
)

// Policies is the adapter for one IAM policy surface: a Cloud Run service's own policy (who may
// invoke it) or an IAP resource's (who may pass IAP). It owns IAM's read-modify-write cycle.
type Policies struct {
	get  func(context.Context, Service) (*iampb.Policy, error)
	set  func(context.Context, Service, *iampb.Policy) (*iampb.Policy, error)
	test func(context.Context, Service, []string) (*iampb.TestIamPermissionsResponse, error)
}

// ServicePolicies reads and writes Cloud Run services' IAM policies.
func (c *Clients) ServicePolicies() Policies {
	return Policies{get: c.getServicePolicy, set: c.setServicePolicy, test: c.testServicePermissions}
}

// AccessPolicies reads and writes IAP resources' IAM policies.
func (c *Clients) AccessPolicies() Policies {
	return Policies{get: c.getIAPPolicy, set: c.setIAPPolicy, test: c.testIAPPermissions}
}

// Get reads the policy of the service's resource as version 3.
func (p Policies) Get(ctx context.Context, svc Service) (*iampb.Policy, error) {
	return p.get(ctx, svc)
}

// MissingPermissions asks Google which of want the identity lacks on the service's resource, in
// the order they are listed.
func (p Policies) MissingPermissions(ctx context.Context, svc Service, want []string) ([]string, error) {
	resp, err := p.test(ctx, svc, want)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, perm := range want {
		if !slices.Contains(resp.GetPermissions(), perm) {
			missing = append(missing, perm)
		}
	}
	return missing, nil
}

// Decision is a pure function that plans a change of a policy as read.
type Decision func(current *iampb.Policy) (iampolicy.Plan, error)

// conflictAttempts and conflictDelay bound the redo of a read-modify-write that lost a race.
const (
	conflictAttempts = 5
	conflictDelay    = 100 * time.Millisecond
)

// Update is IAM's read-modify-write: decide on the policy read, write it with the etag read only
// when the plan changes something, and redo the whole cycle on ABORTED (someone wrote in
// between), a few times with doubling delays. read, when not nil, is a policy this pass already
// read, used for the first attempt to save a call. The returned plan's Policy is the policy as
// it now stands in Google: the one written, or the one read when nothing changed.
func (p Policies) Update(ctx context.Context, svc Service, read *iampb.Policy, decide Decision) (iampolicy.Plan, error) {
	delay := conflictDelay
	for attempt := 1; ; attempt++ {
		current := read
		read = nil
		if current == nil {
			var err error
			if current, err = p.get(ctx, svc); err != nil {
				return iampolicy.Plan{}, err
			}
		}
		plan, err := decide(current)
		if err != nil || !plan.Changed || observeOnly(ctx) {
			// Observing, the policy as it stands is what Google holds: the plan says what
			// Enforce would change.
			if plan.Policy == nil || observeOnly(ctx) {
				plan.Policy = current
			}
			return plan, err
		}
		written, err := p.set(ctx, svc, plan.Policy)
		if err == nil {
			plan.Policy = written
			return plan, nil
		}
		if Classify(err) != Conflict || attempt == conflictAttempts {
			return iampolicy.Plan{}, err
		}
		if err := sleep(ctx, delay); err != nil {
			return iampolicy.Plan{}, err
		}
		delay *= 2
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
