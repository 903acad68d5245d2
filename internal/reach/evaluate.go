package reach

import (
	"fmt"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
)

// Evaluate decides whether req gets through IAP to the service the bindings
// protect.
//
// bindings are every allow-policy binding that applies to the service: on
// its IAP resource and on everything above it (the Kind constants), in
// that order, innermost first; IAM's effective policy is their union.
// carries reports whether a role includes AccessPermission (see
// RoleCarrier). levels are the access level definitions by full name; a
// level a condition names but levels lacks is taken as not satisfied, and
// the answer's Assumptions say so, because IAP blocks access for a level
// that does not exist and runguard cannot tell that apart from a level not
// passed in.
//
// The request gets in when some binding of a carrying role names it (a
// member that covers it) and the binding's condition holds: ALLOW when
// one does for sure, DEPENDS when none does for sure but one might, DENY
// otherwise. IAM deny policies are not considered.
func Evaluate(bindings []Binding, carries func(role string) bool,
	levels map[string]*accesscontextmanagerpb.AccessLevel, req Request) Answer {
	e := newEvaluator(req, levels)
	var answer Answer
	var open, closest, withoutPermission *Binding
	for i := range bindings {
		b := bindings[i]
		member := judgeMembers(b.Members, req)
		if member.truth == isFalse {
			continue
		}
		if carries == nil || !carries(b.Role) {
			if withoutPermission == nil && member.truth == isTrue {
				withoutPermission = &b
			}
			continue
		}
		cond := e.condition(b)
		both := allOf([]judgement{member, cond})
		answer.Assumptions = appendNew(answer.Assumptions, both.assumed...)
		switch both.truth {
		case isTrue:
			return Answer{Verdict: Allow, Binding: &b, Assumptions: answer.Assumptions}
		case isUnknown:
			if open == nil {
				open = &b
			}
			answer.Depends = appendNew(answer.Depends, both.depends...)
		case isFalse:
			if closest == nil && member.truth == isTrue {
				closest, answer.Failed = &b, cond.failed
			}
		}
	}
	switch {
	case open != nil:
		answer.Verdict, answer.Binding, answer.Failed = Depends, open, ""
	case closest != nil:
		answer.Verdict, answer.Binding = Deny, closest
	default:
		answer.Verdict, answer.Failed = Deny, noGrant(req.Member, withoutPermission)
	}
	return answer
}

// judgeMembers: a binding covers the request when any of its members does.
func judgeMembers(members []string, req Request) judgement {
	parts := make([]judgement, 0, len(members))
	for _, m := range members {
		parts = append(parts, matchMember(m, req))
	}
	return anyOf(parts)
}

func noGrant(member string, withoutPermission *Binding) string {
	if member == "" {
		member = "the caller"
	}
	if withoutPermission != nil {
		return fmt.Sprintf("%s holds %s on %s %s, which does not include %s, and no role that does",
			member, withoutPermission.Role, withoutPermission.Where.Kind, withoutPermission.Where.Resource, AccessPermission)
	}
	return fmt.Sprintf("no binding of a role that includes %s covers %s", AccessPermission, member)
}
