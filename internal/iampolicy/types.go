package iampolicy

import (
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
)

const (
	// AccessorRole lets a principal through IAP ("IAP-secured Web App User").
	AccessorRole = "roles/iap.httpsResourceAccessor"
	// InvokerRole lets a principal (here: the IAP service agent) call a Cloud Run service.
	InvokerRole = "roles/run.invoker"
)

// Owner identifies the ProtectedService that owns a binding.
type Owner struct{ Cluster, Namespace, Name string }

// String returns "cluster/namespace/name".
func (o Owner) String() string { return o.Cluster + "/" + o.Namespace + "/" + o.Name }

// Context restricts when an access group's members pass IAP. Every
// non-empty field is one clause; the clauses are ANDed. Lists keep their
// declared order with later duplicates dropped, so the compiled expression
// is stable as long as the user does not reorder the list.
type Context struct {
	AccessLevels []string   // every one required: "accessPolicies/N/accessLevels/X" in request.auth.access_levels, ANDed
	PathPrefixes []string   // any one: request.path.startsWith("..."), ORed
	Hosts        []string   // any one: request.host == "...", ORed
	NotBefore    *time.Time // request.time >= timestamp("RFC3339 UTC")
	NotAfter     *time.Time // request.time < timestamp("...")
	Expression   string     // raw CEL, written in canonical form, parenthesized, ANDed
}

// AccessGroup is one named set of members sharing one context.
type AccessGroup struct {
	Name    string
	Members []string
	Context Context
}

// Mode says how much of Desired.Role runguard owns.
type Mode string

const (
	// Merge owns only the bindings marked with this owner.
	Merge Mode = "Merge"
	// Exclusive additionally removes every unmarked binding of Desired.Role.
	Exclusive Mode = "Exclusive"
)

// Desired is what one ProtectedService declares for one IAP resource.
type Desired struct {
	Owner  Owner
	Role   string // normally AccessorRole; empty means AccessorRole
	Mode   Mode   // empty means Merge
	Groups []AccessGroup
}

// Tuple is one (role, member, condition) grant; ConditionTitle is "" for unconditional.
type Tuple struct{ Role, Member, ConditionTitle string }

// Plan is the outcome of PlanAccess.
type Plan struct {
	// Policy is the policy to write: a fresh copy of current with the change
	// applied; it keeps current's etag; Version is 3 whenever any binding has
	// a condition, else current's version (1 if 0).
	Policy  *iampb.Policy
	Changed bool
	// Added and Removed list the grants in the order the plan made them.
	// Members are spelled as declared (Added) or as read (Removed).
	Added   []Tuple
	Removed []Tuple
	// Conflicts lists bindings of Desired.Role marked by ANOTHER owner, in
	// policy order without duplicates. They are reported in both modes and
	// never modified.
	Conflicts []Marker
	// Unrestricted lists unmarked, unconditional grants of Desired.Role to
	// declared members (Merge only; Exclusive removes them). IAM ignores a
	// condition for a principal that also holds the role unconditionally, so
	// for these members the group's context restricts nothing.
	Unrestricted []Tuple
}

// maxDiffEntries keeps Diff short enough for an event message or a log line.
const maxDiffEntries = 20

// Diff returns a short human-readable summary such as
// "+user:a@x.com (runguard:admins); -group:g@x.com (runguard:old)".
// Additions come first, then removals, each in plan order; past 20 entries
// the rest is summarised as "; … and N more". It is "" when nothing changed.
func (p Plan) Diff() string {
	if !p.Changed {
		return ""
	}
	var b strings.Builder
	n := 0
	write := func(sign string, t Tuple) {
		if n < maxDiffEntries {
			if n > 0 {
				b.WriteString("; ")
			}
			b.WriteString(sign)
			b.WriteString(t.Member)
			b.WriteString(" (")
			if t.Role != AccessorRole {
				b.WriteString(t.Role)
				b.WriteString(", ")
			}
			if t.ConditionTitle == "" {
				b.WriteString("unconditional")
			} else {
				b.WriteString(t.ConditionTitle)
			}
			b.WriteString(")")
		}
		n++
	}
	for _, t := range p.Added {
		write("+", t)
	}
	for _, t := range p.Removed {
		write("-", t)
	}
	if n > maxDiffEntries {
		fmt.Fprintf(&b, "; … and %d more", n-maxDiffEntries)
	}
	return b.String()
}

// InvalidConditionError says an access group cannot be compiled into a
// condition IAM would accept. It is a user error: retrying will not help.
type InvalidConditionError struct {
	Group  string
	Reason string
}

func (e *InvalidConditionError) Error() string {
	return fmt.Sprintf("access group %q: %s", e.Group, e.Reason)
}

// PolicyTooLargeError says the policy after the change would break one of
// IAM's per-policy limits. Foreign bindings count too.
type PolicyTooLargeError struct {
	Reason string
}

func (e *PolicyTooLargeError) Error() string {
	return "IAM policy would be too large: " + e.Reason
}
