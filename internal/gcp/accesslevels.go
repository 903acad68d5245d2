package gcp

import (
	"context"
	"errors"
	"strings"

	accesscontextmanager "cloud.google.com/go/accesscontextmanager/apiv1"
	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// AccessLevels is the adapter for Access Context Manager: access policies (read) and access
// levels (read and written). Reads are made as the identity of the Clients the adapter came
// from: runguard's own, or the service account ActingAs acts as, with its own token (the CLI's
// --impersonate-service-account reads levels that way). Access levels belong to an
// organization's access policy, not to a project or a namespace, so only runguard's own
// identity writes them: on Clients from ActingAs, Create, Update and Delete fail without a call.
//
// Each write is a long-running operation followed to its end (Wait), so the level returned is
// the one Google stored. Calls are paced per access policy (see Rates).
type AccessLevels struct{ c *Clients }

// AccessLevels reads access levels as c's identity, and writes them when c is runguard's own.
func (c *Clients) AccessLevels() AccessLevels { return AccessLevels{c} }

// ErrObserveOnly is the error of a write asked for in an ObserveOnly context: no access level is
// created, changed or deleted in Observe mode.
var ErrObserveOnly = errors.New("not written: the context is ObserveOnly (spec.mode: Observe)")

// errNotOwnIdentity is the error of a write on clients that act as another identity.
var errNotOwnIdentity = errors.New("access levels are written as runguard's own identity, not as a service account it acts as")

// acmCall names one Access Context Manager call: its method (for the call counter), what it
// does, on which resource, with which permission.
type acmCall struct{ method, op, resource, permission string }

// Policy reads an access policy (accessPolicies/{number}).
func (a AccessLevels) Policy(ctx context.Context, name string) (*accesscontextmanagerpb.AccessPolicy, error) {
	return read(ctx, a.c, acmCall{"acm.GetAccessPolicy", "read access policy", name, "accesscontextmanager.policies.get"},
		func(acm *accesscontextmanager.Client) (*accesscontextmanagerpb.AccessPolicy, error) {
			return acm.GetAccessPolicy(ctx, &accesscontextmanagerpb.GetAccessPolicyRequest{Name: name})
		})
}

// Get reads an access level (accessPolicies/{number}/accessLevels/{short name}) as it was
// defined. A level that does not exist is an error Classify calls NotFound.
func (a AccessLevels) Get(ctx context.Context, name string) (*accesscontextmanagerpb.AccessLevel, error) {
	return read(ctx, a.c, acmCall{"acm.GetAccessLevel", "read access level", name, "accesscontextmanager.accessLevels.get"},
		func(acm *accesscontextmanager.Client) (*accesscontextmanagerpb.AccessLevel, error) {
			return acm.GetAccessLevel(ctx, &accesscontextmanagerpb.GetAccessLevelRequest{Name: name, AccessLevelFormat: accesscontextmanagerpb.LevelFormat_AS_DEFINED})
		})
}

// Create creates the level its name places in an access policy and returns it as created.
func (a AccessLevels) Create(ctx context.Context, level *accesscontextmanagerpb.AccessLevel) (*accesscontextmanagerpb.AccessLevel, error) {
	return a.write(ctx, acmCall{"acm.CreateAccessLevel", "create access level", level.GetName(), "accesscontextmanager.accessLevels.create"},
		func(acm *accesscontextmanager.Client) (waitFunc, error) {
			op, err := acm.CreateAccessLevel(ctx, &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: policyOf(level.GetName()), AccessLevel: level})
			if err != nil {
				return nil, err
			}
			return func() (*accesscontextmanagerpb.AccessLevel, error) { return op.Wait(ctx) }, nil
		})
}

// Update writes the fields mask names (title, description, basic, custom) from level and
// returns the level as updated.
func (a AccessLevels) Update(ctx context.Context, level *accesscontextmanagerpb.AccessLevel, mask []string) (*accesscontextmanagerpb.AccessLevel, error) {
	return a.write(ctx, acmCall{"acm.UpdateAccessLevel", "update access level", level.GetName(), "accesscontextmanager.accessLevels.update"},
		func(acm *accesscontextmanager.Client) (waitFunc, error) {
			op, err := acm.UpdateAccessLevel(ctx, &accesscontextmanagerpb.UpdateAccessLevelRequest{AccessLevel: level, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}})
			if err != nil {
				return nil, err
			}
			return func() (*accesscontextmanagerpb.AccessLevel, error) { return op.Wait(ctx) }, nil
		})
}

// Delete deletes an access level and waits until it is gone.
func (a AccessLevels) Delete(ctx context.Context, name string) error {
	_, err := a.write(ctx, acmCall{"acm.DeleteAccessLevel", "delete access level", name, "accesscontextmanager.accessLevels.delete"},
		func(acm *accesscontextmanager.Client) (waitFunc, error) {
			op, err := acm.DeleteAccessLevel(ctx, &accesscontextmanagerpb.DeleteAccessLevelRequest{Name: name})
			if err != nil {
				return nil, err
			}
			return func() (*accesscontextmanagerpb.AccessLevel, error) { return nil, op.Wait(ctx) }, nil
		})
	return err
}

// read makes one read, paced per access policy.
func read[T any](ctx context.Context, c *Clients, k acmCall, call func(*accesscontextmanager.Client) (T, error)) (T, error) {
	acm, err := c.accessContextManager(ctx)
	if err != nil {
		var zero T
		return zero, callError(k.op, k.resource, k.permission, err)
	}
	return pacedRead(ctx, c, readCall{"acm", policyOf(k.resource), k.method, k.op, k.resource, k.permission},
		func() (T, error) { return call(acm) })
}

// waitFunc follows a write's operation to its end and returns the level it left.
type waitFunc func() (*accesscontextmanagerpb.AccessLevel, error)

// write starts one write, paced per access policy and counted, and waits for its operation.
func (a AccessLevels) write(ctx context.Context, k acmCall, start func(*accesscontextmanager.Client) (waitFunc, error)) (*accesscontextmanagerpb.AccessLevel, error) {
	acm, err := a.writer(ctx)
	var wait waitFunc
	if err == nil {
		err = a.c.paced(ctx, "acm", true, policyOf(k.resource), func() (err error) {
			wait, err = start(acm)
			return err
		})
		countCall(k.method, err)
	}
	var out *accesscontextmanagerpb.AccessLevel
	if err == nil {
		out, err = wait()
	}
	if err != nil {
		return nil, callError(k.op, k.resource, k.permission, err)
	}
	return out, nil
}

// writer is the client for a write, refused in an ObserveOnly context (Observe mode changes no
// access level) and on clients acting as another identity.
func (a AccessLevels) writer(ctx context.Context) (*accesscontextmanager.Client, error) {
	switch {
	case observeOnly(ctx):
		return nil, ErrObserveOnly
	case !a.c.acmWrites:
		return nil, errNotOwnIdentity
	}
	return a.c.accessContextManager(ctx)
}

// policyOf is the access policy of a level's name, or the policy's own name
// (accessPolicies/{number}): the unit of runguard's pacing of Access Context Manager calls.
func policyOf(name string) string {
	policy, _, _ := strings.Cut(name, "/accessLevels/")
	return policy
}
