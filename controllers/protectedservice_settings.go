package controllers

import (
	"context"

	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/protobuf/types/known/durationpb"

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
	declared := iapsettings.Declare(settingsSpec(s.ps.Spec.IAP.Settings))
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

var reauthMethods = map[iapv1alpha1.ReauthMethod]iappb.ReauthSettings_Method{
	iapv1alpha1.ReauthLogin:                 iappb.ReauthSettings_LOGIN,
	iapv1alpha1.ReauthSecureKey:             iappb.ReauthSettings_SECURE_KEY,
	iapv1alpha1.ReauthEnrolledSecondFactors: iappb.ReauthSettings_ENROLLED_SECOND_FACTORS,
}

var reauthPolicies = map[iapv1alpha1.ReauthPolicy]iappb.ReauthSettings_PolicyType{
	"":                              iappb.ReauthSettings_MINIMUM,
	iapv1alpha1.ReauthPolicyMinimum: iappb.ReauthSettings_MINIMUM,
	iapv1alpha1.ReauthPolicyDefault: iappb.ReauthSettings_DEFAULT,
}

// settingsSpec converts the API's settings into the settings planner's plain values.
func settingsSpec(in *iapv1alpha1.IAPSettings) *iapsettings.Spec {
	if in == nil {
		return nil
	}
	out := &iapsettings.Spec{}
	if p := in.AccessDeniedPage; p != nil {
		out.AccessDeniedPageURI, out.TroubleshootingLink = p.URI, p.TroubleshootingLink
	}
	if r := in.Reauthentication; r != nil {
		out.Reauthentication = &iappb.ReauthSettings{Method: reauthMethods[r.Method], MaxAge: durationpb.New(r.MaxAge.Duration), PolicyType: reauthPolicies[r.Policy]}
	}
	for _, d := range in.AllowedDomains {
		out.AllowedDomains = append(out.AllowedDomains, string(d))
	}
	if in.CORS != nil {
		out.AllowHTTPOptions = &in.CORS.AllowHTTPOptions
	}
	for _, c := range in.ProgrammaticClients {
		out.ProgrammaticClients = append(out.ProgrammaticClients, string(c))
	}
	for _, name := range in.Clear {
		out.Clear = append(out.Clear, string(name))
	}
	return out
}
