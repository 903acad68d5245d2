package reach

import (
	"strings"

	"github.com/runguard/runguard/internal/iampolicy"
)

// matchMember says whether binding member m covers the request's member,
// by the meanings the IAM Binding reference gives each identifier
// (google/iam/v1/policy.proto, Binding.members).
func matchMember(m string, req Request) judgement {
	who := req.Member
	switch {
	case m == "allUsers":
		// "anyone who is on the internet; with or without a Google account".
		return certain(true, "")
	case m == "allAuthenticatedUsers":
		return matchAuthenticated(who)
	case hasKind(m, "user"), hasKind(m, "serviceAccount"):
		return certain(who != "" && iampolicy.SameMember(m, who), "")
	case hasKind(m, "group"):
		return matchSet(m, req, strings.EqualFold)
	case hasKind(m, "domain"):
		// "The G Suite domain (primary) that represents all the users of
		// that domain": users whose address is in it. A user of a
		// secondary domain of the same account is not matched.
		domain := m[len("domain:"):]
		email, ok := strings.CutPrefix(strings.ToLower(who), "user:")
		at := strings.LastIndexByte(email, '@')
		return certain(ok && at >= 0 && strings.EqualFold(email[at+1:], domain), "")
	case strings.HasPrefix(m, "principal://"):
		return certain(m == who, "")
	case strings.HasPrefix(m, "principalSet://"):
		if pool, ok := strings.CutSuffix(m, "/*"); ok && strings.HasPrefix(who, "principal://") &&
			strings.HasPrefix(who, "principal://"+strings.TrimPrefix(pool, "principalSet://")+"/") {
			// "All identities in a pool": a single identity of that pool.
			return certain(true, "")
		}
		return matchSet(m, req, func(a, b string) bool { return a == b })
	}
	// deleted:… members and anything unknown name nobody who can sign in.
	return certain(false, "")
}

// matchAuthenticated: "anyone who is authenticated with a Google account or
// a service account". Whether a federated identity (principal://) counts is
// not documented there, so it stays open.
func matchAuthenticated(who string) judgement {
	switch {
	case hasKind(who, "user"), hasKind(who, "serviceAccount"):
		return certain(true, "")
	case strings.HasPrefix(who, "principal://"):
		return undecided(who + " counts as allAuthenticatedUsers")
	}
	return certain(false, "")
}

// matchSet decides membership of a group or principal set from what the
// request says about the member's groups.
func matchSet(set string, req Request, same func(a, b string) bool) judgement {
	if req.Member == "" {
		return certain(false, "")
	}
	for _, g := range req.Groups {
		if same(g, set) {
			return certain(true, "")
		}
	}
	if req.GroupsKnown {
		return certain(false, "")
	}
	return undecided(req.Member + " is in " + set)
}

// hasKind reports whether member is "kind:…", the kind compared without
// regard to case as IAM returns it re-cased.
func hasKind(member, kind string) bool {
	k, _, ok := strings.Cut(member, ":")
	return ok && strings.EqualFold(k, kind)
}
