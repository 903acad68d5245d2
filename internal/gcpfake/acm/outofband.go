package acm

import (
	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/proto"

	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Level returns a level by its full name.
func (b *Backend) Level(name string) (l *accesscontextmanagerpb.AccessLevel, ok bool) {
	_ = b.Store.Txn(func(tx *store.Tx) error {
		l, ok = levelIn(tx, name)
		return nil
	})
	return l, ok
}

// Levels returns the levels of one access policy, or of every policy when policy is "",
// sorted by name.
func (b *Backend) Levels(policy string) []*accesscontextmanagerpb.AccessLevel {
	prefix := ""
	if policy != "" {
		prefix = policy + "/accessLevels/"
	}
	var out []*accesscontextmanagerpb.AccessLevel
	_ = b.Store.Txn(func(tx *store.Tx) error {
		for _, n := range tx.Names(store.KindAccessLevel, prefix) {
			l, _ := levelIn(tx, n)
			out = append(out, l)
		}
		return nil
	})
	return out
}

// Put creates or replaces a level as another client would (the console, gcloud): validated as
// over the API, but without an operation. created says whether it was new.
func (b *Backend) Put(l *accesscontextmanagerpb.AccessLevel) (created bool, err error) {
	l = proto.Clone(l).(*accesscontextmanagerpb.AccessLevel)
	err = b.Store.Txn(func(tx *store.Tx) error {
		name, ok := ParseLevel(l.GetName())
		if !ok {
			return violation("access_level.name", "Invalid access level name %q.", l.GetName())
		}
		_, exists := levelIn(tx, l.GetName())
		if !exists {
			created = true
			return b.create(tx, name.Policy, l)
		}
		if policyIn(tx, name.Policy) == nil {
			return noPolicy(PermissionUpdateLevel, name.Policy)
		}
		return b.put(tx, "access_level.", l)
	})
	return created, err
}

// Edit changes a stored level with mutate, as another client would; the result is validated as
// over the API. The name cannot change.
func (b *Backend) Edit(name string, mutate func(*accesscontextmanagerpb.AccessLevel)) error {
	return b.Store.Txn(func(tx *store.Tx) error {
		l, ok := levelIn(tx, name)
		if !ok {
			return notFound(name)
		}
		mutate(l)
		l.Name = name
		return b.put(tx, "access_level.", l)
	})
}

// Remove deletes a level as another client would.
func (b *Backend) Remove(name string) error {
	return b.Store.Txn(func(tx *store.Tx) error { return b.remove(tx, name) })
}

// Add creates a level as another client would; an existing name is ALREADY_EXISTS.
func (b *Backend) Add(l *accesscontextmanagerpb.AccessLevel) error {
	l = proto.Clone(l).(*accesscontextmanagerpb.AccessLevel)
	name, ok := ParseLevel(l.GetName())
	if !ok {
		return violation("access_level.name", "Invalid access level name %q.", l.GetName())
	}
	return b.Store.Txn(func(tx *store.Tx) error { return b.create(tx, name.Policy, l) })
}
