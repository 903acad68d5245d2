// Package store is the fake's in-memory state: protobuf messages keyed by
// kind and full resource name, behind one lock so that a read-check-write
// (an etag compare-and-set, a delete that takes dependent resources with it)
// is atomic.
package store

import (
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
)

// Kinds of records. A Cloud Run service and its IAM policy share a resource
// name, so the kind keeps them apart.
const (
	KindService     = "run.googleapis.com/Service"
	KindReconcileAt = "run.googleapis.com/ReconcileAt"
	// KindFailNextRollout holds the message the service's next rollout fails with.
	KindFailNextRollout = "run.googleapis.com/FailNextRollout"
	// KindSlowNextRollout holds how long the service's next rollout takes, instead of the
	// server's ReconcileDelay.
	KindSlowNextRollout = "run.googleapis.com/SlowNextRollout"
	KindOperation       = "longrunning/Operation"
	KindOperationDone   = "longrunning/OperationDoneAt"
	KindPolicy          = "iam/Policy"
	// KindIAPSettings holds an IAP resource's iappb.IapSettings, keyed by
	// the resource in project-number form.
	KindIAPSettings = "iap.googleapis.com/IapSettings"
	// KindAccessToken holds an issued access token's principal and expiry (a structpb.Struct),
	// keyed by the token.
	KindAccessToken = "iamcredentials.googleapis.com/AccessToken"
	// KindAccessPolicy holds an Access Context Manager AccessPolicy, KindAccessLevel an
	// AccessLevel, KindACMOperation a level change's longrunningpb.Operation, each keyed by its
	// full name (accessPolicies/{n}, accessPolicies/{n}/accessLevels/{l}, operations/…).
	KindAccessPolicy = "accesscontextmanager.googleapis.com/AccessPolicy"
	KindAccessLevel  = "accesscontextmanager.googleapis.com/AccessLevel"
	KindACMOperation = "accesscontextmanager.googleapis.com/Operation"
)

type key struct{ kind, name string }

// Store holds cloned messages; callers never share memory with it.
type Store struct {
	mu   sync.Mutex
	rows map[key]proto.Message
}

// New returns an empty store.
func New() *Store { return &Store{rows: map[key]proto.Message{}} }

// Tx is the view of the store inside Txn.
type Tx struct{ s *Store }

// Txn runs fn under the store's lock. Everything fn reads and writes through
// tx is one atomic step.
func (s *Store) Txn(fn func(tx *Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(&Tx{s: s})
}

// Get returns a copy of the record.
func (tx *Tx) Get(kind, name string) (proto.Message, bool) {
	m, ok := tx.s.rows[key{kind, name}]
	if !ok {
		return nil, false
	}
	return proto.Clone(m), true
}

// Put stores a copy of m.
func (tx *Tx) Put(kind, name string, m proto.Message) {
	tx.s.rows[key{kind, name}] = proto.Clone(m)
}

// Delete removes the record and reports whether it existed.
func (tx *Tx) Delete(kind, name string) bool {
	k := key{kind, name}
	_, ok := tx.s.rows[k]
	delete(tx.s.rows, k)
	return ok
}

// Names lists the names of one kind that start with prefix, sorted.
func (tx *Tx) Names(kind, prefix string) []string {
	var out []string
	for k := range tx.s.rows {
		if k.kind == kind && strings.HasPrefix(k.name, prefix) {
			out = append(out, k.name)
		}
	}
	sort.Strings(out)
	return out
}

// Get is a one-record transaction.
func (s *Store) Get(kind, name string) (m proto.Message, ok bool) {
	_ = s.Txn(func(tx *Tx) error {
		m, ok = tx.Get(kind, name)
		return nil
	})
	return m, ok
}
