package controllers

import (
	"context"
	"fmt"
	"time"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
)

// permissionTTL is how long a passed permission preflight is trusted (at least two resync
// periods): the preflight is for reporting what is missing before the first write; a role
// revoked later is found by the call it denies, which clears the project's answers.
//
// Answers are remembered per project, not per resource: roles are granted on projects
// (docs/install.md), so the answer for one service is the answer for the next one adopted
// there, and an adoption of N services asks once per project and kind instead of 2 N times. The
// price: a permission granted or denied on one service only is found by the call it affects,
// not by the preflight; that denial clears the answers, so the object's next pass asks about its
// own resources and names every missing permission.
const permissionTTL = 24 * time.Hour

// missingPermission is a permission the pass's identity lacks on a resource.
type missingPermission struct{ permission, resource string }

// checkPermissions asks Google, before the converge stage writes, which permissions runguard
// lacks on the service and on the IAP resource, and reports every missing one at once instead of
// failing one call at a time. A project whose resources of that kind passed is not asked again
// for permissionTTL (or until a call in it is denied), so neither the quiet resync nor the next
// object adopted in the project pays for it.
func (r *ProtectedServiceReconciler) checkPermissions(ctx context.Context, s *scope) *outcome {
	for _, check := range []struct {
		kind preflightKind
		want []string
	}{{preflightService, gcp.ServicePermissions}, {preflightAccess, gcp.AccessPermissions}} {
		if err := r.preflight(ctx, s, check.kind, check.want); err != nil {
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
func (r *ProtectedServiceReconciler) preflight(ctx context.Context, s *scope, kind preflightKind, want []string) error {
	policies, resource := s.google.AccessPolicies(), s.facts.resolved.IAPResource()
	if kind == preflightService {
		policies, resource = s.google.ServicePolicies(), s.facts.resolved.Path()
	}
	project, ask := s.facts.target.Project, preflightAsk{identity: s.facts.identity, kind: kind}
	if r.memory.preflightFresh(s.key(), project, ask, s.facts.now, max(permissionTTL, 2*r.ResyncPeriod)) {
		return nil
	}
	if r.planOnly {
		want = readPermissions(want)
	}
	askGoogle := func() (bool, error) {
		missing, err := policies.MissingPermissions(ctx, s.facts.resolved, want)
		if err != nil {
			return false, err
		}
		for _, p := range missing {
			s.facts.missingPermissions = append(s.facts.missingPermissions, missingPermission{permission: p, resource: resource})
		}
		if len(missing) == 0 {
			r.memory.preflightPassed(project, ask, s.facts.now)
		}
		return len(missing) == 0, nil
	}
	// Objects of one project adopted together ask once: the others take a pass from that answer,
	// and ask about their own resources only when it was not one. An object whose last pass was
	// denied always asks for itself.
	if !r.memory.permissionWasDenied(s.key()) {
		asked := false
		shared := fmt.Sprintf("%s|%s|%s", ask.identity, project, ask.kind)
		passed, err, _ := r.memory.asking.Do(shared, func() (any, error) { asked = true; return askGoogle() })
		if asked || (err == nil && passed.(bool)) {
			return err
		}
	}
	_, err := askGoogle()
	return err
}

// readPermissions are those of perms that only read: all runguard plan's caller needs.
func readPermissions(perms []string) []string {
	var out []string
	for _, p := range perms {
		if gcp.ReadPermissions[p] {
			out = append(out, p)
		}
	}
	return out
}
