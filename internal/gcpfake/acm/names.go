package acm

import (
	"regexp"
	"strings"
)

var (
	// policyRE: Google names access policies by number (accessPolicies/{number}).
	policyRE = regexp.MustCompile(`^accessPolicies/[0-9]+$`)
	// organizationRE: organizations/{organization number}, an access policy's parent.
	organizationRE = regexp.MustCompile(`^organizations/[0-9]+$`)
	// scopeRE: a scoped policy's one scope, projects/{number} or folders/{number}
	// (AccessPolicy.scopes).
	scopeRE = regexp.MustCompile(`^(projects|folders)/[0-9]+$`)
	// shortNameRE: "The short_name component must begin with a letter and only include
	// alphanumeric and '_' … The maximum length of the access_level component is 50
	// characters" (AccessLevel.name).
	shortNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,49}$`)
)

// ValidPolicyName accepts accessPolicies/{number}.
func ValidPolicyName(name string) bool { return policyRE.MatchString(name) }

// ValidOrganization accepts organizations/{number}.
func ValidOrganization(name string) bool { return organizationRE.MatchString(name) }

// Level is a parsed accessPolicies/{policy}/accessLevels/{short name}.
type Level struct{ Policy, Short string }

// String is the level's full name.
func (l Level) String() string { return l.Policy + "/accessLevels/" + l.Short }

// ParseLevel splits a level's name by its shape; ValidShortName is the rule for the short name.
func ParseLevel(name string) (Level, bool) {
	policy, short, ok := strings.Cut(name, "/accessLevels/")
	if !ok || !ValidPolicyName(policy) || short == "" || strings.Contains(short, "/") {
		return Level{}, false
	}
	return Level{Policy: policy, Short: short}, true
}

// ValidShortName applies AccessLevel.name's rule for the short name.
func ValidShortName(short string) bool { return shortNameRE.MatchString(short) }

// operationPrefix starts the name of every Access Context Manager operation. A level's change is
// operations/{level's full name}/{create|update|delete}/{id}, as recorded against Google
// (Config Connector's mockgcp/mockaccesscontextmanager/testdata/levels/crud/_http.log).
const operationPrefix = "operations/"

// IsOperation reports whether an operation name is Access Context Manager's (Cloud Run's are
// projects/{p}/locations/{l}/operations/{id}).
func IsOperation(name string) bool {
	return strings.HasPrefix(name, operationPrefix) || name == "operations"
}

// operationName names the operation of a change of level.
func operationName(level, verb, id string) string {
	return operationPrefix + level + "/" + verb + "/" + id
}

// PolicyOf is the access policy an Access Context Manager resource name belongs to — the policy
// itself, one of its levels, or an operation on either — or "".
func PolicyOf(name string) string {
	name = strings.TrimPrefix(name, operationPrefix)
	parts := strings.SplitN(name, "/", 3)
	if len(parts) < 2 || !ValidPolicyName(parts[0]+"/"+parts[1]) {
		return ""
	}
	return parts[0] + "/" + parts[1]
}
