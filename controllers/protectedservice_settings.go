package controllers

import (
	"context"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iapsettings"
)

// applySettings makes the declared IAP settings hold: one read of the settings and, when a
// declared setting differs, one update whose mask names exactly those settings, so settings
// another tool manages are never written. An object that declares no settings makes no call.
func (r *ProtectedServiceReconciler) applySettings(ctx context.Context, s *scope) *outcome {
	if s.ps.Spec.IAP.Settings == nil {
		return nil
	}
	// Settings need their own permissions; asked here, not in the converge stage's preflight, so
	// a role without them never holds up access bindings (or their removal).
	if err := r.preflight(ctx, s, preflightSettings, gcp.SettingsPermissions); err != nil {
		return googleFailure(err)
	}
	if len(s.facts.missingPermissions) > 0 {
		return stall(iapv1alpha1.ReasonPermissionDenied, nil)
	}
	declared := iapsettings.Declare(s.ps.Spec.IAP.Settings)
	plan, err := s.google.Settings().Apply(ctx, s.facts.resolved, declared)
	if err != nil {
		return googleFailure(err)
	}
	if plan.Changed() {
		s.wrote(googleWrite{kind: writeApplySettings, resource: s.facts.resolved.IAPResource(), settings: plan.Changes})
	}
	s.facts.settings = settingsFact{reason: iapv1alpha1.ReasonApplied, managed: declared.Names()}
	return nil
}
