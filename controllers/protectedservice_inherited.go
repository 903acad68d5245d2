package controllers

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
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
	if s.ps.Spec.InheritedAccess != iapv1alpha1.InheritedAccessDeny {
		return nil
	}
	if u := s.facts.inherited.unreadable; u != nil {
		// Deny promises that nobody else gets in: what cannot be read cannot be promised.
		return stall(iapv1alpha1.ReasonPermissionDenied, unreadableError(u, "inheritedAccess: Deny"))
	}
	if !s.facts.inherited.read {
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
	count := fmt.Sprintf("%d grants above the service let", len(grants))
	if len(grants) == 1 {
		count = "1 grant above the service lets"
	}
	return fmt.Sprintf("%s members through IAP whatever this object declares: %s%s. runguard never edits them; remove them where they are granted.",
		count, strings.Join(shown, ", "), more)
}

// readInheritedAccess reads the policies above the service that can grant IAP access — its
// region's IAP level, the project's IAP level, the project, its folders and organization — and
// the custom roles they grant, as the namespace's identity, at most once per resync period per
// project and region (and again after an audit entry reports a change above). It never stops
// the pass: a policy runguard may not read makes the InheritedAccess condition Unknown, naming
// the permission, and a transient failure leaves the last word standing.
func (r *ProtectedServiceReconciler) readInheritedAccess(ctx context.Context, s *scope) *outcome {
	project := s.facts.target.Project
	ask := inheritedAsk{location: s.facts.target.Location, identity: s.facts.identity}
	last, fresh, found := r.memory.inheritedFor(project, ask, s.facts.now, r.ResyncPeriod)
	if fresh {
		s.facts.inherited = last
		return nil
	}
	f, err := readAbove(ctx, s.google.Hierarchy(), s.facts.resolved)
	switch {
	case err != nil && gcp.Classify(err) == gcp.PermissionDenied:
		f = inheritedFact{unreadable: &missingPermission{permission: gcp.Permission(err), resource: gcp.Resource(err)}}
	case err != nil && found:
		// A failed read keeps the last one: what was granted above does not vanish with a 503.
		log.FromContext(ctx).V(1).Info("could not read the policies above the service; keeping the last reading", "error", err.Error())
		s.facts.inherited = last
		return nil
	case err != nil && (s.ps.Spec.InheritedAccess == iapv1alpha1.InheritedAccessDeny || len(s.ps.Spec.AccessTests) > 0):
		// Deny and access tests decide on what is granted above: never without having read it.
		return googleFailure(err)
	case err != nil:
		log.FromContext(ctx).V(1).Info("could not read the policies above the service", "error", err.Error())
		return nil
	}
	r.memory.inheritedRead(project, ask, s.facts.now, f)
	s.facts.inherited = f
	return nil
}

// readAbove reads every policy above svc, innermost first, and the custom roles they grant.
func readAbove(ctx context.Context, h gcp.Hierarchy, svc gcp.Service) (inheritedFact, error) {
	f := inheritedFact{read: true, customRoles: map[string][]string{}}
	add := func(kind reach.Kind, resource string, p *iampb.Policy) {
		for _, b := range p.GetBindings() {
			f.bindings = append(f.bindings, reach.Binding{Where: reach.Where{Kind: kind, Resource: resource}, Role: b.GetRole(),
				Members: b.GetMembers(), Condition: b.GetCondition().GetExpression(), Title: b.GetCondition().GetTitle()})
		}
	}
	for _, level := range []struct {
		kind     reach.Kind
		resource string
	}{{reach.IAPRegion, svc.IAPRegion()}, {reach.IAPProject, svc.IAPWeb()}} {
		p, err := h.IAPPolicy(ctx, level.resource)
		if err != nil {
			return f, err
		}
		add(level.kind, level.resource, p)
	}
	p, err := h.ProjectPolicy(ctx, svc.Number)
	if err != nil {
		return f, err
	}
	add(reach.Project, fmt.Sprintf("projects/%d", svc.Number), p)
	if err := readAncestors(ctx, h, svc.Number, add); err != nil {
		return f, err
	}
	return f, readCustomRoles(ctx, h, &f)
}

// readAncestors reads the policies of the project's folders and organization.
func readAncestors(ctx context.Context, h gcp.Hierarchy, number int64, add func(reach.Kind, string, *iampb.Policy)) error {
	ancestors, err := h.Ancestors(ctx, number)
	if err != nil {
		return err
	}
	for _, a := range ancestors {
		kind, read := reach.Folder, h.FolderPolicy
		if strings.HasPrefix(a, "organizations/") {
			kind, read = reach.Organization, h.OrganizationPolicy
		}
		p, err := read(ctx, a)
		if err != nil {
			return err
		}
		add(kind, a, p)
	}
	return nil
}

// readCustomRoles reads the permissions of the custom roles the bindings grant.
func readCustomRoles(ctx context.Context, h gcp.Hierarchy, f *inheritedFact) error {
	for _, b := range f.bindings {
		if _, read := f.customRoles[b.Role]; read || strings.HasPrefix(b.Role, "roles/") {
			continue
		}
		permissions, err := h.Role(ctx, b.Role)
		if err != nil {
			return err
		}
		f.customRoles[b.Role] = permissions
	}
	return nil
}

// unreadableError is the denial of a policy above the service, as the stall of what needed it.
func unreadableError(u *missingPermission, neededBy string) error {
	return &gcp.CallError{Op: "read, for " + neededBy + ", the policy of", Resource: u.resource, Permission: u.permission,
		Err: status.Error(codes.PermissionDenied, "runguard cannot tell whether anyone else may pass IAP")}
}
