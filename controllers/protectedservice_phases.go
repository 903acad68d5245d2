package controllers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
)

var publicMembers = []string{"allUsers", "allAuthenticatedUsers"}

// checkTenancy enforces the namespace's allowed-projects annotation before any Google API is called.
func (r *ProtectedServiceReconciler) checkTenancy(ctx context.Context, s *scope) error {
	ns, err := r.namespace(ctx, s.ps.Namespace)
	if err != nil {
		return err
	}
	s.namespace = ns
	target := s.ps.Spec.Service
	if allowed := ns.Annotations[AnnotationAllowedProjects]; !r.AllowAnyProject && !projectAllowed(allowed, target) {
		return stalled(iapv1alpha1.ReasonProjectNotAllowed,
			"Namespace %s may not target Cloud Run service %s: %s. Ask a cluster admin to add %q (or %q) to the %s annotation of namespace %s.",
			ns.Name, target, describeAllowed(allowed), target.Project+"/"+target.Location+"/"+target.Name, target.Project,
			AnnotationAllowedProjects, ns.Name)
	}
	return nil
}

// checkClaim lets only one object manage a Cloud Run service. Objects whose namespace may not
// target the service do not count, so a tenant cannot squat on another team's service.
func (r *ProtectedServiceReconciler) checkClaim(ctx context.Context, s *scope) error {
	var list iapv1alpha1.ProtectedServiceList
	if err := r.Client.List(ctx, &list, client.MatchingFields{serviceIndex: s.ps.Spec.Service.String()}); err != nil {
		return fmt.Errorf("list ProtectedServices targeting %s: %w", s.ps.Spec.Service, err)
	}
	candidates := list.Items[:0]
	for _, item := range list.Items {
		if item.UID == s.ps.UID || r.AllowAnyProject {
			candidates = append(candidates, item)
			continue
		}
		ns, err := r.namespace(ctx, item.Namespace)
		if err != nil {
			return err
		}
		if projectAllowed(ns.Annotations[AnnotationAllowedProjects], item.Spec.Service) {
			candidates = append(candidates, item)
		}
	}
	holder := claimHolder(candidates)
	if holder != nil && holder.UID != s.ps.UID {
		return stalled(iapv1alpha1.ReasonServiceClaimed,
			"Cloud Run service %s is already managed by ProtectedService %s/%s; only one ProtectedService may manage a service. Merge the access groups into that object, or delete it first.",
			s.ps.Spec.Service, holder.Namespace, holder.Name)
	}
	return nil
}

// checkDeclaration checks what the access groups declare: members the namespace allows, and
// conditions that compile. A problem here needs a human, but it must not keep revoked access
// alive: the removals the spec asks for are still applied before the object stalls.
func (r *ProtectedServiceReconciler) checkDeclaration(ctx context.Context, s *scope) error {
	if err := iampolicy.ValidateOwner(s.owner); err != nil {
		return stalled(iapv1alpha1.ReasonInvalidCondition, "Cannot mark bindings for this object: %v.", err)
	}
	ns := s.namespace
	var problem *stalledError
	if bad := disallowedMembers(ns.Annotations[AnnotationAllowedMembers], s.ps.Spec.AccessGroups); len(bad) > 0 {
		problem = stalled(iapv1alpha1.ReasonMemberNotAllowed,
			"Namespace %s may grant only members matching %q (annotation %s); not allowed: %s. Remove them from the access groups or ask a cluster admin to widen the annotation. Only removals were applied.",
			ns.Name, ns.Annotations[AnnotationAllowedMembers], AnnotationAllowedMembers, listSome(bad))
	} else if err := iampolicy.ValidateGroups(accessGroups(s.ps)); err != nil {
		problem = stalled(iapv1alpha1.ReasonInvalidCondition, "%v. Fix the access group's context; only removals were applied.", err)
	}
	if problem == nil {
		return nil
	}
	return r.revokeThenStall(ctx, s, problem)
}

// revokeThenStall applies the removal-only plan, then stalls with problem.
func (r *ProtectedServiceReconciler) revokeThenStall(ctx context.Context, s *scope, problem *stalledError) error {
	plan, err := r.applyRemovals(ctx, s.iapResource, s.desiredAccess())
	if err != nil {
		return r.googleFailure(err, s.ps.Spec.Service.Project)
	}
	if plan.Changed {
		r.wrote(s, "access bindings", "RevokeAccess", "Applied only the removals on %s while the object is stalled (%s): %s", s.iapResource, problem.reason, plan.Diff())
	}
	r.recordBindings(s, plan.Policy)
	return problem
}

// resolveService finds the project number and reads the service.
func (r *ProtectedServiceReconciler) resolveService(ctx context.Context, s *scope) error {
	target := s.ps.Spec.Service
	number, err := r.Google.ProjectNumber(ctx, target.Project)
	if err != nil {
		if gcp.Classify(err) == gcp.PermissionDenied {
			return stalled(iapv1alpha1.ReasonPermissionDenied,
				"Project %s does not exist, or runguard's identity lacks resourcemanager.projects.get on it: check spec.service.project and grant the role in docs/install.md.", target.Project)
		}
		return r.googleFailure(err, target.Project)
	}
	s.projectNumber = number
	s.iapResource = gcp.IAPResource(number, target.Location, target.Name)
	s.ps.Status.ProjectNumber = strconv.FormatInt(number, 10)
	s.ps.Status.IAPResource = s.iapResource

	svc, err := r.Google.GetService(ctx, target.FullName())
	if err != nil {
		if gcp.Classify(err) == gcp.NotFound {
			for _, t := range []string{iapv1alpha1.ConditionInvokerGranted, iapv1alpha1.ConditionAccessBound, iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ConditionPublicAccessRevoked} {
				s.set(t, metav1.ConditionUnknown, iapv1alpha1.ReasonServiceNotFound, "The Cloud Run service does not exist.")
			}
			return &waitingError{reason: iapv1alpha1.ReasonServiceNotFound,
				message: fmt.Sprintf("Cloud Run service %s does not exist (yet); runguard keeps checking and protects it once it is deployed.", target.FullName())}
		}
		return r.googleFailure(err, target.Project)
	}
	s.service = svc
	s.ps.Status.ServiceURI = svc.GetUri()
	return nil
}

// ensureInvokerGrant lets IAP's service agent invoke the service: IAP calls it as that agent.
func (r *ProtectedServiceReconciler) ensureInvokerGrant(ctx context.Context, s *scope) error {
	agent := gcp.IAPServiceAgent(s.projectNumber)
	name := s.service.GetName()
	policy, changed, err := r.updatePolicy(ctx,
		func() (*iampb.Policy, error) { return r.Google.GetServicePolicy(ctx, name) },
		func(p *iampb.Policy) (*iampb.Policy, error) { return r.Google.SetServicePolicy(ctx, name, p) },
		func(p *iampb.Policy) (*iampb.Policy, bool, error) {
			next, changed := iampolicy.GrantMember(p, iampolicy.InvokerRole, agent)
			return next, changed, nil
		})
	if err != nil {
		if gcp.Classify(err) == gcp.Rejected && gcp.MentionsMember(err, agent) {
			return stalled(iapv1alpha1.ReasonIAPServiceAgentMissing,
				"IAP's service agent %s does not exist yet, so it cannot be allowed to invoke %s. Create it: gcloud beta services identity create --service=iap.googleapis.com --project=%s",
				strings.TrimPrefix(agent, "serviceAccount:"), name, s.ps.Spec.Service.Project)
		}
		return r.googleFailure(err, s.ps.Spec.Service.Project)
	}
	s.servicePolicy = policy
	if changed {
		r.wrote(s, "invoker grant", "GrantInvoker", "Granted roles/run.invoker on %s to IAP's service agent %s.", name, agent)
	}
	s.set(iapv1alpha1.ConditionInvokerGranted, metav1.ConditionTrue, iapv1alpha1.ReasonGranted,
		fmt.Sprintf("IAP's service agent %s may invoke the service.", strings.TrimPrefix(agent, "serviceAccount:")))
	return nil
}

// bindAccess writes the declared access groups into the IAP resource's policy.
func (r *ProtectedServiceReconciler) bindAccess(ctx context.Context, s *scope) error {
	desired := s.desiredAccess()
	resource := s.iapResource
	// A member Google rejects (deleted, misspelled, outside an allowed domain) is left out and the
	// rest is bound, so one typo neither locks the others out nor keeps revoked access alive.
	var rejected []string
	var rejection error
	for {
		plan, err := r.planAndWriteAccess(ctx, resource, desired)
		var conflict *stalledError
		var tooLarge *iampolicy.PolicyTooLargeError
		switch {
		case errors.As(err, &conflict):
			return r.revokeThenStall(ctx, s, conflict)
		case errors.As(err, &tooLarge):
			return r.revokeThenStall(ctx, s, stalled(iapv1alpha1.ReasonPolicyTooLarge,
				"%v on %s. Reduce the members declared (or those other tools grant on this resource); use group: members instead of many user: members. Only removals were applied.", tooLarge, resource))
		case err != nil && gcp.Classify(err) == gcp.Rejected:
			member := rejectedMember(err, desired.Groups)
			if member == "" || len(rejected) == maxRejectedMembers {
				return r.revokeDespiteRejection(ctx, s, desired, err)
			}
			rejected, rejection = append(rejected, member), err
			desired.Groups = withoutMember(desired.Groups, member)
			continue
		case err != nil:
			return r.googleFailure(err, s.ps.Spec.Service.Project)
		}
		if plan.Changed {
			r.wrote(s, "access bindings", "BindAccess", "Updated IAP access on %s: %s", resource, plan.Diff())
		}
		r.recordBindings(s, plan.Policy)
		if len(plan.Unrestricted) > 0 {
			r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, "UnconditionalGrant", "BindAccess",
				"%s also hold %s without a condition on %s (granted outside runguard), so their group's context does not restrict them.",
				tupleMembers(plan.Unrestricted), iampolicy.AccessorRole, resource)
		}
		if len(rejected) > 0 {
			msg := fmt.Sprintf("Google rejected %s on %s: %s. Everyone else is bound and removals were applied; fix or remove the rejected member.",
				strings.Join(rejected, ", "), resource, strings.TrimSuffix(gcp.Message(rejection), "."))
			s.set(iapv1alpha1.ConditionAccessBound, metav1.ConditionFalse, iapv1alpha1.ReasonMemberRejected, msg)
			s.rejected = stalled(iapv1alpha1.ReasonMemberRejected, "%s", msg)
			return nil
		}
		msg := fmt.Sprintf("%d access groups are bound on %s with role %s.", len(s.ps.Spec.AccessGroups), resource, iampolicy.AccessorRole)
		if len(plan.Unrestricted) > 0 {
			msg += fmt.Sprintf(" Note: %s also hold the role unconditionally (granted outside runguard); their context does not restrict them.", tupleMembers(plan.Unrestricted))
		}
		s.set(iapv1alpha1.ConditionAccessBound, metav1.ConditionTrue, iapv1alpha1.ReasonBound, msg)
		return nil
	}
}

// maxRejectedMembers bounds how many rejected members are left out one by one before falling
// back to writing only the removals.
const maxRejectedMembers = 5

// planAndWriteAccess is one read-modify-write of the access policy with the full plan.
func (r *ProtectedServiceReconciler) planAndWriteAccess(ctx context.Context, resource string, desired iampolicy.Desired) (iampolicy.Plan, error) {
	var plan iampolicy.Plan
	_, _, err := r.updatePolicy(ctx,
		func() (*iampb.Policy, error) { return r.Google.GetIAPPolicy(ctx, resource) },
		func(p *iampb.Policy) (*iampb.Policy, error) { return r.Google.SetIAPPolicy(ctx, resource, p) },
		func(p *iampb.Policy) (*iampb.Policy, bool, error) {
			var err error
			if plan, err = iampolicy.PlanAccess(p, desired); err != nil {
				return nil, false, err
			}
			if len(plan.Conflicts) > 0 {
				other := plan.Conflicts[0]
				return nil, false, stalled(iapv1alpha1.ReasonServiceClaimed,
					"The IAP access policy of %s holds bindings marked by another runguard owner (cluster %s, ProtectedService %s/%s, group %s); only one ProtectedService may manage a service. If that owner no longer exists, remove its bindings (condition titles starting with %q) from the policy.",
					resource, other.Owner.Cluster, other.Owner.Namespace, other.Owner.Name, other.Group, iampolicy.TitlePrefix)
			}
			return plan.Policy, plan.Changed, nil
		})
	return plan, err
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

// revokeDespiteRejection applies the removals when Google rejects the additions (a deleted user,
// a domain-restricted-sharing policy): a typo in one member must never keep revoked access alive.
func (r *ProtectedServiceReconciler) revokeDespiteRejection(ctx context.Context, s *scope, desired iampolicy.Desired, rejection error) error {
	resource := s.iapResource
	plan, err := r.applyRemovals(ctx, resource, desired)
	if err != nil {
		return r.googleFailure(err, s.ps.Spec.Service.Project)
	}
	if plan.Changed {
		r.wrote(s, "access bindings", "RevokeAccess", "Google rejected the additions; applied only the removals on %s: %s", resource, plan.Diff())
	}
	r.recordBindings(s, plan.Policy)
	member := rejectedMember(rejection, desired.Groups)
	msg := fmt.Sprintf("Google rejected the access policy for %s: %s. Removals were applied; additions wait until the member is fixed (a deleted or misspelled principal, or an organization policy restricting domains).",
		resource, gcp.Message(rejection))
	if member != "" {
		msg = fmt.Sprintf("Google rejected member %s on %s: %s. Removals were applied; fix or remove that member to apply the additions.",
			member, resource, strings.TrimSuffix(gcp.Message(rejection), "."))
	}
	s.set(iapv1alpha1.ConditionAccessBound, metav1.ConditionFalse, iapv1alpha1.ReasonMemberRejected, msg)
	s.rejected = stalled(iapv1alpha1.ReasonMemberRejected, "%s", msg)
	return nil
}

// applyRemovals writes only the removals of the plan for desired on an IAP resource.
func (r *ProtectedServiceReconciler) applyRemovals(ctx context.Context, resource string, desired iampolicy.Desired) (iampolicy.Plan, error) {
	var plan iampolicy.Plan
	_, _, err := r.updatePolicy(ctx,
		func() (*iampb.Policy, error) { return r.Google.GetIAPPolicy(ctx, resource) },
		func(p *iampb.Policy) (*iampb.Policy, error) { return r.Google.SetIAPPolicy(ctx, resource, p) },
		func(p *iampb.Policy) (*iampb.Policy, bool, error) {
			var err error
			plan, err = iampolicy.PlanAccessRemovalOnly(p, desired)
			return plan.Policy, plan.Changed, err
		})
	return plan, err
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

// enableIAP switches IAP on with an update that names only iap_enabled, and does not block on the
// rollout: the next pass re-reads the service.
func (r *ProtectedServiceReconciler) enableIAP(ctx context.Context, s *scope) error {
	svc := s.service
	if !svc.GetIapEnabled() {
		if err := r.Google.SetIAPEnabled(ctx, svc, true); err != nil {
			return r.googleFailure(err, s.ps.Spec.Service.Project)
		}
		s.serviceStale = true
		r.wrote(s, "iap_enabled", "EnableIAP", "Switching IAP on for Cloud Run service %s.", svc.GetName())
		s.awaitRollout(fmt.Sprintf("Switching IAP on for %s; waiting for the rollout.", svc.GetName()))
		return nil
	}
	if rollingOut(svc) && !isReason(s.ps, iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ReasonEnabled) {
		s.awaitRollout(fmt.Sprintf("IAP is switched on; waiting for the rollout of %s to finish.", svc.GetName()))
		return nil
	}
	s.set(iapv1alpha1.ConditionIAPEnabled, metav1.ConditionTrue, iapv1alpha1.ReasonEnabled, "IAP is on."+terminalNote(svc))
	return nil
}

// disableIAP switches IAP off, refusing when that would leave the service public without the
// namespace's explicit consent.
func (r *ProtectedServiceReconciler) disableIAP(ctx context.Context, s *scope) error {
	svc, err := r.freshService(ctx, s)
	if err != nil {
		return err
	}
	if svc.GetIapEnabled() {
		// IAM changes take minutes to apply everywhere; switching IAP off right after revoking
		// allUsers would leave the service public while the old grant is still honoured.
		if t := s.ps.Status.PublicAccessRevokedTime; t != nil && time.Since(t.Time) < r.IAMPropagationDelay {
			remaining := r.IAMPropagationDelay - time.Since(t.Time)
			s.set(iapv1alpha1.ConditionIAPEnabled, metav1.ConditionTrue, iapv1alpha1.ReasonRevocationPropagating,
				fmt.Sprintf("IAP stays on until the revocation of public access has propagated (%s more).", remaining.Round(time.Second)))
			s.wait(iapv1alpha1.ReasonRevocationPropagating, fmt.Sprintf("Waiting %s for the revocation of public access on %s to propagate before switching IAP off.", remaining.Round(time.Second), svc.GetName()), remaining)
			return nil
		}
		public, why, err := r.publiclyInvocable(ctx, svc, s.ps.Spec.Service.Project)
		if err != nil {
			return err
		}
		if public {
			ns := s.namespace
			if ns.Annotations[AnnotationAllowPublic] != "true" {
				return stalled(iapv1alpha1.ReasonWouldExposeService,
					"Switching IAP off would leave Cloud Run service %s publicly invocable (%s). Set publicAccess: Deny, or ask a cluster admin to annotate namespace %s with %s: \"true\".",
					svc.GetName(), why, ns.Name, AnnotationAllowPublic)
			}
		}
		if err := r.Google.SetIAPEnabled(ctx, svc, false); err != nil {
			return r.googleFailure(err, s.ps.Spec.Service.Project)
		}
		s.serviceStale = true
		r.wrote(s, "iap_enabled", "DisableIAP", "Switching IAP off for Cloud Run service %s, as declared.", svc.GetName())
		s.awaitRollout(fmt.Sprintf("Switching IAP off for %s; waiting for the rollout.", svc.GetName()))
		return nil
	}
	if rollingOut(svc) && !isReason(s.ps, iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ReasonDisabled) {
		s.awaitRollout(fmt.Sprintf("IAP is switched off; waiting for the rollout of %s to finish.", svc.GetName()))
		return nil
	}
	s.set(iapv1alpha1.ConditionIAPEnabled, metav1.ConditionFalse, iapv1alpha1.ReasonDisabled, "IAP is off, as declared."+terminalNote(svc))
	return nil
}

// revokePublicAccess removes allUsers and allAuthenticatedUsers from roles/run.invoker and turns
// the invoker IAM check back on, when publicAccess is Deny.
func (r *ProtectedServiceReconciler) revokePublicAccess(ctx context.Context, s *scope) error {
	if s.ps.Spec.PublicAccess == iapv1alpha1.PublicAccessAllow {
		s.set(iapv1alpha1.ConditionPublicAccessRevoked, metav1.ConditionFalse, iapv1alpha1.ReasonPublicAccessAllowed,
			"publicAccess is Allow: public roles/run.invoker grants and invoker_iam_disabled are left as they are.")
		return nil
	}
	name := s.service.GetName()
	var removed []iampolicy.Tuple
	_, changed, err := r.updatePolicy(ctx,
		// The invoker phase's policy saves a read on the first attempt; a conflict re-reads.
		func() (*iampb.Policy, error) {
			if p := s.servicePolicy; p != nil {
				s.servicePolicy = nil
				return p, nil
			}
			return r.Google.GetServicePolicy(ctx, name)
		},
		func(p *iampb.Policy) (*iampb.Policy, error) { return r.Google.SetServicePolicy(ctx, name, p) },
		func(p *iampb.Policy) (*iampb.Policy, bool, error) {
			var next *iampb.Policy
			next, removed = iampolicy.RevokeMembers(p, iampolicy.InvokerRole, publicMembers...)
			return next, len(removed) > 0, nil
		})
	if err != nil {
		return r.googleFailure(err, s.ps.Spec.Service.Project)
	}
	if changed {
		s.publicAccessRevoked()
		r.wrote(s, "public invoker grant", "RevokePublicAccess", "Revoked public access to %s: removed %s from roles/run.invoker.", name, tupleMembers(removed))
	}
	svc, err := r.freshService(ctx, s)
	if err != nil {
		return err
	}
	if svc.GetInvokerIamDisabled() {
		if err := r.Google.EnableInvokerIAMCheck(ctx, svc); err != nil {
			return r.googleFailure(err, s.ps.Spec.Service.Project)
		}
		s.serviceStale = true
		s.publicAccessRevoked()
		r.wrote(s, "invoker_iam_disabled", "EnableInvokerIAMCheck", "Turned the invoker IAM check back on for %s (invoker_iam_disabled was true).", name)
	}
	s.set(iapv1alpha1.ConditionPublicAccessRevoked, metav1.ConditionTrue, iapv1alpha1.ReasonRevoked,
		"allUsers and allAuthenticatedUsers may not invoke the service, and the invoker IAM check is on.")
	return nil
}

func (r *ProtectedServiceReconciler) publiclyInvocable(ctx context.Context, svc *runpb.Service, project string) (bool, string, error) {
	if svc.GetInvokerIamDisabled() {
		return true, "invoker_iam_disabled is true", nil
	}
	p, err := r.Google.GetServicePolicy(ctx, svc.GetName())
	if err != nil {
		return false, "", r.googleFailure(err, project)
	}
	for _, m := range publicMembers {
		if iampolicy.HasMember(p, iampolicy.InvokerRole, m) {
			return true, m + " has roles/run.invoker", nil
		}
	}
	return false, "", nil
}

// freshService re-reads the service when this pass already updated it, so the next update
// carries the current etag.
func (r *ProtectedServiceReconciler) freshService(ctx context.Context, s *scope) (*runpb.Service, error) {
	if !s.serviceStale {
		return s.service, nil
	}
	svc, err := r.Google.GetService(ctx, s.service.GetName())
	if err != nil {
		return nil, r.googleFailure(err, s.ps.Spec.Service.Project)
	}
	s.service, s.serviceStale = svc, false
	return svc, nil
}

// googleFailure turns a Google error into a Stalled reason when a human must act, or keeps it
// transient (retried with backoff).
func (r *ProtectedServiceReconciler) googleFailure(err error, project string) error {
	switch gcp.Classify(err) {
	case gcp.APIDisabled:
		api := gcp.DisabledAPI(err)
		if api == "" {
			api = "iap.googleapis.com"
		}
		return stalled(iapv1alpha1.ReasonAPIDisabled, "%s. Enable it: gcloud services enable %s --project=%s",
			strings.TrimSuffix(gcp.Message(err), "."), api, project)
	case gcp.PermissionDenied:
		return stalled(iapv1alpha1.ReasonPermissionDenied,
			"runguard's Google identity lacks permission %s on %s: %s. Grant the runguard role described in docs/install.md.",
			gcp.Permission(err), gcp.Resource(err), strings.TrimSuffix(gcp.Message(err), "."))
	case gcp.Unauthenticated:
		return stalled(iapv1alpha1.ReasonUnauthenticated,
			"Google did not accept runguard's credentials (%s). Check Workload Identity or the Application Default Credentials of the manager (docs/install.md).",
			strings.TrimSuffix(gcp.Message(err), "."))
	case gcp.Rejected:
		// Retrying the same request cannot succeed; a human must change something.
		return stalled(iapv1alpha1.ReasonRequestRejected, "Google rejected the request to %s on %s: %s.",
			opOf(err), gcp.Resource(err), strings.TrimSuffix(gcp.Message(err), "."))
	default:
		return err
	}
}

func opOf(err error) string {
	var ce *gcp.CallError
	if errors.As(err, &ce) {
		return ce.Op
	}
	return "call Google"
}

// updatePolicy is IAM's read-modify-write: read version 3, change, write with the etag read.
// On ABORTED (someone wrote in between) the whole cycle is redone with backoff, a few times.
// It returns the policy as it now stands in Google (the one written, or the one read).
func (r *ProtectedServiceReconciler) updatePolicy(ctx context.Context,
	get func() (*iampb.Policy, error),
	set func(*iampb.Policy) (*iampb.Policy, error),
	change func(*iampb.Policy) (*iampb.Policy, bool, error),
) (*iampb.Policy, bool, error) {
	const attempts = 5
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		current, err := get()
		if err != nil {
			return nil, false, err
		}
		next, changed, err := change(current)
		if err != nil {
			return nil, false, err
		}
		if !changed {
			return current, false, nil
		}
		written, err := set(next)
		if err == nil {
			return written, true, nil
		}
		if gcp.Classify(err) != gcp.Conflict || attempt == attempts {
			return nil, false, err
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(jitter(delay)):
		}
		delay *= 2
	}
}

// wrote records a Google write: an Event (each kind of write has its own action, because the
// events API folds events with the same reason and action into one series), and — when the object was already Ready for this
// generation — a drift correction.
func (r *ProtectedServiceReconciler) wrote(s *scope, field, action, format string, args ...any) {
	r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, "GoogleCloudUpdated", action, format, args...)
	if !s.wasReady {
		return
	}
	driftCorrections.WithLabelValues(field).Inc()
	r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, "DriftCorrected", action, "Corrected drift of %s on %s.", field, s.ps.Spec.Service)
	if n, fighting := r.drift.corrected(s.ps, field); fighting {
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, "FightingWriter", action,
			"%s was corrected %d times within %s: another tool keeps writing it. Find that writer (Terraform, gcloud scripts, Config Connector) and stop it managing %s.",
			field, n, fightWindow, field)
	}
}

// recordBindings caches in status what runguard's markers in the written policy say we own.
func (r *ProtectedServiceReconciler) recordBindings(s *scope, p *iampb.Policy) {
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
}

func (r *ProtectedServiceReconciler) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return nil, fmt.Errorf("read namespace %s: %w", name, err)
	}
	return ns, nil
}

// desiredAccess is what this object declares for its IAP resource.
func (s *scope) desiredAccess() iampolicy.Desired {
	return iampolicy.Desired{
		Owner: s.owner, Role: iampolicy.AccessorRole,
		Mode:   iampolicy.Mode(s.ps.Spec.BindingPolicy),
		Groups: accessGroups(s.ps),
	}
}

// accessGroups converts the API's groups into the policy core's plain values.
func accessGroups(ps *iapv1alpha1.ProtectedService) []iampolicy.AccessGroup {
	out := make([]iampolicy.AccessGroup, 0, len(ps.Spec.AccessGroups))
	for _, g := range ps.Spec.AccessGroups {
		ag := iampolicy.AccessGroup{Name: g.Name}
		for _, m := range g.Members {
			ag.Members = append(ag.Members, string(m))
		}
		if c := g.Context; c != nil {
			for _, l := range c.AccessLevels {
				ag.Context.AccessLevels = append(ag.Context.AccessLevels, string(l))
			}
			for _, p := range c.PathPrefixes {
				ag.Context.PathPrefixes = append(ag.Context.PathPrefixes, string(p))
			}
			for _, h := range c.Hosts {
				ag.Context.Hosts = append(ag.Context.Hosts, string(h))
			}
			if c.NotBefore != nil {
				t := c.NotBefore.UTC()
				ag.Context.NotBefore = &t
			}
			if c.NotAfter != nil {
				t := c.NotAfter.UTC()
				ag.Context.NotAfter = &t
			}
			ag.Context.Expression = c.Expression
		}
		out = append(out, ag)
	}
	return out
}

// awaitRollout waits, with backoff, for a rollout this object started. Once IAP was seen in the
// declared state (reason Enabled or Disabled), a later deploy by the team's pipeline is not ours
// to wait for and must not flip Ready; callers check that with isReason.
func (s *scope) awaitRollout(message string) {
	s.set(iapv1alpha1.ConditionIAPEnabled, metav1.ConditionFalse, iapv1alpha1.ReasonRollingOut, message)
	s.wait(iapv1alpha1.ReasonRollingOut, message, 0)
}

func isReason(ps *iapv1alpha1.ProtectedService, conditionType, reason string) bool {
	c := meta.FindStatusCondition(ps.Status.Conditions, conditionType)
	return c != nil && c.Reason == reason
}

// rollingOut: Cloud Run is done when reconciling is false and observed_generation caught up.
func rollingOut(svc *runpb.Service) bool {
	return svc.GetReconciling() || svc.GetObservedGeneration() < svc.GetGeneration()
}

// terminalNote reports an unrelated failed rollout without blocking on it.
func terminalNote(svc *runpb.Service) string {
	tc := svc.GetTerminalCondition()
	if tc != nil && tc.GetState() == runpb.Condition_CONDITION_FAILED {
		return fmt.Sprintf(" Note: the service's latest rollout failed (%s); that is not runguard's to fix.", tc.GetMessage())
	}
	return ""
}

func tupleMembers(ts []iampolicy.Tuple) string {
	seen := map[string]bool{}
	var out []string
	for _, t := range ts {
		if !seen[t.Member] {
			seen[t.Member] = true
			out = append(out, t.Member)
		}
	}
	return strings.Join(out, ", ")
}

func listSome(items []string) string {
	if len(items) <= 5 {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:5], ", "), len(items)-5)
}
