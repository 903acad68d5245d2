package iapsettings

import (
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func ptr[T any](v T) *T { return &v }

// everything declares every setting the spec has.
func everything() *Spec {
	return &Spec{
		AccessDeniedPageURI: ptr("https://help.acme.com/denied"), TroubleshootingLink: ptr(true),
		Reauthentication: &iappb.ReauthSettings{Method: iappb.ReauthSettings_SECURE_KEY, MaxAge: durationpb.New(time.Hour),
			PolicyType: iappb.ReauthSettings_MINIMUM},
		AllowedDomains:      []string{"billing.acme.com", "*.acme.com"},
		AllowHTTPOptions:    ptr(false),
		ProgrammaticClients: []string{"b.apps.googleusercontent.com", "a.apps.googleusercontent.com"},
	}
}

// asGoogleHolds is what Google holds after every setting of everything() was written.
func asGoogleHolds() *iappb.IapSettings {
	return &iappb.IapSettings{
		Name: "projects/1/iap_web/cloud_run-us-central1/services/billing",
		AccessSettings: &iappb.AccessSettings{
			ReauthSettings:         &iappb.ReauthSettings{Method: iappb.ReauthSettings_SECURE_KEY, MaxAge: durationpb.New(time.Hour), PolicyType: iappb.ReauthSettings_MINIMUM},
			AllowedDomainsSettings: &iappb.AllowedDomainsSettings{Enable: proto.Bool(true), Domains: []string{"*.acme.com", "billing.acme.com"}},
			CorsSettings:           &iappb.CorsSettings{AllowHttpOptions: wrapperspb.Bool(false)},
			OauthSettings:          &iappb.OAuthSettings{ProgrammaticClients: []string{"a.apps.googleusercontent.com", "b.apps.googleusercontent.com"}},
		},
		ApplicationSettings: &iappb.ApplicationSettings{AccessDeniedPageSettings: &iappb.AccessDeniedPageSettings{
			AccessDeniedPageUri: wrapperspb.String("https://help.acme.com/denied"), GenerateTroubleshootingUri: wrapperspb.Bool(true),
		}},
	}
}

func TestPlanUpdate_NothingDeclaredWritesNothing(t *testing.T) {
	if p := PlanUpdate(asGoogleHolds(), Declare(nil)); p.Changed() || p.Mask != nil {
		t.Fatalf("plan for no declaration = %+v", p)
	}
}

func TestPlanUpdate_FromNothingMasksEveryDeclaredSetting(t *testing.T) {
	p := PlanUpdate(&iappb.IapSettings{}, Declare(everything()))
	// CORS allowHTTPOptions is declared false, which is what unset means: nothing to write.
	want := []string{
		"iap_settings.application_settings.access_denied_page_settings.access_denied_page_uri",
		"iap_settings.application_settings.access_denied_page_settings.generate_troubleshooting_uri",
		"iap_settings.access_settings.reauth_settings",
		"iap_settings.access_settings.allowed_domains_settings",
		"iap_settings.access_settings.oauth_settings.programmatic_clients",
	}
	if !slices.Equal(p.Mask, want) {
		t.Fatalf("mask = %q, want %q", p.Mask, want)
	}
	if !strings.Contains(p.Diff(), `accessDeniedPage.uri "https://help.acme.com/denied" (was unset)`) {
		t.Errorf("diff %q does not show the page", p.Diff())
	}
	if got := p.Update.GetAccessSettings().GetReauthSettings(); got.GetMethod() != iappb.ReauthSettings_SECURE_KEY ||
		got.GetMaxAge().AsDuration() != time.Hour || got.GetPolicyType() != iappb.ReauthSettings_MINIMUM {
		t.Errorf("reauth written as %v, want SECURE_KEY, 1h, MINIMUM (the default policy)", got)
	}
}

func TestPlanUpdate_MatchingSettingsInAnotherOrderAreNoChange(t *testing.T) {
	if p := PlanUpdate(asGoogleHolds(), Declare(everything())); p.Changed() {
		t.Fatalf("Google already holds the declaration, plan = %s", p.Diff())
	}
}

func TestPlanUpdate_SettingsNobodyDeclaredAreLeftAlone(t *testing.T) {
	held := asGoogleHolds()
	held.ApplicationSettings.CookieDomain = wrapperspb.String("acme.com")
	held.AccessSettings.OauthSettings.LoginHint = wrapperspb.String("acme.com")
	held.AccessSettings.ReauthSettings.MaxAge = durationpb.New(2 * time.Hour) // drift on a declared setting
	declared := &Spec{Reauthentication: everything().Reauthentication}
	p := PlanUpdate(held, Declare(declared))
	if !slices.Equal(p.Mask, []string{"iap_settings.access_settings.reauth_settings"}) {
		t.Fatalf("mask = %q, want only the reauth settings", p.Mask)
	}
	if !strings.HasPrefix(p.Diff(), "reauthentication {") || !strings.Contains(p.Diff(), "seconds:7200") {
		t.Errorf("diff %q does not show the drifted value", p.Diff())
	}
}

func TestPlanUpdate_OneFieldOfTheAccessDeniedPageIsManagedAlone(t *testing.T) {
	held := asGoogleHolds()
	held.ApplicationSettings.AccessDeniedPageSettings.GenerateTroubleshootingUri = wrapperspb.Bool(false)
	held.ApplicationSettings.AccessDeniedPageSettings.AccessDeniedPageUri = wrapperspb.String("https://old.acme.com")
	declared := &Spec{AccessDeniedPageURI: ptr("https://help.acme.com/denied")}
	p := PlanUpdate(held, Declare(declared))
	if !slices.Equal(p.Mask, []string{"iap_settings.application_settings.access_denied_page_settings.access_denied_page_uri"}) {
		t.Fatalf("mask = %q: the troubleshooting link is not declared and must not be written", p.Mask)
	}
}

// A declared false differs from a true Google holds, and is written.
func TestPlanUpdate_DeclaredFalseReplacesTrue(t *testing.T) {
	held := asGoogleHolds()
	held.AccessSettings.CorsSettings.AllowHttpOptions = wrapperspb.Bool(true)
	p := PlanUpdate(held, Declare(&Spec{AllowHTTPOptions: ptr(false)}))
	if !slices.Equal(p.Mask, []string{"iap_settings.access_settings.cors_settings.allow_http_options"}) || !strings.Contains(p.Diff(), "cors.allowHTTPOptions false (was true)") {
		t.Fatalf("mask %q, diff %q", p.Mask, p.Diff())
	}
}

func TestPlanUpdate_ClearResetsOnlyWhatIsSet(t *testing.T) {
	declared := &Spec{Clear: []string{"AccessDeniedPage", "CORS"}}
	held := asGoogleHolds()
	held.AccessSettings.CorsSettings.AllowHttpOptions = wrapperspb.Bool(true)
	// Another tool's setting beside the page's, which the spec does not model: never cleared.
	held.ApplicationSettings.AccessDeniedPageSettings.RemediationTokenGenerationEnabled = wrapperspb.Bool(true)
	p := PlanUpdate(held, Declare(declared))
	want := []string{"iap_settings.application_settings.access_denied_page_settings.access_denied_page_uri",
		"iap_settings.application_settings.access_denied_page_settings.generate_troubleshooting_uri",
		"iap_settings.access_settings.cors_settings.allow_http_options"}
	if !slices.Equal(p.Mask, want) {
		t.Fatalf("mask = %q, want %q", p.Mask, want)
	}
	if p.Update.GetApplicationSettings().GetAccessDeniedPageSettings() != nil || p.Update.GetAccessSettings().GetCorsSettings() != nil {
		t.Errorf("a cleared setting must be absent from the update, got %v", p.Update)
	}
	// What Google may answer once cleared — emptied containers, a false wrapper — is cleared.
	emptied := &iappb.IapSettings{
		AccessSettings: &iappb.AccessSettings{CorsSettings: &iappb.CorsSettings{AllowHttpOptions: wrapperspb.Bool(false)}},
		ApplicationSettings: &iappb.ApplicationSettings{AccessDeniedPageSettings: &iappb.AccessDeniedPageSettings{
			RemediationTokenGenerationEnabled: wrapperspb.Bool(true)}},
	}
	if p := PlanUpdate(emptied, Declare(declared)); p.Changed() {
		t.Errorf("clearing what is already cleared planned %s", p.Diff())
	}
	cleared := &iappb.IapSettings{AccessSettings: &iappb.AccessSettings{ReauthSettings: asGoogleHolds().AccessSettings.ReauthSettings}}
	if p := PlanUpdate(cleared, Declare(declared)); p.Changed() {
		t.Errorf("clearing what is already unset planned %s", p.Diff())
	}
}

func TestPlanUpdate_AllowedDomainsSwitchedOffIsDrift(t *testing.T) {
	held := asGoogleHolds()
	held.AccessSettings.AllowedDomainsSettings.Enable = proto.Bool(false)
	p := PlanUpdate(held, Declare(&Spec{AllowedDomains: everything().AllowedDomains}))
	if !slices.Equal(p.Mask, []string{"iap_settings.access_settings.allowed_domains_settings"}) {
		t.Fatalf("mask = %q", p.Mask)
	}
}

func TestDeclare_NamesEveryDeclaredSetting(t *testing.T) {
	s := everything()
	s.TroubleshootingLink = nil
	got := Declare(s).Names()
	want := []string{"accessDeniedPage.uri", "reauthentication", "allowedDomains", "cors.allowHTTPOptions", "programmaticClients"}
	if !slices.Equal(got, want) {
		t.Fatalf("names = %q, want %q", got, want)
	}
}

// A misspelled path would compare two unset values and never write: every path must name real
// fields of IapSettings.
func TestEveryPathNamesFieldsOfIapSettings(t *testing.T) {
	paths := []Setting{accessDeniedURI, troubleshootingLink, reauthentication, allowedDomains, corsHTTPOptions, programmaticClients}
	for _, s := range clearable {
		paths = append(paths, s...)
	}
	for _, s := range paths {
		md := (&iappb.IapSettings{}).ProtoReflect().Descriptor()
		steps := strings.Split(s.Path, ".")
		for i, step := range steps {
			fd := md.Fields().ByName(protoreflect.Name(step))
			if fd == nil {
				t.Fatalf("%s: no field %q in %s", s.Name, step, md.FullName())
			}
			if i < len(steps)-1 {
				md = fd.Message()
			}
		}
	}
}
