package controllers

import (
	"context"
	"errors"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"k8s.io/apimachinery/pkg/types"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/tenancy"
)

// maxRejectedMembers bounds how many rejected members are left out one by one before falling
// back to writing only the removals.
const maxRejectedMembers = 5

// checkDeclaration checks what the access groups declare: members the namespace allows, and
// conditions that compile. A problem here needs a human, but it must not keep revoked access
// alive: the removals the spec asks for are still applied before the object stalls.
func (r *ProtectedServiceReconciler) checkDeclaration(ctx context.Context, s *scope) *outcome {
	if err := iampolicy.ValidateOwner(s.owner); err != nil {
		return stall(iapv1alpha1.ReasonInvalidCondition, err)
	}
	if bad := tenancy.DisallowedMembers(s.namespace.Annotations[iapv1alpha1.AnnotationAllowedMembers], s.ps.Spec.AccessGroups); len(bad) > 0 {
		s.facts.disallowed = bad
		return r.revokeThenStall(ctx, s, stall(iapv1alpha1.ReasonMemberNotAllowed, nil))
	}
	if err := iampolicy.ValidateGroups(accessGroups(s.ps, s.facts.levels)); err != nil {
		return r.revokeThenStall(ctx, s, stall(iapv1alpha1.ReasonInvalidCondition, err))
	}
	return nil
}

// revokeThenStall applies the removal-only plan, then ends the stage with problem.
func (r *ProtectedServiceReconciler) revokeThenStall(ctx context.Context, s *scope, problem *outcome) *outcome {
	desired := desiredAccess(s)
	plan, err := s.google.AccessPolicies().Update(ctx, s.facts.resolved, s.takeAccessPolicy(),
		ownAccessOnly(func(p *iampb.Policy) (iampolicy.Plan, error) { return iampolicy.PlanAccessRemovalOnly(p, desired) }))
	if o := s.lostClaim(err); o != nil {
		return o
	}
	if err != nil {
		return googleFailure(err)
	}
	if plan.Changed {
		s.wrote(googleWrite{kind: writeRevokeAccess, resource: s.facts.resolved.IAPResource(), added: plan.Added, removed: plan.Removed, because: problem.reason})
	}
	recordBindings(s, plan.Policy)
	s.facts.access.reason = problem.reason
	return problem
}

// ensureInvokerGrant lets IAP's service agent invoke the service: IAP calls it as that agent.
// Only while IAP is, or is to be, on: a service with IAP off gains a grant nobody uses (and an
// adopted one would never read as in sync), and a grant already there is left as it is.
func (r *ProtectedServiceReconciler) ensureInvokerGrant(ctx context.Context, s *scope) *outcome {
	if !s.ps.Spec.IAPEnabled() && !s.service.GetIapEnabled() {
		s.facts.invoker.reason = iapv1alpha1.ReasonNotNeeded
		return nil
	}
	agent := s.facts.resolved.IAPServiceAgent()
	plan, err := s.google.ServicePolicies().Update(ctx, s.facts.resolved, s.servicePolicy,
		func(p *iampb.Policy) (iampolicy.Plan, error) {
			return iampolicy.PlanGrant(p, iampolicy.InvokerRole, agent), nil
		})
	key := types.NamespacedName{Namespace: s.ps.Namespace, Name: s.ps.Name}
	if err != nil {
		if gcp.Classify(err) == gcp.Rejected && gcp.MentionsMember(err, agent) {
			return r.agentRejected(s, key, err)
		}
		return googleFailure(err)
	}
	r.memory.agentAccepted(key)
	s.servicePolicy = plan.Policy
	if plan.Changed {
		s.wrotePolicy(writeGrantInvoker, s.facts.resolved.Path(), plan)
	}
	s.facts.invoker.reason = iapv1alpha1.ReasonGranted
	return nil
}

// agentRetry is how often a just-created IAP service agent is retried, as gcloud does.
const agentRetry = 15 * time.Second

// agentRejected: IAM rejects the IAP service agent as not existing. For minutes after `gcloud
// beta services identity create` it does so for an agent that does exist, so the first
// IAPAgentPropagation of rejections are waited out before the object stalls.
func (r *ProtectedServiceReconciler) agentRejected(s *scope, key types.NamespacedName, err error) *outcome {
	s.facts.agentWindow = r.IAPAgentPropagation
	if waited := s.facts.now.Sub(r.memory.agentRejected(key, s.facts.now)); waited < r.IAPAgentPropagation {
		s.facts.invoker.reason = iapv1alpha1.ReasonIAPServiceAgentPropagating
		return wait(iapv1alpha1.ReasonIAPServiceAgentPropagating, min(agentRetry, r.IAPAgentPropagation-waited))
	}
	s.facts.invoker.reason = iapv1alpha1.ReasonIAPServiceAgentMissing
	return stall(iapv1alpha1.ReasonIAPServiceAgentMissing, err)
}

// bindAccess writes the declared access groups into the IAP resource's policy. A member Google
// rejects (deleted, misspelled, outside an allowed domain) is left out and the rest is bound, so
// one typo neither locks the others out nor keeps revoked access alive.
func (r *ProtectedServiceReconciler) bindAccess(ctx context.Context, s *scope) *outcome {
	desired := desiredAccess(s)
	for {
		plan, err := s.google.AccessPolicies().Update(ctx, s.facts.resolved, s.takeAccessPolicy(),
			ownAccessOnly(func(p *iampb.Policy) (iampolicy.Plan, error) { return iampolicy.PlanAccess(p, desired) }))
		if o := s.lostClaim(err); o != nil {
			return o
		}
		var tooLarge *iampolicy.PolicyTooLargeError
		switch {
		case errors.As(err, &tooLarge) && len(s.facts.grants.groups) > 0:
			// Grants never push the declared access out of IAM's limits: they are left unbound.
			s.facts.grants.refuse(tooLarge.Error())
			desired.Groups = withoutGrants(desired.Groups)
			continue
		case errors.As(err, &tooLarge):
			return r.revokeThenStall(ctx, s, stall(iapv1alpha1.ReasonPolicyTooLarge, tooLarge))
		case err != nil && gcp.Classify(err) == gcp.Rejected:
			member := rejectedMember(err, desired.Groups)
			s.facts.access.rejection = err
			if member == "" || len(s.facts.access.rejected) == maxRejectedMembers {
				return r.revokeThenStall(ctx, s, stall(iapv1alpha1.ReasonMemberRejected, err))
			}
			s.facts.access.rejected = append(s.facts.access.rejected, member)
			desired.Groups = withoutMember(desired.Groups, member)
			continue
		case err != nil:
			return googleFailure(err)
		}
		if plan.Changed {
			s.wrotePolicy(writeBindAccess, s.facts.resolved.IAPResource(), plan)
		}
		recordBindings(s, plan.Policy)
		s.facts.access.unrestricted = tupleMembers(plan.Unrestricted)
		if len(s.facts.access.rejected) > 0 {
			s.facts.access.reason = iapv1alpha1.ReasonMemberRejected
			return stall(iapv1alpha1.ReasonMemberRejected, s.facts.access.rejection)
		}
		s.facts.access.reason = iapv1alpha1.ReasonBound
		return nil
	}
}

// otherOwnerError says a policy read during a read-modify-write carries another runguard
// owner's markers: a concurrent writer won the race for the claim.
type otherOwnerError struct{ marker iampolicy.Marker }

func (e *otherOwnerError) Error() string {
	return "bindings marked by another runguard owner: " + e.marker.Owner.String()
}

// ownAccessOnly refuses to plan over a policy another runguard owner has marked, so the claim
// holds for every read of a read-modify-write (a write that lost a race re-reads), not only for
// the gate's.
func ownAccessOnly(plan gcp.Decision) gcp.Decision {
	return func(p *iampb.Policy) (iampolicy.Plan, error) {
		pl, err := plan(p)
		if err == nil && len(pl.Conflicts) > 0 {
			return iampolicy.Plan{}, &otherOwnerError{marker: pl.Conflicts[0]}
		}
		return pl, err
	}
}

// lostClaim turns an otherOwnerError into ServiceClaimed; the pass then writes nothing more.
func (s *scope) lostClaim(err error) *outcome {
	var other *otherOwnerError
	if !errors.As(err, &other) {
		return nil
	}
	s.facts.otherOwner = &other.marker
	return stall(iapv1alpha1.ReasonServiceClaimed, nil)
}

// takeAccessPolicy hands the policy the claim check read to the first read-modify-write of the
// pass; later ones read again.
func (s *scope) takeAccessPolicy() *iampb.Policy {
	p := s.accessPolicy
	s.accessPolicy = nil
	return p
}

func withoutMember(groups []iampolicy.AccessGroup, member string) []iampolicy.AccessGroup {
	out := make([]iampolicy.AccessGroup, 0, len(groups))
	for _, g := range groups {
		kept := g
		kept.Members = nil
		for _, m := range g.Members {
			if !iampolicy.SameMember(m, member) {
				kept.Members = append(kept.Members, m)
			}
		}
		if len(kept.Members) > 0 {
			out = append(out, kept)
		}
	}
	return out
}

func rejectedMember(err error, groups []iampolicy.AccessGroup) string {
	for _, g := range groups {
		for _, m := range g.Members {
			if gcp.MentionsMember(err, m) {
				return m
			}
		}
	}
	return ""
}

// recordBindings caches in status what runguard's markers in the policy say this object owns.
func recordBindings(s *scope, p *iampb.Policy) {
	var managed []iapv1alpha1.ManagedBinding
	members := 0
	for _, b := range p.GetBindings() {
		m, ok := iampolicy.ParseMarker(b.GetCondition())
		if !ok || m.Owner != s.owner {
			continue
		}
		managed = append(managed, iapv1alpha1.ManagedBinding{
			Group: m.Group, Role: b.GetRole(), ConditionTitle: b.GetCondition().GetTitle(),
			Members: append([]string(nil), b.GetMembers()...),
		})
		members += len(b.GetMembers())
	}
	s.ps.Status.ManagedBindings = managed
	s.ps.Status.MemberCount = int32(members)
	s.ps.Status.ActiveGrants = 0
	for _, b := range managed {
		if isGrantGroup(b.Group) {
			s.ps.Status.ActiveGrants++
		}
	}
	s.facts.access.members = members
}

// desiredAccess is what this object's IAP resource should hold: the declared groups and the
// active grants.
func desiredAccess(s *scope) iampolicy.Desired {
	d := declaredAccess(s)
	d.Groups = append(d.Groups, s.facts.grants.groups...)
	return d
}

// declaredAccess is what the spec alone declares; access tests judge it (grants are temporary,
// approved exceptions: docs/access-grants.md).
func declaredAccess(s *scope) iampolicy.Desired {
	return iampolicy.Desired{
		Owner: s.owner, Role: iampolicy.AccessorRole,
		Mode:   iampolicy.Mode(s.ps.Spec.BindingPolicy),
		Groups: accessGroups(s.ps, s.facts.levels),
	}
}

// accessGroups converts the API's groups into the policy core's plain values, with each access
// level as the full name it resolved to. A group whose level did not resolve is left out: it
// gets no access until it does.
func accessGroups(ps *iapv1alpha1.ProtectedService, levels levelsFact) []iampolicy.AccessGroup {
	out := make([]iampolicy.AccessGroup, 0, len(ps.Spec.AccessGroups))
	for _, g := range ps.Spec.AccessGroups {
		ag := iampolicy.AccessGroup{Name: g.Name}
		for _, m := range g.Members {
			ag.Members = append(ag.Members, string(m))
		}
		if c := g.Context; c != nil {
			var resolved bool
			if ag.Context, resolved = accessContext(c, levels); !resolved {
				continue
			}
		}
		out = append(out, ag)
	}
	return out
}

// accessContext converts one group's context; resolved is false when one of its levels did not
// resolve.
func accessContext(c *iapv1alpha1.AccessContext, levels levelsFact) (out iampolicy.Context, resolved bool) {
	for _, l := range c.AccessLevels {
		name, ok := levels.levelName(string(l))
		if !ok {
			return out, false
		}
		out.AccessLevels = append(out.AccessLevels, name)
	}
	for _, p := range c.PathPrefixes {
		out.PathPrefixes = append(out.PathPrefixes, string(p))
	}
	for _, h := range c.Hosts {
		out.Hosts = append(out.Hosts, string(h))
	}
	if c.NotBefore != nil {
		t := c.NotBefore.UTC()
		out.NotBefore = &t
	}
	if c.NotAfter != nil {
		t := c.NotAfter.UTC()
		out.NotAfter = &t
	}
	out.Expression = c.Expression
	return out, true
}

func tupleMembers(ts []iampolicy.Tuple) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range ts {
		if !seen[t.Member] {
			seen[t.Member] = true
			out = append(out, t.Member)
		}
	}
	return out
}
