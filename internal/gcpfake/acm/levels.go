package acm

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/fieldmask"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// The permissions Google documents for the level methods ("IAM Permissions" on each REST
// method's reference page), which also word the denial of a policy that does not exist.
const (
	PermissionGetLevel    = "accesscontextmanager.accessLevels.get"
	PermissionListLevels  = "accesscontextmanager.accessLevels.list"
	PermissionCreateLevel = "accesscontextmanager.accessLevels.create"
	PermissionUpdateLevel = "accesscontextmanager.accessLevels.update"
	PermissionDeleteLevel = "accesscontextmanager.accessLevels.delete"
	PermissionGetPolicy   = "accesscontextmanager.policies.get"
	PermissionListPolicy  = "accesscontextmanager.policies.list"
)

// updatable are the fields update_mask may name (each, or a path inside one): AccessLevel's
// fields other than its name and the output-only times.
var updatable = map[string]bool{"title": true, "description": true, "basic": true, "custom": true}

// noPolicy is IAM's answer about a policy that does not exist: Google checks the permission on
// the policy and cannot tell a missing one from one the caller may not use.
func noPolicy(permission, policy string) error {
	return apierr.IAMPermissionDenied(permission, policy, policy)
}

// notFound is NOT_FOUND with the google.rpc.ResourceInfo Google attaches to it.
func notFound(name string) error {
	return apierr.New(codes.NotFound, "Requested entity was not found.",
		&errdetails.ResourceInfo{ResourceType: "accesscontextmanager.googleapis.com/AccessLevel", ResourceName: name})
}

func levelIn(tx *store.Tx, name string) (*accesscontextmanagerpb.AccessLevel, bool) {
	m, ok := tx.Get(store.KindAccessLevel, name)
	if !ok {
		return nil, false
	}
	return m.(*accesscontextmanagerpb.AccessLevel), true
}

// contextOf is what validating the level named self needs to know of its policy.
func contextOf(tx *store.Tx, policy, self string) levelContext {
	return levelContext{
		exists: func(name string) bool { _, ok := levelIn(tx, name); return ok && name != self },
		titleTaken: func(title string) bool {
			for _, n := range tx.Names(store.KindAccessLevel, policy+"/accessLevels/") {
				if l, _ := levelIn(tx, n); n != self && l.GetTitle() == title {
					return true
				}
			}
			return false
		},
	}
}

// put validates l (its fields named under prefix) and stores it, creating or replacing it.
// Output-only fields are not taken from the caller; Google's v1 answers carry no times.
func (b *Backend) put(tx *store.Tx, prefix string, l *accesscontextmanagerpb.AccessLevel) error {
	name, _ := ParseLevel(l.GetName())
	if err := checkLevel(prefix, l, contextOf(tx, name.Policy, l.GetName())); err != nil {
		return err
	}
	l.CreateTime, l.UpdateTime = nil, nil
	tx.Put(store.KindAccessLevel, l.GetName(), l)
	b.touchPolicy(tx, name.Policy)
	return nil
}

// create stores a new level of policy parent.
func (b *Backend) create(tx *store.Tx, parent string, l *accesscontextmanagerpb.AccessLevel) error {
	if l == nil {
		return violation("access_level", "The access level to create is required.")
	}
	if name, ok := ParseLevel(l.GetName()); ok && name.Policy != parent {
		return violation("access_level.name", "Access level %s is not in %s, the parent of the request.", l.GetName(), parent)
	}
	if policyIn(tx, parent) == nil {
		return noPolicy(PermissionCreateLevel, parent)
	}
	if _, exists := levelIn(tx, l.GetName()); exists {
		return apierr.New(codes.AlreadyExists, "Requested entity already exists",
			&errdetails.ResourceInfo{ResourceType: "accesscontextmanager.googleapis.com/AccessLevel", ResourceName: l.GetName()})
	}
	return b.put(tx, "access_level.", l)
}

// update applies the paths of l to the stored level.
func (b *Backend) update(tx *store.Tx, l *accesscontextmanagerpb.AccessLevel, paths []string) (*accesscontextmanagerpb.AccessLevel, error) {
	if l == nil {
		return nil, violation("access_level", "The access level to update is required.")
	}
	if len(paths) == 0 {
		return nil, violation("update_mask", "The update mask is required and must be non-empty.")
	}
	name, ok := ParseLevel(l.GetName())
	if !ok {
		return nil, violation("access_level.name", "Invalid access level name %q.", l.GetName())
	}
	if policyIn(tx, name.Policy) == nil {
		return nil, noPolicy(PermissionUpdateLevel, name.Policy)
	}
	cur, ok := levelIn(tx, l.GetName())
	if !ok {
		return nil, notFound(l.GetName())
	}
	for _, p := range paths {
		path := strings.Split(p, ".")
		if !updatable[path[0]] {
			return nil, violation("update_mask", "Invalid update mask path %q: only title, description, basic and custom (or paths inside them) can be updated.", p)
		}
		if err := fieldmask.Copy(cur.ProtoReflect(), l.ProtoReflect(), path, true); err != nil {
			return nil, violation("update_mask", "Invalid update mask path %q: %v.", p, err)
		}
	}
	return cur, b.put(tx, "access_level.", cur)
}

// remove deletes a level.
func (b *Backend) remove(tx *store.Tx, name string) error {
	l, ok := ParseLevel(name)
	if !ok {
		return violation("name", "Invalid access level name %q.", name)
	}
	if policyIn(tx, l.Policy) == nil {
		return noPolicy(PermissionDeleteLevel, l.Policy)
	}
	if !tx.Delete(store.KindAccessLevel, name) {
		return notFound(name)
	}
	b.touchPolicy(tx, l.Policy)
	return nil
}

// operation records the operation of a change of level and returns it as the change's call
// answers it: done, or (DeferOperations) not yet.
func (b *Backend) operation(tx *store.Tx, level, verb string, response proto.Message) *longrunningpb.Operation {
	meta, _ := anypb.New(&accesscontextmanagerpb.AccessContextManagerOperationMetadata{})
	resp, _ := anypb.New(response)
	id := strconv.FormatInt(time.Now().UnixMicro(), 10) + fmt.Sprintf("%03d", b.seq.Add(1)%1000)
	op := &longrunningpb.Operation{Name: operationName(level, verb, id), Metadata: meta, Done: true,
		Result: &longrunningpb.Operation_Response{Response: resp}}
	tx.Put(store.KindACMOperation, op.Name, op)
	if b.DeferOperations {
		return &longrunningpb.Operation{Name: op.Name, Metadata: meta}
	}
	return op
}

// Create creates a level over the API and answers with its operation.
func (b *Backend) Create(parent string, l *accesscontextmanagerpb.AccessLevel) (op *longrunningpb.Operation, err error) {
	l = proto.Clone(l).(*accesscontextmanagerpb.AccessLevel)
	err = b.Store.Txn(func(tx *store.Tx) error {
		if err := b.create(tx, parent, l); err != nil {
			return err
		}
		op = b.operation(tx, l.GetName(), "create", l)
		return nil
	})
	return op, err
}

// Update changes the fields paths name and answers with the operation.
func (b *Backend) Update(l *accesscontextmanagerpb.AccessLevel, paths []string) (op *longrunningpb.Operation, err error) {
	err = b.Store.Txn(func(tx *store.Tx) error {
		updated, err := b.update(tx, l, paths)
		if err != nil {
			return err
		}
		op = b.operation(tx, updated.GetName(), "update", updated)
		return nil
	})
	return op, err
}

// Delete deletes a level and answers with the operation.
func (b *Backend) Delete(name string) (op *longrunningpb.Operation, err error) {
	err = b.Store.Txn(func(tx *store.Tx) error {
		if err := b.remove(tx, name); err != nil {
			return err
		}
		op = b.operation(tx, name, "delete", &emptypb.Empty{})
		return nil
	})
	return op, err
}
