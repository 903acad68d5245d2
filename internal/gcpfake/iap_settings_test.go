package gcpfake_test

import (
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/runguard/runguard/internal/gcpfake"
)

func TestIAPSettings_UpdateMaskLeavesOtherFieldsAlone(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		if _, err := f.iap.UpdateIapSettings(ctx, &iappb.UpdateIapSettingsRequest{IapSettings: &iappb.IapSettings{
			Name:                helloIAP,
			ApplicationSettings: &iappb.ApplicationSettings{CookieDomain: wrapperspb.String("acme.com")},
		}}); err != nil {
			t.Fatalf("replace: %v", err)
		}
		got, err := f.iap.UpdateIapSettings(ctx, &iappb.UpdateIapSettingsRequest{
			IapSettings: &iappb.IapSettings{
				Name:                helloIAP,
				AccessSettings:      &iappb.AccessSettings{CorsSettings: &iappb.CorsSettings{AllowHttpOptions: wrapperspb.Bool(true)}},
				ApplicationSettings: &iappb.ApplicationSettings{CookieDomain: wrapperspb.String("ignored.example")},
			},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_settings.access_settings.cors_settings.allow_http_options"}},
		})
		if err != nil {
			t.Fatalf("masked update: %v", err)
		}
		want := &iappb.IapSettings{
			Name:                helloIAP,
			AccessSettings:      &iappb.AccessSettings{CorsSettings: &iappb.CorsSettings{AllowHttpOptions: wrapperspb.Bool(true)}},
			ApplicationSettings: &iappb.ApplicationSettings{CookieDomain: wrapperspb.String("acme.com")},
		}
		if !proto.Equal(got, want) {
			t.Errorf("update answered %v, want %v", got, want)
		}
		read, err := f.iap.GetIapSettings(ctx, &iappb.GetIapSettingsRequest{Name: helloIAP})
		if err != nil || !proto.Equal(read, want) {
			t.Errorf("get = %v, %v; want %v", read, err, want)
		}
	})
}

func TestIAPSettings_NoMaskReplacesEverything(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		for _, s := range []*iappb.IapSettings{
			{Name: helloIAP, ApplicationSettings: &iappb.ApplicationSettings{CookieDomain: wrapperspb.String("acme.com")}},
			{Name: helloIAP, AccessSettings: &iappb.AccessSettings{CorsSettings: &iappb.CorsSettings{AllowHttpOptions: wrapperspb.Bool(true)}}},
		} {
			if _, err := f.iap.UpdateIapSettings(ctx, &iappb.UpdateIapSettingsRequest{IapSettings: s}); err != nil {
				t.Fatal(err)
			}
		}
		read, err := f.iap.GetIapSettings(ctx, &iappb.GetIapSettingsRequest{Name: helloIAP})
		if err != nil {
			t.Fatal(err)
		}
		if read.GetApplicationSettings() != nil || !read.GetAccessSettings().GetCorsSettings().GetAllowHttpOptions().GetValue() {
			t.Errorf("settings = %v, want only the second write", read)
		}
	})
}

func TestIAPSettings_UnknownMaskPathFailsInvalidArgument(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.iap.UpdateIapSettings(ctxT(t), &iappb.UpdateIapSettingsRequest{
			IapSettings: &iappb.IapSettings{Name: helloIAP},
			UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"iap_settings.access_settings.no_such_field"}},
		})
		wantCode(t, err, codes.InvalidArgument)
	})
}

func TestIAPSettings_RejectsWhatIAPDocumentsItRejects(t *testing.T) {
	reauth := func(m iappb.ReauthSettings_Method, age time.Duration) *iappb.IapSettings {
		return &iappb.IapSettings{Name: helloIAP, AccessSettings: &iappb.AccessSettings{
			ReauthSettings: &iappb.ReauthSettings{Method: m, MaxAge: durationpb.New(age), PolicyType: iappb.ReauthSettings_MINIMUM}}}
	}
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		for name, req := range map[string]*iappb.UpdateIapSettingsRequest{
			"mask not rooted at the request": {IapSettings: reauth(iappb.ReauthSettings_LOGIN, time.Hour),
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"access_settings.reauth_settings"}}},
			"one reauth field alone": {IapSettings: reauth(iappb.ReauthSettings_LOGIN, time.Hour),
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_settings.access_settings.reauth_settings.max_age"}}},
			"the name": {IapSettings: reauth(iappb.ReauthSettings_LOGIN, time.Hour),
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_settings.name"}}},
			"reauth max age under 300 s":     {IapSettings: reauth(iappb.ReauthSettings_LOGIN, time.Minute)},
			"the deprecated PASSWORD method": {IapSettings: reauth(iappb.ReauthSettings_PASSWORD, time.Hour)},
			"two workforce pools": {IapSettings: &iappb.IapSettings{Name: helloIAP, AccessSettings: &iappb.AccessSettings{
				WorkforceIdentitySettings: &iappb.WorkforceIdentitySettings{WorkforcePools: []string{"a", "b"}}}}},
		} {
			_, err := f.iap.UpdateIapSettings(ctx, req)
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s: err = %v, want InvalidArgument", name, err)
			}
		}
		// The whole reauth message, named as documented, is accepted.
		if _, err := f.iap.UpdateIapSettings(ctx, &iappb.UpdateIapSettingsRequest{IapSettings: reauth(iappb.ReauthSettings_SECURE_KEY, 5*time.Minute),
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_settings.access_settings.reauth_settings"}}}); err != nil {
			t.Errorf("documented reauth update: %v", err)
		}
	})
}

func TestIAPSettings_NoneStoredAnswersTheNameOnly(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		got, err := f.iap.GetIapSettings(ctxT(t), &iappb.GetIapSettingsRequest{Name: helloIAP})
		if err != nil || !proto.Equal(got, &iappb.IapSettings{Name: helloIAP}) {
			t.Errorf("get = %v, %v", got, err)
		}
		_, err = f.iap.GetIapSettings(ctxT(t), &iappb.GetIapSettingsRequest{Name: "projects/123456789012/iap_web/cloud_run-us-central1/services/nope"})
		wantCode(t, err, codes.NotFound)
	})
}

func TestIAP_AcceptProjectIDResolvesTheIDForm(t *testing.T) {
	forEachTransport(t, gcpfake.Options{IAPAcceptProjectID: true}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		const byID = "projects/proj-alpha/iap_web/cloud_run-us-central1/services/hello"
		if _, err := f.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: byID, Policy: &iampb.Policy{
			Bindings: []*iampb.Binding{{Role: "roles/iap.httpsResourceAccessor", Members: []string{"user:alice@example.com"}}},
		}}); err != nil {
			t.Fatalf("SetIamPolicy by ID: %v", err)
		}
		p, err := f.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: helloIAP})
		if err != nil || len(p.GetBindings()) != 1 {
			t.Errorf("policy by number = %v, %v; want the binding set by ID", p, err)
		}
		_, err = f.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/no-such-project/iap_web/cloud_run-us-central1/services/hello"})
		wantCode(t, err, codes.PermissionDenied)
	})
}
