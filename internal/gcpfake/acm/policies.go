package acm

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync/atomic"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/proto"

	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Backend is the fake's Access Context Manager state: access policies (seeded; the fake serves
// no policy writes) and their access levels, in the shared store.
type Backend struct {
	Store *store.Store
	// DeferOperations answers level changes with operations that are done only on their first
	// GetOperation, so a client's poller goes through the Operations service. Google answers them
	// done at once (Config Connector's recorded traffic); either way the change itself is made
	// when the call is answered.
	DeferOperations bool
	seq             atomic.Uint64
}

// AddPolicy seeds an access policy. As Google documents: the name is accessPolicies/{number},
// the parent organizations/{number}, the title is required, a policy has at most one scope
// (projects/{number} or folders/{number}), only one policy may include a given scope, and an
// organization has one organization-level (unscoped) policy. An empty etag gets one.
func (b *Backend) AddPolicy(p *accesscontextmanagerpb.AccessPolicy) error {
	if err := checkPolicy(p); err != nil {
		return err
	}
	p = proto.Clone(p).(*accesscontextmanagerpb.AccessPolicy)
	p.CreateTime, p.UpdateTime = nil, nil
	return b.Store.Txn(func(tx *store.Tx) error {
		for _, n := range tx.Names(store.KindAccessPolicy, "") {
			if err := conflicts(policyIn(tx, n), p); err != nil {
				return err
			}
		}
		if p.Etag == "" {
			p.Etag = b.etag(p.Name)
		}
		tx.Put(store.KindAccessPolicy, p.Name, p)
		return nil
	})
}

func checkPolicy(p *accesscontextmanagerpb.AccessPolicy) error {
	switch {
	case !ValidPolicyName(p.GetName()):
		return fmt.Errorf("access policy %q: the name must be accessPolicies/{number}", p.GetName())
	case !ValidOrganization(p.GetParent()):
		return fmt.Errorf("access policy %s: parent %q is not organizations/{number}", p.GetName(), p.GetParent())
	case p.GetTitle() == "":
		return fmt.Errorf("access policy %s: a title is required", p.GetName())
	case len(p.GetScopes()) > 1:
		return fmt.Errorf("access policy %s: a policy has at most one scope", p.GetName())
	}
	for _, s := range p.GetScopes() {
		if !scopeRE.MatchString(s) {
			return fmt.Errorf("access policy %s: scope %q is not projects/{number} or folders/{number}", p.GetName(), s)
		}
	}
	return nil
}

func conflicts(old, p *accesscontextmanagerpb.AccessPolicy) error {
	switch {
	case old.GetName() == p.GetName():
		return fmt.Errorf("access policy %s seeded twice", p.GetName())
	case old.GetParent() == p.GetParent() && len(old.GetScopes()) == 0 && len(p.GetScopes()) == 0:
		return fmt.Errorf("access policies %s and %s: %s has one organization-level policy", old.GetName(), p.GetName(), p.GetParent())
	case len(p.GetScopes()) == 1 && len(old.GetScopes()) == 1 && old.GetScopes()[0] == p.GetScopes()[0]:
		return fmt.Errorf("access policies %s and %s both include %s", old.GetName(), p.GetName(), p.GetScopes()[0])
	}
	return nil
}

// Policy returns an access policy by name.
func (b *Backend) Policy(name string) (*accesscontextmanagerpb.AccessPolicy, bool) {
	m, ok := b.Store.Get(store.KindAccessPolicy, name)
	if !ok {
		return nil, false
	}
	return m.(*accesscontextmanagerpb.AccessPolicy), true
}

// Policies returns every access policy, sorted by name.
func (b *Backend) Policies() []*accesscontextmanagerpb.AccessPolicy {
	var out []*accesscontextmanagerpb.AccessPolicy
	_ = b.Store.Txn(func(tx *store.Tx) error {
		for _, n := range tx.Names(store.KindAccessPolicy, "") {
			out = append(out, policyIn(tx, n))
		}
		return nil
	})
	return out
}

// Organization is organizations/{number}, the parent of the access policy an Access Context
// Manager resource belongs to (PolicyOf); ok is false when that policy does not exist.
func (b *Backend) Organization(resource string) (string, bool) {
	p, ok := b.Policy(PolicyOf(resource))
	return p.GetParent(), ok
}

func policyIn(tx *store.Tx, name string) *accesscontextmanagerpb.AccessPolicy {
	m, ok := tx.Get(store.KindAccessPolicy, name)
	if !ok {
		return nil
	}
	return m.(*accesscontextmanagerpb.AccessPolicy)
}

// touchPolicy gives the policy a new etag: AccessPolicy.etag names "the current version of the
// AccessPolicy", whose levels are part of it (ReplaceAccessLevelsRequest.etag checks it).
func (b *Backend) touchPolicy(tx *store.Tx, name string) {
	if p := policyIn(tx, name); p != nil {
		p.Etag = b.etag(name)
		tx.Put(store.KindAccessPolicy, name, p)
	}
}

// etag is a strong, opaque version: the base64 of 8 bytes, the form recorded from Google
// ("abcdef0123A=" after normalization).
func (b *Backend) etag(name string) string {
	sum := sha256.Sum256([]byte(name + "#" + strconv.FormatUint(b.seq.Add(1), 10)))
	return base64.StdEncoding.EncodeToString(sum[:8])
}
