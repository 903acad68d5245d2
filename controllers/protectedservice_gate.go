package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
)

// The gate: nothing in it writes. An object that does not pass it makes no Google write.

// checkTenancy enforces the namespace's allowed-projects annotation before any Google API is called.
func (r *ProtectedServiceReconciler) checkTenancy(_ context.Context, s *scope) *outcome {
	if !r.AllowAnyProject && !projectAllowed(s.namespace.Annotations[AnnotationAllowedProjects], s.ps.Spec.Service) {
		return stall(iapv1alpha1.ReasonProjectNotAllowed, nil)
	}
	return nil
}

// resolveIdentity picks the Google identity the pass acts as: the service account the
// namespace's annotation names (impersonated with short-lived tokens), or runguard's own. A
// namespace whose account cannot be used makes no Google call at all, so a missing grant never
// falls back to runguard's wider identity.
func (r *ProtectedServiceReconciler) resolveIdentity(ctx context.Context, s *scope) *outcome {
	// Google compares emails case-insensitively and writes them in lower case.
	account := strings.ToLower(strings.TrimSpace(s.namespace.Annotations[AnnotationGoogleServiceAccount]))
	s.facts.identity = account
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
		if projectAllowed(ns.Annotations[AnnotationAllowedProjects], item.Spec.Service) {
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
	s.facts.projectNumber = number
	s.facts.iapResource = gcp.IAPResource(number, target.Location, target.Name)
	s.facts.serviceName = target.FullName()
	s.ps.Status.ProjectNumber = strconv.FormatInt(number, 10)
	s.ps.Status.IAPResource = s.facts.iapResource

	svc, err := s.google.Services().Get(ctx, target.FullName())
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

// checkPermissions asks Google, before the converge stage writes, which permissions runguard
// lacks on the service and on the IAP resource, and reports every missing one at once instead of
// failing one call at a time. A project whose resources of that kind passed is not asked again
// for permissionTTL (or until a call in it is denied), so neither the quiet resync nor the next
// object adopted in the project pays for it.
func (r *ProtectedServiceReconciler) checkPermissions(ctx context.Context, s *scope) *outcome {
	for _, check := range []struct {
		resource string
		kind     preflightKind
		want     []string
	}{{s.facts.serviceName, preflightService, gcp.ServicePermissions}, {s.facts.iapResource, preflightAccess, gcp.AccessPermissions}} {
		if err := r.preflight(ctx, s, check.resource, check.kind, check.want); err != nil {
			return googleFailure(err)
		}
	}
	if len(s.facts.missingPermissions) > 0 {
		return stall(iapv1alpha1.ReasonPermissionDenied, nil)
	}
	return nil
}

// preflight records which of want the pass's identity lacks on resource, unless resources of
// that kind in the object's project passed within the cache's trust period. It asks about the
// object's own resource, so a denial names it; a pass is remembered for the whole project.
func (r *ProtectedServiceReconciler) preflight(ctx context.Context, s *scope, resource string, kind preflightKind, want []string) error {
	key := permissionKey(s.facts.identity, s.facts.target.Project, kind)
	if r.permissions.fresh(s.key(), key, s.facts.now, max(permissionTTL, 2*r.ResyncPeriod)) {
		return nil
	}
	if r.planOnly {
		want = readPermissions(want)
	}
	ask := func() (bool, error) {
		missing, err := s.google.MissingPermissions(ctx, resource, want)
		if err != nil {
			return false, err
		}
		for _, p := range missing {
			s.facts.missingPermissions = append(s.facts.missingPermissions, p+" on "+resource)
		}
		if len(missing) == 0 {
			r.permissions.passed(key, s.facts.now)
		}
		return len(missing) == 0, nil
	}
	// Objects of one project adopted together ask once: the others take a pass from that answer,
	// and ask about their own resources only when it was not one. An object whose last pass was
	// denied always asks for itself.
	if !r.permissions.wasDenied(s.key()) {
		asked := false
		passed, err, _ := r.permissions.asking.Do(key, func() (any, error) { asked = true; return ask() })
		if asked || (err == nil && passed.(bool)) {
			return err
		}
	}
	_, err := ask()
	return err
}

// readPermissions are those of perms that only read: all runguard plan's caller needs.
func readPermissions(perms []string) []string {
	var out []string
	for _, p := range perms {
		verb := p[strings.LastIndex(p, ".")+1:]
		if strings.HasPrefix(verb, "get") || verb == "list" {
			out = append(out, p)
		}
	}
	return out
}

// checkOwnerMarkers reads the IAP policy and refuses the claim while another runguard owner's
// markers are on it (another cluster, or an object deleted with Abandon). This read is also
// bindAccess's first read, so it costs nothing extra.
func (r *ProtectedServiceReconciler) checkOwnerMarkers(ctx context.Context, s *scope) *outcome {
	p, err := s.google.AccessPolicies().Get(ctx, s.facts.iapResource)
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
