package iampolicy

import (
	"fmt"
	"sort"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
)

// IAM's per-policy limits, from the "Policies and bindings" rows of the IAM
// quotas and limits page (cloud.google.com/iam/quotas):
//
//	All members (including Google groups) in all bindings within a policy   1,500
//	Google groups in all bindings within a policy                              250
//	Role bindings in a policy that include the same role and the same
//	member, but different condition expressions                                 20
//
// IAM counts every occurrence of a principal: one appearing in 50 bindings
// counts 50 times. Deleted principals keep counting.
const (
	MaxPrincipals                 = 1500
	MaxGroupPrincipals            = 250
	MaxConditionsPerRoleAndMember = 20
)

// checkLimits verifies a policy about to be written against IAM's limits.
func checkLimits(p *iampb.Policy) error {
	principals, groups := 0, 0
	type roleMember struct{ role, key string }
	expressions := map[roleMember]map[string]bool{}
	for _, b := range p.GetBindings() {
		principals += len(b.Members)
		for _, m := range b.Members {
			k := memberKey(m)
			if strings.HasPrefix(k, "group:") {
				groups++
			}
			if b.GetCondition() == nil {
				continue
			}
			rm := roleMember{b.GetRole(), k}
			set := expressions[rm]
			if set == nil {
				set = map[string]bool{}
				expressions[rm] = set
			}
			set[b.GetCondition().GetExpression()] = true
		}
	}
	if principals > MaxPrincipals {
		return &PolicyTooLargeError{Reason: fmt.Sprintf(
			"%d principal entries across all bindings (each occurrence counts, other owners' included); IAM allows %d per policy",
			principals, MaxPrincipals)}
	}
	if groups > MaxGroupPrincipals {
		return &PolicyTooLargeError{Reason: fmt.Sprintf(
			"%d group: entries across all bindings (each occurrence counts, other owners' included); IAM allows %d per policy",
			groups, MaxGroupPrincipals)}
	}
	var over []string
	for rm, set := range expressions {
		if len(set) > MaxConditionsPerRoleAndMember {
			over = append(over, fmt.Sprintf("%s has %s under %d different conditions", rm.key, rm.role, len(set)))
		}
	}
	if len(over) > 0 {
		sort.Strings(over)
		return &PolicyTooLargeError{Reason: fmt.Sprintf(
			"%s; IAM allows %d conditional bindings of the same role for the same principal (put the member in fewer access groups)",
			over[0], MaxConditionsPerRoleAndMember)}
	}
	return nil
}
