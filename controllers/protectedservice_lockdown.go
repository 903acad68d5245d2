package controllers

import (
	"context"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
)

var publicMembers = []string{"allUsers", "allAuthenticatedUsers"}

// enableIAP keeps IAP on (it is part of the lockdown with iap.enabled: true). The rollout an
// update starts is looked at once, at the end of the pass (followRollout), after the rest of the
// lockdown.
func (r *ProtectedServiceReconciler) enableIAP(ctx context.Context, s *scope) *outcome {
	svc, o := r.freshService(ctx, s)
	if o != nil {
		return o
	}
	wrote, err := s.google.Services().Ensure(ctx, s.facts.resolved, svc, gcp.IAPEnabled, true)
	if err != nil {
		return googleFailure(err)
	}
	if wrote && s.observing() {
		s.wrote(googleWrite{kind: writeEnableIAP, resource: svc.GetName()}) // would switch it on; there is no rollout to follow
		return nil
	}
	key := s.key()
	if wrote {
		s.serviceStale = true
		s.wrote(googleWrite{kind: writeEnableIAP, resource: svc.GetName()})
		r.memory.rolloutStarted(key, svc.GetGeneration()+1)
		s.facts.iap = iapFact{reason: iapv1alpha1.ReasonRollingOut, on: true, started: true}
		return nil
	}
	// Once IAP was seen on, a later deploy by the team's pipeline is not ours to wait for.
	// An observer starts no rollout, so none is its own to wait for.
	ours := !s.observing() && !hadReason(s.original, iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ReasonEnabled)
	return s.awaitRollout(svc, r.memory.ownRolloutFailed(key, svc), ours && rollingOut(svc), true)
}

// followRollout ends a pass that switched IAP on or off with one read of the service: Cloud Run
// often finishes such a rollout within seconds, and then the object is Ready in this very pass
// instead of after a status write and a second pass that re-reads everything. It never waits: a
// rollout still going ends the pass RollingOut, and later passes look again, with backoff.
func (r *ProtectedServiceReconciler) followRollout(ctx context.Context, s *scope) *outcome {
	if !s.facts.iap.started {
		return nil
	}
	svc, o := r.freshService(ctx, s)
	if o != nil {
		return o
	}
	on := s.facts.iap.on
	// A switch read back the other way was changed again since: the next pass sets it again.
	waiting := rollingOut(svc) || svc.GetIapEnabled() != on
	return s.awaitRollout(svc, r.memory.ownRolloutFailed(s.key(), svc), waiting, on)
}

// awaitRollout records how a rollout of the IAP switch stands. A rollout runguard started that
// failed (ourFailure) ends the wait as RolloutFailed: the field stays set, so nothing is re-sent
// in a loop, and the object waits for a human to fix the revision.
func (s *scope) awaitRollout(svc *runpb.Service, ourFailure, waiting, on bool) *outcome {
	switch {
	case ourFailure:
		s.facts.iap = iapFact{reason: iapv1alpha1.ReasonRolloutFailed, on: on, failedRollout: failedRollout(svc)}
		return stall(iapv1alpha1.ReasonRolloutFailed, nil)
	case waiting:
		s.facts.iap = iapFact{reason: iapv1alpha1.ReasonRollingOut, on: on}
		return wait(iapv1alpha1.ReasonRollingOut, 0)
	case on:
		s.facts.iap = iapFact{reason: iapv1alpha1.ReasonEnabled, failedRollout: failedRollout(svc)}
	default:
		s.facts.iap = iapFact{reason: iapv1alpha1.ReasonDisabled, failedRollout: failedRollout(svc)}
	}
	return nil
}

// disableIAP switches IAP off once the lockdown has propagated, refusing when that would leave
// the service public without the namespace's explicit consent.
func (r *ProtectedServiceReconciler) disableIAP(ctx context.Context, s *scope) *outcome {
	svc, o := r.freshService(ctx, s)
	if o != nil {
		return o
	}
	if svc.GetIapEnabled() && s.observing() {
		// Enforce would switch IAP off once the revocation of public access has propagated.
		if o := r.checkExposure(ctx, s, svc); o != nil {
			return o
		}
		s.wrote(googleWrite{kind: writeDisableIAP, resource: svc.GetName()})
		return nil
	}
	if svc.GetIapEnabled() {
		s.facts.iap = iapFact{reason: iapv1alpha1.ReasonEnabled}
		// IAM changes take minutes to apply everywhere; switching IAP off right after revoking
		// allUsers would leave the service public while the old grant is still honoured. With
		// no record of the last revocation (a new object, or a status lost in a crash right
		// after the revoking write) runguard assumes it was just now.
		if s.ps.Status.PublicAccessRevokedTime == nil && s.ps.Spec.PublicAccess != iapv1alpha1.PublicAccessAllow {
			s.publicAccessRevoked()
		}
		if t := s.ps.Status.PublicAccessRevokedTime; t != nil && s.facts.now.Sub(t.Time) < r.IAMPropagationDelay {
			remaining := r.IAMPropagationDelay - s.facts.now.Sub(t.Time)
			s.facts.iap = iapFact{reason: iapv1alpha1.ReasonRevocationPropagating, remaining: remaining}
			return wait(iapv1alpha1.ReasonRevocationPropagating, remaining)
		}
		if o := r.checkExposure(ctx, s, svc); o != nil {
			return o
		}
		wrote, err := s.google.Services().Ensure(ctx, s.facts.resolved, svc, gcp.IAPEnabled, false)
		if err != nil {
			return googleFailure(err)
		}
		if wrote {
			s.serviceStale = true
			s.wrote(googleWrite{kind: writeDisableIAP, resource: svc.GetName()})
			r.memory.rolloutStarted(s.key(), svc.GetGeneration()+1)
		}
		// Switching IAP off is the pass's last step: its rollout is looked at right away.
		s.facts.iap = iapFact{reason: iapv1alpha1.ReasonRollingOut, started: true}
		return r.followRollout(ctx, s)
	}
	ours := !s.observing() && !hadReason(s.original, iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ReasonDisabled)
	return s.awaitRollout(svc, r.memory.ownRolloutFailed(s.key(), svc), ours && rollingOut(svc), false)
}

// checkExposure stalls when switching IAP off would leave the service publicly invocable and
// the namespace has not allowed that.
func (r *ProtectedServiceReconciler) checkExposure(ctx context.Context, s *scope, svc *runpb.Service) *outcome {
	if s.namespace.Annotations[iapv1alpha1.AnnotationAllowPublic] == "true" {
		return nil
	}
	if svc.GetInvokerIamDisabled() {
		s.facts.exposure = &exposure{invokerIAMDisabled: true}
		return stall(iapv1alpha1.ReasonWouldExposeService, nil)
	}
	p := s.servicePolicy
	if p == nil {
		var err error
		if p, err = s.google.ServicePolicies().Get(ctx, s.facts.resolved); err != nil {
			return googleFailure(err)
		}
	}
	for _, m := range publicMembers {
		if iampolicy.HasMember(p, iampolicy.InvokerRole, m) {
			s.facts.exposure = &exposure{member: m}
			return stall(iapv1alpha1.ReasonWouldExposeService, nil)
		}
	}
	return nil
}

// revokePublicAccess removes allUsers and allAuthenticatedUsers from roles/run.invoker and turns
// the invoker IAM check back on, when publicAccess is Deny.
func (r *ProtectedServiceReconciler) revokePublicAccess(ctx context.Context, s *scope) *outcome {
	if s.ps.Spec.PublicAccess == iapv1alpha1.PublicAccessAllow {
		s.facts.public.reason = iapv1alpha1.ReasonPublicAccessAllowed
		return nil
	}
	name := s.facts.resolved.Path()
	// The invoker phase's policy saves a read on the first attempt; a conflict re-reads.
	read := s.servicePolicy
	plan, err := s.google.ServicePolicies().Update(ctx, s.facts.resolved, read,
		func(p *iampb.Policy) (iampolicy.Plan, error) {
			return iampolicy.PlanRevoke(p, iampolicy.InvokerRole, publicMembers...), nil
		})
	if err != nil {
		return googleFailure(err)
	}
	s.servicePolicy = plan.Policy
	if plan.Changed {
		s.publicAccessRevoked()
		s.wrotePolicy(writeRevokePublicAccess, name, plan)
	}
	// This pass's own update, if any, touched only iap_enabled: the service as read at the start
	// still says whether the invoker check is off. Re-read only to write (for the etag).
	if !gcp.InvokerIAMDisabled.Value(s.service) {
		s.facts.public.reason = iapv1alpha1.ReasonRevoked
		return nil
	}
	svc, o := r.freshService(ctx, s)
	if o != nil {
		return o
	}
	wrote, err := s.google.Services().Ensure(ctx, s.facts.resolved, svc, gcp.InvokerIAMDisabled, false)
	if err != nil {
		return googleFailure(err)
	}
	if wrote {
		s.serviceStale = true
		s.publicAccessRevoked()
		s.wrote(googleWrite{kind: writeEnableInvokerCheck, resource: name})
	}
	s.facts.public.reason = iapv1alpha1.ReasonRevoked
	return nil
}

// publicAccessRevoked records when public access was last revoked, so IAP is switched off only
// after the revocation has propagated (kept in status so a restart does not forget it).
func (s *scope) publicAccessRevoked() {
	if s.observing() {
		return // nothing was revoked
	}
	now := metav1.NewTime(s.facts.now)
	s.ps.Status.PublicAccessRevokedTime = &now
}

// freshService re-reads the service when this pass already updated it, so the next update
// carries the current etag.
func (r *ProtectedServiceReconciler) freshService(ctx context.Context, s *scope) (*runpb.Service, *outcome) {
	if !s.serviceStale {
		return s.service, nil
	}
	svc, err := s.google.Services().Get(ctx, s.facts.resolved)
	if err != nil {
		return nil, googleFailure(err)
	}
	s.service, s.serviceStale = svc, false
	return svc, nil
}

func hadReason(ps *iapv1alpha1.ProtectedService, conditionType, reason string) bool {
	c := meta.FindStatusCondition(ps.Status.Conditions, conditionType)
	return c != nil && c.Reason == reason
}

// rollingOut: Cloud Run is done when reconciling is false and observed_generation caught up.
// A failed rollout is done too: then observed_generation stays at the last serving revision's
// (runpb documents it on the reconciling field), so it never catches up.
func rollingOut(svc *runpb.Service) bool {
	return svc.GetReconciling() || (svc.GetObservedGeneration() < svc.GetGeneration() && !rolloutFailed(svc))
}

// rolloutFailed: the latest rollout ended and did not reach the current generation.
func rolloutFailed(svc *runpb.Service) bool {
	return !svc.GetReconciling() && svc.GetObservedGeneration() < svc.GetGeneration() &&
		svc.GetTerminalCondition().GetState() == runpb.Condition_CONDITION_FAILED
}

// failedRollout is the message of the service's failed latest rollout, which runguard reports
// but does not wait on: it is not runguard's to fix.
func failedRollout(svc *runpb.Service) string {
	if tc := svc.GetTerminalCondition(); tc != nil && tc.GetState() == runpb.Condition_CONDITION_FAILED {
		return tc.GetMessage()
	}
	return ""
}
