// Package tenancy holds the namespace rules of runguard: which Cloud Run services a namespace's
// objects may target, which members they may grant, and which Google identity they act as. The
// rules read the namespace annotations declared in api/v1alpha1; the table they are held to,
// together with the admission policy, is tenancycases.
package tenancy

import (
	"regexp"
	"strings"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// Entry is one entry of the allowed-projects annotation: a project, optionally narrowed to a
// location (HasLocation), and to the services there a glob matches (HasGlob). An entry of more
// than three parts is Malformed and admits nothing.
type Entry struct {
	Project, Location, ServiceGlob  string
	HasLocation, HasGlob, Malformed bool
}

// AllowedEntries parses an allowed-projects annotation: comma-separated "project",
// "project/location" or "project/location/service-glob".
func AllowedEntries(annotation string) []Entry {
	var out []Entry
	for _, entry := range splitList(annotation) {
		var e Entry
		var rest string
		e.Project, rest, e.HasLocation = strings.Cut(entry, "/")
		e.Location, e.ServiceGlob, e.HasGlob = strings.Cut(rest, "/")
		e.Malformed = strings.Contains(e.ServiceGlob, "/")
		out = append(out, e)
	}
	return out
}

// ProjectAllowed decides whether a namespace's allowed-projects annotation admits the target.
func ProjectAllowed(annotation string, target iapv1alpha1.ServiceRef) bool {
	for _, e := range AllowedEntries(annotation) {
		switch {
		case e.Malformed, e.Project != target.Project:
		case !e.HasLocation:
			return true
		case e.Location != target.Location:
		case !e.HasGlob, globMatch(e.ServiceGlob, target.Name):
			return true
		}
	}
	return false
}

// DisallowedMembers lists the declared members no pattern of the allowed-members annotation
// admits. A pattern with a kind prefix ("group:*@acme.com", "principalSet://…/acme-pool/*") is
// matched against the whole member; one without ("*@acme.com") only against the email or domain
// of user:, group:, serviceAccount: and domain: members — never against principal:// identifiers,
// whose pool, not their subject's spelling, says who vouches for them. An empty annotation
// admits everyone.
func DisallowedMembers(annotation string, groups []iapv1alpha1.AccessGroup) []string {
	patterns := splitList(annotation)
	if len(patterns) == 0 {
		return nil
	}
	var out []string
	for _, g := range groups {
		for _, m := range g.Members {
			if !memberAllowed(patterns, string(m)) {
				out = append(out, string(m))
			}
		}
	}
	return out
}

func memberAllowed(patterns []string, member string) bool {
	kind, identity, _ := strings.Cut(member, ":")
	for _, p := range patterns {
		patternKind, _, kinded := strings.Cut(p, ":")
		switch {
		case kinded && emailKind(kind) && emailKind(patternKind):
			// IAM treats email addresses case-insensitively.
			if globMatch(strings.ToLower(p), strings.ToLower(member)) {
				return true
			}
		case kinded:
			// principal:// and principalSet:// identifiers are case-sensitive: group/ADMINS is
			// not group/admins.
			if globMatch(p, member) {
				return true
			}
		case emailKind(kind):
			if globMatch(strings.ToLower(p), strings.ToLower(identity)) {
				return true
			}
		}
	}
	return false
}

// emailKind reports whether a member kind names an email address or a domain.
func emailKind(kind string) bool {
	for _, k := range []string{"user", "group", "serviceAccount", "domain"} {
		if strings.EqualFold(kind, k) {
			return true
		}
	}
	return false
}

// splitList is the entries of a comma-separated annotation, trimmed, without empty ones.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// globMatch matches "*" against any run of characters (including "/" and "@") and nothing else
// specially, so admins can write the patterns the way they read.
func globMatch(pattern, s string) bool {
	quoted := strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*")
	re, err := regexp.Compile("^" + quoted + "$")
	if err != nil {
		return false
	}
	return re.MatchString(s)
}
