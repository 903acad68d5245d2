// Package iampolicy is the fake's one IAM allow-policy store, for every kind of resource that
// has a policy (a Cloud Run service, an IAP resource, …): GetIamPolicy and SetIamPolicy as the
// APIs serve them, and the out-of-band reads and writes of the inspection API. Policies are
// kept in the store (kind store.KindPolicy) under the resource's canonical name; the rules of
// IAM (versions, etags, members) are policyengine's. An API registers each of its resource
// kinds once (Register): how to tell its names and whether a resource exists.
package iampolicy

import (
	"fmt"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/runguard/runguard/internal/gcpfake/policyengine"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Kind is one kind of resource with an IAM policy.
type Kind struct {
	// Owns reports whether a resource name is of this kind.
	Owns func(name string) bool
	// Canonical is the one name of a resource of this kind, the policy's key, whichever form of
	// its project (ID or number) the caller wrote; ok is false for a project that is not seeded.
	Canonical func(name string) (canonical string, ok bool)
	// Exists reports, under the store's lock, whether the resource exists: an out-of-band read
	// or write of its policy needs it to.
	Exists func(tx *store.Tx, name string) bool
}

// Store serves the policies of every registered kind.
type Store struct {
	Store  *store.Store
	Engine *policyengine.Engine
	kinds  []Kind
}

// Register adds a kind of resource; call it before serving.
func (s *Store) Register(k Kind) { s.kinds = append(s.kinds, k) }

// Get answers GetIamPolicy on the resource stored as name. check is the API's own test that
// the resource exists (with its own error), run in the same transaction as the read.
func (s *Store) Get(name string, check func(tx *store.Tx) error, opts *iampb.GetPolicyOptions) (*iampb.Policy, error) {
	var out *iampb.Policy
	err := s.Store.Txn(func(tx *store.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		var err error
		out, err = s.Engine.Get(Stored(tx, name), opts)
		return err
	})
	return out, err
}

// Set answers SetIamPolicy on the resource stored as name: the etag compare-and-set and the
// write are one step with check.
func (s *Store) Set(name string, check func(tx *store.Tx) error, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	var out *iampb.Policy
	err := s.Store.Txn(func(tx *store.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		res, err := s.Engine.Set(Stored(tx, name), req)
		if err != nil {
			return err
		}
		Put(tx, name, res.Stored)
		out = res.Response
		return nil
	})
	return out, err
}

// Policy returns the stored policy of a resource of a registered kind, by its canonical name
// (an empty policy if none was ever set); ok is false if the resource does not exist.
func (s *Store) Policy(name string) (*iampb.Policy, bool) {
	var out *iampb.Policy
	var ok bool
	_ = s.Store.Txn(func(tx *store.Tx) error {
		if !s.exists(tx, name) {
			return nil
		}
		ok = true
		if out = Stored(tx, name); out == nil {
			out = policyengine.Empty()
		}
		return nil
	})
	return out, ok
}

// SetOutOfBand writes a policy as another client would: no etag check and no lookup of
// identities, but the policy is normalized and gets a new etag.
func (s *Store) SetOutOfBand(name string, p *iampb.Policy) error {
	norm, err := policyengine.Normalize(p)
	if err != nil {
		return err
	}
	return s.Store.Txn(func(tx *store.Tx) error {
		if !s.exists(tx, name) {
			return fmt.Errorf("resource %s does not exist", name)
		}
		Put(tx, name, norm)
		return nil
	})
}

// Canonical is the one name a resource of a registered kind is known by (its policy's key, and
// the key of deny rules), whichever form of its project the caller wrote; other names, and
// names in a project that is not seeded, are kept as written.
func (s *Store) Canonical(name string) string {
	if k, ok := s.kindOf(name); ok {
		if c, ok := k.Canonical(name); ok {
			return c
		}
	}
	return name
}

// Test answers TestIamPermissions on a resource, after the API's check that it exists: the
// permissions asked for that belong to the API (prefixes, "run."). What the caller holds is
// the front end's to filter.
func (s *Store) Test(check func(tx *store.Tx) error, req *iampb.TestIamPermissionsRequest, prefixes ...string) (*iampb.TestIamPermissionsResponse, error) {
	if err := s.Store.Txn(check); err != nil {
		return nil, err
	}
	return policyengine.TestPermissions(req, prefixes...)
}

func (s *Store) exists(tx *store.Tx, name string) bool {
	k, ok := s.kindOf(name)
	return ok && k.Exists(tx, name)
}

func (s *Store) kindOf(name string) (Kind, bool) {
	for _, k := range s.kinds {
		if k.Owns(name) {
			return k, true
		}
	}
	return Kind{}, false
}

// Stored is the policy stored for a resource, or nil when none was ever set.
func Stored(tx *store.Tx, name string) *iampb.Policy {
	if m, ok := tx.Get(store.KindPolicy, name); ok {
		return m.(*iampb.Policy)
	}
	return nil
}

// Put stores a normalized policy for a resource (a seed's, or the result of a write).
func Put(tx *store.Tx, name string, p *iampb.Policy) { tx.Put(store.KindPolicy, name, p) }

// Delete removes a resource's policy, as deleting the resource does.
func Delete(tx *store.Tx, name string) { tx.Delete(store.KindPolicy, name) }

// Edit changes a resource's stored policy out of band, as SetOutOfBand does: fn gets the policy
// in stored form (empty if never set) under the store's lock, and when it reports a change the
// result is normalized and stored with a new etag. It reports whether anything changed.
func (s *Store) Edit(name string, fn func(p *iampb.Policy) (changed bool)) (bool, error) {
	changed := false
	err := s.Store.Txn(func(tx *store.Tx) error {
		if !s.exists(tx, name) {
			return fmt.Errorf("resource %s does not exist", name)
		}
		p := Stored(tx, name)
		if p == nil {
			p = policyengine.Empty()
		}
		if changed = fn(p); !changed {
			return nil
		}
		norm, err := policyengine.Normalize(p)
		if err != nil {
			return err
		}
		Put(tx, name, norm)
		return nil
	})
	return changed, err
}

// Names lists the stored policies whose canonical names start with prefix, sorted.
func (s *Store) Names(prefix string) []string {
	var out []string
	_ = s.Store.Txn(func(tx *store.Tx) error {
		out = tx.Names(store.KindPolicy, prefix)
		return nil
	})
	return out
}
