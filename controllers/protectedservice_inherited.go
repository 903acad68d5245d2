package controllers

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/reach"
)

// maxInheritedShown bounds status.inheritedAccess; the condition gives the count.
const maxInheritedShown = 20

// inheritedFact is what the policies above the service grant, as last read.
type inheritedFact struct {
	// read: the policies above were read (this pass, or cached) and the fields below hold.
	read bool
	// bindings are every binding above the service (its IAP levels, project, folders,
	// organization), innermost first; customRoles the custom roles they grant, with their
	// permissions.
	bindings    []reach.Binding
	customRoles map[string][]string
	// unreadable is the first policy runguard may not read: then nothing is known for sure.
	unreadable *missingPermission
}

// grants are the inherited grants that let members through IAP: bindings of roles carrying
// the permission IAP checks, one per member.
func (f inheritedFact) grants() []iapv1alpha1.InheritedGrant {
	carries := reach.RoleCarrier(f.customRoles)
	var out []iapv1alpha1.InheritedGrant
	for _, b := range f.bindings {
		if !carries(b.Role) {
			continue
		}
		for _, m := range b.Members {
			out = append(out, iapv1alpha1.InheritedGrant{Member: m, Where: b.Where.Resource, Role: b.Role, Condition: reach.DescribeCondition(b.Condition)})
		}
	}
	return out
}

// denyInheritedAccess stalls an object whose spec says inheritedAccess: Deny while a grant above
// the service lets members in. It runs after the object's own policy converged: revocations
// declared still apply. runguard never edits the policies above.
func (r *ProtectedServiceReconciler) denyInheritedAccess(_ context.Context, s *scope) *outcome {
	if s.ps.Spec.InheritedAccess != iapv1alpha1.InheritedAccessDeny || !s.facts.inherited.read {
		return nil
	}
	if len(s.facts.inherited.grants()) > 0 {
		return stall(iapv1alpha1.ReasonInheritedAccessFound, nil)
	}
	return nil
}

// applyInheritedStatus sets status.inheritedAccess and the InheritedAccess condition from what
// the pass read; a pass that did not get as far leaves them.
func applyInheritedStatus(ps *iapv1alpha1.ProtectedService, f *facts) {
	in := f.inherited
	switch {
	case in.unreadable != nil:
		ps.Status.InheritedAccess = nil
		set(ps, iapv1alpha1.ConditionInheritedAccess, metav1.ConditionUnknown, iapv1alpha1.ReasonPermissionDenied,
			fmt.Sprintf("runguard may not read the policy of %s (%s), so it cannot tell who else may pass IAP to this service; grant it to know.",
				in.unreadable.resource, in.unreadable.permission))
	case !in.read:
		return
	default:
		grants := in.grants()
		ps.Status.InheritedAccess = grants[:min(len(grants), maxInheritedShown)]
		if len(grants) == 0 {
			set(ps, iapv1alpha1.ConditionInheritedAccess, metav1.ConditionFalse, iapv1alpha1.ReasonNoInheritedAccess,
				"No grant above the service (its IAP levels, project, folders, organization) lets anyone through IAP.")
			return
		}
		set(ps, iapv1alpha1.ConditionInheritedAccess, metav1.ConditionTrue, iapv1alpha1.ReasonInheritedAccessFound, inheritedMessage(grants))
	}
}

// inheritedMessage names the count and the first grants.
func inheritedMessage(grants []iapv1alpha1.InheritedGrant) string {
	shown := make([]string, 0, 3)
	for _, g := range grants[:min(len(grants), 3)] {
		shown = append(shown, fmt.Sprintf("%s (%s on %s)", g.Member, g.Role, g.Where))
	}
	more := ""
	if len(grants) > 3 {
		more = fmt.Sprintf(" and %d more (status.inheritedAccess)", len(grants)-3)
	}
	return fmt.Sprintf("%d grants above the service let members through IAP whatever this object declares: %s%s. runguard never edits them; remove them where they are granted.",
		len(grants), joinComma(shown), more)
}

func joinComma(items []string) string {
	out := ""
	for i, it := range items {
		if i > 0 {
			out += ", "
		}
		out += it
	}
	return out
}
