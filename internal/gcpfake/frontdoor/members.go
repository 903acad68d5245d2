package frontdoor

import (
	"slices"
	"sort"
	"strings"
)

// covers reports whether a binding member covers the request's caller, as
// google/iam/v1/policy.proto (Binding.members) and IAM's principal identifiers page
// (https://cloud.google.com/iam/docs/principal-identifiers) describe each kind.
func covers(member string, req request) bool {
	caller := req.principal
	kind, rest, _ := strings.Cut(member, ":")
	switch {
	case member == "allUsers":
		// "anyone who is on the internet; with or without a Google account".
		return true
	case caller == "":
		return false
	case member == "allAuthenticatedUsers":
		// "anyone who is authenticated with a Google account or a service account"; the fake
		// counts federated identities (principal://) as authenticated too.
		return true
	case kind == "user" || kind == "serviceAccount":
		return strings.EqualFold(member, caller)
	case kind == "group":
		return slices.Contains(req.groups, strings.ToLower(member))
	case kind == "domain":
		// "all the users of that domain": user accounts whose address is in it.
		email, isUser := strings.CutPrefix(caller, "user:")
		_, domain, _ := strings.Cut(email, "@")
		return isUser && strings.EqualFold(domain, rest)
	case strings.HasPrefix(member, "principal://"):
		return member == caller
	case strings.HasPrefix(member, "principalSet://"):
		return inPrincipalSet(member, req)
	}
	// deleted:… and anything else covers nobody who can sign in.
	return false
}

// inPrincipalSet: a pool's "/*" set holds every identity of the pool; any other set (a group, an
// attribute value) holds the caller when the groups header lists it.
func inPrincipalSet(set string, req request) bool {
	if pool, ok := strings.CutSuffix(set, "/*"); ok {
		identity := strings.TrimPrefix(pool, "principalSet://")
		return strings.HasPrefix(req.principal, "principal://"+identity+"/subject/")
	}
	return slices.Contains(req.groups, set)
}

func coversAny(members []string, req request) (string, bool) {
	for _, m := range members {
		if covers(m, req) {
			return m, true
		}
	}
	return "", false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
