package iampolicy

import "cloud.google.com/go/iam/apiv1/iampb"

// PlanGrant is GrantMember as a Plan, so every policy change goes through one read-modify-write.
func PlanGrant(current *iampb.Policy, role, member string) Plan {
	p, changed := GrantMember(current, role, member)
	pl := Plan{Policy: p, Changed: changed}
	if changed {
		pl.Added = []Tuple{{Role: role, Member: member}}
	}
	return pl
}

// PlanRevoke is RevokeMembers as a Plan.
func PlanRevoke(current *iampb.Policy, role string, members ...string) Plan {
	p, removed := RevokeMembers(current, role, members...)
	return Plan{Policy: p, Changed: len(removed) > 0, Removed: removed}
}

// OtherOwners lists, in policy order without duplicates, the owners other than owner whose
// markers are on bindings of role: while any is there, owner does not hold the claim on the
// resource and must write nothing to it.
func OtherOwners(p *iampb.Policy, role string, owner Owner) []Marker {
	var out []Marker
	seen := map[Owner]bool{}
	for _, b := range p.GetBindings() {
		if b.GetRole() != role {
			continue
		}
		if m, ok := ParseMarker(b.GetCondition()); ok && m.Owner != owner && !seen[m.Owner] {
			seen[m.Owner] = true
			out = append(out, m)
		}
	}
	return out
}
