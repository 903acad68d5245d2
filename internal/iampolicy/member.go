package iampolicy

import (
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/proto"
)

// memberKey is the identity of a member for comparison. Email kinds
// (user:, group:, serviceAccount:) and domain: compare case-insensitively
// because IAM may return them re-cased (lower case) — Terraform compares
// them the same way. principal:// and principalSet:// identifiers, deleted:
// members and anything else compare exactly.
func memberKey(m string) string {
	if caseInsensitive(m) {
		return strings.ToLower(m)
	}
	return m
}

func caseInsensitive(m string) bool {
	kind, _, ok := strings.Cut(m, ":")
	if !ok {
		return false
	}
	return strings.EqualFold(kind, "user") || strings.EqualFold(kind, "group") ||
		strings.EqualFold(kind, "serviceAccount") || strings.EqualFold(kind, "domain")
}

// SameMember reports whether a and b name the same principal under the
// comparison rules of this package.
func SameMember(a, b string) bool { return memberKey(a) == memberKey(b) }

// HasMember reports whether any binding of role (conditional or not)
// contains member.
func HasMember(p *iampb.Policy, role, member string) bool {
	key := memberKey(member)
	for _, b := range p.GetBindings() {
		if b.GetRole() != role {
			continue
		}
		for _, m := range b.GetMembers() {
			if memberKey(m) == key {
				return true
			}
		}
	}
	return false
}

// GrantMember returns a copy of current in which member holds role
// unconditionally. If it already does (in any unconditional binding of
// role), the copy is unchanged and changed is false. Otherwise member is
// appended to the first unconditional binding of role, or a new binding is
// appended at the end.
func GrantMember(current *iampb.Policy, role, member string) (*iampb.Policy, bool) {
	p := clonePolicy(current)
	key := memberKey(member)
	var target *iampb.Binding
	for _, b := range p.Bindings {
		if b.GetRole() != role || b.GetCondition() != nil {
			continue
		}
		for _, m := range b.GetMembers() {
			if memberKey(m) == key {
				normalizeVersion(p, current.GetVersion())
				return p, false
			}
		}
		if target == nil {
			target = b
		}
	}
	if target != nil {
		target.Members = append(target.Members, member)
	} else {
		p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{member}})
	}
	normalizeVersion(p, current.GetVersion())
	return p, true
}

// RevokeMembers returns a copy of current with members removed from every
// binding of role, conditional or not, and the tuples it removed (members
// spelled as they were read). Bindings it empties are dropped; bindings
// that were already empty are left alone.
func RevokeMembers(current *iampb.Policy, role string, members ...string) (*iampb.Policy, []Tuple) {
	p := clonePolicy(current)
	keys := make(map[string]bool, len(members))
	for _, m := range members {
		keys[memberKey(m)] = true
	}
	var removed []Tuple
	out := p.Bindings[:0]
	for _, b := range p.Bindings {
		if b.GetRole() != role || len(b.Members) == 0 {
			out = append(out, b)
			continue
		}
		kept := b.Members[:0:0]
		for _, m := range b.Members {
			if keys[memberKey(m)] {
				removed = append(removed, Tuple{Role: role, Member: m, ConditionTitle: b.GetCondition().GetTitle()})
				continue
			}
			kept = append(kept, m)
		}
		if len(kept) == len(b.Members) {
			out = append(out, b)
			continue
		}
		if len(kept) > 0 {
			b.Members = kept
			out = append(out, b)
		}
	}
	p.Bindings = out
	normalizeVersion(p, current.GetVersion())
	return p, removed
}

// clonePolicy deep-copies p; a nil policy becomes an empty one.
func clonePolicy(p *iampb.Policy) *iampb.Policy {
	if p == nil {
		return &iampb.Policy{}
	}
	return proto.Clone(p).(*iampb.Policy)
}

// normalizeVersion applies IAM's rule: any operation that involves a
// conditional binding must use version 3; otherwise keep what was read
// (1 when unset).
func normalizeVersion(p *iampb.Policy, read int32) {
	for _, b := range p.Bindings {
		if b.GetCondition() != nil {
			p.Version = 3
			return
		}
	}
	if read == 0 {
		read = 1
	}
	p.Version = read
}
