package controllers

import (
	"context"
	"strconv"

	"cloud.google.com/go/iam/apiv1/iampb"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/tenancy"
)

// cleanupPass runs for a deleted object, through the same scope and outcomes as every pass:
// resolve the IAP resource, then remove this owner's marked bindings (deletionPolicy Delete).
// It decides from what Google holds, never from status: until Google has been read and cleaned,
// the finalizer stays. IAP stays on, so the service fails closed; the IAP service agent's
// invoker grant stays too: it only lets IAP through. Abandon leaves Google Cloud as it is.
func (r *ProtectedServiceReconciler) cleanupPass(ctx context.Context, s *scope) []*outcome {
	s.facts.deletion = &deletionFact{}
	// An observing object never wrote anything, so its deletion writes nothing either.
	if s.ps.Spec.DeletionPolicy == iapv1alpha1.DeletionPolicyAbandon || s.observing() {
		s.facts.deletion.done = true
		return nil
	}
	for _, p := range []phase{r.resolveCleanupTarget, r.removeOwnedBindings} {
		if o := p(ctx, s); o != nil {
			return []*outcome{o}
		}
		if s.facts.deletion.done {
			break
		}
	}
	return nil
}

// resolveCleanupTarget finds the IAP resource. The project number recorded in status spares
// Resource Manager; the service is read only to learn whether it still exists, since its IAP
// resource goes with it.
func (r *ProtectedServiceReconciler) resolveCleanupTarget(ctx context.Context, s *scope) *outcome {
	target := s.ps.Spec.Service
	number, _ := strconv.ParseInt(s.ps.Status.ProjectNumber, 10, 64)
	allowed := r.AllowAnyProject || tenancy.ProjectAllowed(s.namespace.Annotations[iapv1alpha1.AnnotationAllowedProjects], target)
	// An object never allowed to reach its project never learned its number and wrote nothing
	// there: no Google call for it. One that lost the permission later still cleans up.
	if number == 0 && !allowed {
		return s.nothingToClean() // the namespace may not target the project, and runguard never reached it
	}
	// Cleanup acts as the namespace's identity too: runguard's own never cleans up after a tenant.
	if o := r.resolveIdentity(ctx, s); o != nil {
		return o
	}
	if number == 0 {
		n, err := s.google.ProjectNumber(ctx, target.Project)
		if err != nil && gcp.Classify(err) == gcp.PermissionDenied {
			// Writes need the number: an object that never learned it wrote nothing, and a
			// project Resource Manager does not show holds nothing runguard can reach.
			return s.nothingToClean() // the project does not exist or cannot be seen, and runguard never resolved it
		}
		if err != nil {
			return googleFailure(err)
		}
		number = n
	}
	s.facts.resolved = gcp.Service{Project: target.Project, Number: number, Location: target.Location, Name: target.Name}
	if _, err := s.google.Services().Get(ctx, s.facts.resolved); isNotFound(err) {
		return s.nothingToClean() // the Cloud Run service no longer exists, and its IAP resource went with it
	} else if err != nil {
		return googleFailure(err)
	}
	return nil
}

// removeOwnedBindings removes the bindings marked with this owner, whatever the bindingPolicy:
// Exclusive governs what the object keeps while it exists, not what its deletion may remove.
func (r *ProtectedServiceReconciler) removeOwnedBindings(ctx context.Context, s *scope) *outcome {
	desired := iampolicy.Desired{Owner: s.owner, Role: iampolicy.AccessorRole, Mode: iampolicy.Merge}
	plan, err := s.google.AccessPolicies().Update(ctx, s.facts.resolved, nil,
		func(p *iampb.Policy) (iampolicy.Plan, error) { return iampolicy.PlanAccessRemovalOnly(p, desired) })
	if isNotFound(err) {
		return s.nothingToClean() // the IAP resource no longer exists
	}
	if err != nil {
		return googleFailure(err)
	}
	if plan.Changed {
		s.wrotePolicy(writeRemoveAccess, s.facts.resolved.IAPResource(), plan)
	}
	s.facts.deletion.done = true
	return nil
}

// nothingToClean ends a cleanup that found nothing of this object's in Google.
func (s *scope) nothingToClean() *outcome {
	s.facts.deletion.done = true
	return nil
}
