package controllers

import (
	"context"
	"fmt"
	"strconv"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/tenancy"
)

// The gate: nothing in it writes. An object that does not pass it makes no Google write.

// checkTenancy enforces the namespace's allowed-projects annotation before any Google API is called.
func (r *ProtectedServiceReconciler) checkTenancy(_ context.Context, s *scope) *outcome {
	if !r.AllowAnyProject && !tenancy.ProjectAllowed(s.namespace.Annotations[iapv1alpha1.AnnotationAllowedProjects], s.ps.Spec.Service) {
		return stall(iapv1alpha1.ReasonProjectNotAllowed, nil)
	}
	return nil
}

// resolveIdentity picks the Google identity the pass acts as: the service account the
// namespace's annotation names (impersonated with short-lived tokens), or runguard's own. A
// namespace whose account cannot be used makes no Google call at all, so a missing grant never
// falls back to runguard's wider identity.
func (r *ProtectedServiceReconciler) resolveIdentity(ctx context.Context, s *scope) *outcome {
	account, err := tenancy.NamespaceIdentity(s.namespace.Annotations)
	s.facts.identity = account
	if err != nil {
		return stall(iapv1alpha1.ReasonNamespaceIdentityUnusable, err)
	}
	if account == "" && r.RequireNamespaceIdentity {
		return stall(iapv1alpha1.ReasonNamespaceIdentityRequired, nil)
	}
	google, err := r.Google.ActingAs(ctx, account)
	if err != nil {
		if gcp.Classify(err) == gcp.Transient {
			return transient(err)
		}
		return stall(iapv1alpha1.ReasonNamespaceIdentityUnusable, err)
	}
	s.google = google
	return nil
}

// checkClaim lets only one object manage a Cloud Run service. Objects whose namespace may not
// target the service do not count, so a tenant cannot squat on another team's service.
func (r *ProtectedServiceReconciler) checkClaim(ctx context.Context, s *scope) *outcome {
	same, err := r.objectsTargetingService(ctx, s.ps.Spec.Service)
	if err != nil {
		return transient(fmt.Errorf("list ProtectedServices targeting %s: %w", s.ps.Spec.Service, err))
	}
	candidates := same[:0]
	for _, item := range same {
		if item.UID == s.ps.UID || r.AllowAnyProject {
			candidates = append(candidates, item)
			continue
		}
		ns, err := r.namespace(ctx, item.Namespace)
		if err != nil {
			return transient(err)
		}
		if tenancy.ProjectAllowed(ns.Annotations[iapv1alpha1.AnnotationAllowedProjects], item.Spec.Service) {
			candidates = append(candidates, item)
		}
	}
	if holder := claimHolder(candidates); holder != nil && holder.UID != s.ps.UID {
		s.facts.claimedBy = holder.Namespace + "/" + holder.Name
		return stall(iapv1alpha1.ReasonServiceClaimed, nil)
	}
	return nil
}

// resolveService finds the project number (cached: it never changes) and reads the service.
func (r *ProtectedServiceReconciler) resolveService(ctx context.Context, s *scope) *outcome {
	target := s.ps.Spec.Service
	number, err := s.google.ProjectNumber(ctx, target.Project)
	if err != nil {
		return googleFailure(err)
	}
	s.facts.resolved = gcp.Service{Project: target.Project, Number: number, Location: target.Location, Name: target.Name}
	s.ps.Status.ProjectNumber = strconv.FormatInt(number, 10)
	s.ps.Status.IAPResource = s.facts.resolved.IAPResource()

	svc, err := s.google.Services().Get(ctx, s.facts.resolved)
	if isNotFound(err) {
		return wait(iapv1alpha1.ReasonServiceNotFound, 0)
	}
	if err != nil {
		return googleFailure(err)
	}
	s.service = svc
	s.ps.Status.ServiceURI = svc.GetUri()
	return nil
}

// checkOwnerMarkers reads the IAP policy and refuses the claim while another runguard owner's
// markers are on it (another cluster, or an object deleted with Abandon). This read is also
// bindAccess's first read, so it costs nothing extra.
func (r *ProtectedServiceReconciler) checkOwnerMarkers(ctx context.Context, s *scope) *outcome {
	p, err := s.google.AccessPolicies().Get(ctx, s.facts.resolved)
	if err != nil {
		return googleFailure(err)
	}
	s.accessPolicy = p
	if others := iampolicy.OtherOwners(p, iampolicy.AccessorRole, s.owner); len(others) > 0 {
		s.facts.otherOwner = &others[0]
		return stall(iapv1alpha1.ReasonServiceClaimed, nil)
	}
	return nil
}
