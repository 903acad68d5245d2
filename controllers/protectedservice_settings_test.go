package controllers_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	iap "cloud.google.com/go/iap/apiv1"
	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// otherTool writes IAP settings as gcloud, Terraform or the console would: through Google's
// own client, with its own mask.
func (w *world) otherTool(s *iappb.IapSettings, mask ...string) {
	w.t.Helper()
	c, err := iap.NewIdentityAwareProxyAdminClient(context.Background(), fake.ClientOptions()...)
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close()
	s.Name = w.iapTarget
	req := &iappb.UpdateIapSettingsRequest{IapSettings: s}
	if len(mask) > 0 {
		req.UpdateMask = &fieldmaskpb.FieldMask{Paths: mask}
	}
	if _, err := c.UpdateIapSettings(context.Background(), req); err != nil {
		w.t.Fatalf("another tool's settings update: %v", err)
	}
	otherToolWrites.Add(w.iapTarget)
}

// otherToolWrites counts the settings writes tests made as another tool, by IAP resource.
var otherToolWrites counter

func (w *world) iapSettings() *iappb.IapSettings {
	w.t.Helper()
	c, err := iap.NewIdentityAwareProxyAdminClient(context.Background(), fake.ClientOptions()...)
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close()
	s, err := c.GetIapSettings(context.Background(), &iappb.GetIapSettingsRequest{Name: w.iapTarget})
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// settingsCalls counts this world's settings reads and the settings writes runguard made.
func (w *world) settingsCalls() (reads, writes int) {
	for _, c := range w.serviceCalls() {
		switch c.Method {
		case "iap.GetIapSettings":
			reads++
		case "iap.UpdateIapSettings":
			writes++
		}
	}
	return reads, writes - otherToolWrites.Get(w.iapTarget)
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key]++
}

func (c *counter) Get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// waitSettingsReads waits until the controller has read the settings n more times: that many
// passes saw whatever was written before.
func (w *world) waitSettingsReads(n int) {
	w.t.Helper()
	before, _ := w.settingsCalls()
	eventually(w.t, 30*time.Second, "settings read again", func() error {
		if reads, _ := w.settingsCalls(); reads < before+n {
			return errNotYet
		}
		return nil
	})
}

var (
	deniedPage = "https://help.acme.com/denied"
	reauth     = &iapv1alpha1.Reauthentication{Method: iapv1alpha1.ReauthSecureKey, MaxAge: metav1.Duration{Duration: time.Hour}}
)

func withSettings(ps *iapv1alpha1.ProtectedService, s iapv1alpha1.IAPSettings) *iapv1alpha1.ProtectedService {
	ps.Spec.IAP.Settings = &s
	return ps
}

func TestSettings_AppliedWithAMaskThatLeavesOtherToolsSettingsAlone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Another tool already owns the cookie domain and the CORS setting.
	w.otherTool(&iappb.IapSettings{
		AccessSettings:      &iappb.AccessSettings{CorsSettings: &iappb.CorsSettings{AllowHttpOptions: wrapperspb.Bool(true)}},
		ApplicationSettings: &iappb.ApplicationSettings{CookieDomain: wrapperspb.String("acme.com")},
	})
	w.create(withSettings(w.object("settings", group("devs", "user:alice@acme.com")), iapv1alpha1.IAPSettings{
		AccessDeniedPage: &iapv1alpha1.AccessDeniedPage{URI: &deniedPage}, Reauthentication: reauth,
	}))
	ps := w.waitFor("settings", iapv1alpha1.ConditionSettingsApplied, metav1.ConditionTrue, iapv1alpha1.ReasonApplied)
	w.waitReady("settings")

	got := w.iapSettings()
	if uri := got.GetApplicationSettings().GetAccessDeniedPageSettings().GetAccessDeniedPageUri().GetValue(); uri != deniedPage {
		t.Errorf("access-denied page = %q, want %q", uri, deniedPage)
	}
	if r := got.GetAccessSettings().GetReauthSettings(); r.GetMethod() != iappb.ReauthSettings_SECURE_KEY || r.GetMaxAge().AsDuration() != time.Hour ||
		r.GetPolicyType() != iappb.ReauthSettings_MINIMUM {
		t.Errorf("reauth = %v", r)
	}
	if got.GetApplicationSettings().GetCookieDomain().GetValue() != "acme.com" || !got.GetAccessSettings().GetCorsSettings().GetAllowHttpOptions().GetValue() {
		t.Errorf("the other tool's settings were not left alone: %v", got)
	}
	if _, writes := w.settingsCalls(); writes != 1 {
		t.Errorf("runguard made %d settings writes, want 1 masked update", writes)
	}
	c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionSettingsApplied)
	for _, want := range []string{"accessDeniedPage.uri", "reauthentication"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("SettingsApplied message %q does not name %s", c.Message, want)
		}
	}
	w.waitEvent("settings", corev1.EventTypeNormal, "GoogleCloudUpdated", deniedPage)

	// A setting another tool changes outside the declared ones is left alone.
	w.otherTool(&iappb.IapSettings{AccessSettings: &iappb.AccessSettings{OauthSettings: &iappb.OAuthSettings{LoginHint: wrapperspb.String("acme.com")}}},
		"iap_settings.access_settings.oauth_settings.login_hint")
	w.waitSettingsReads(2)
	if _, writes := w.settingsCalls(); writes != 1 {
		t.Errorf("runguard made %d settings writes after another tool changed an undeclared setting, want still 1", writes)
	}
	if w.iapSettings().GetAccessSettings().GetOauthSettings().GetLoginHint().GetValue() != "acme.com" {
		t.Errorf("the login hint another tool set was changed")
	}
}

func TestSettings_DriftOnADeclaredSettingIsCorrected(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(withSettings(w.object("drift-settings", group("devs", "user:alice@acme.com")), iapv1alpha1.IAPSettings{Reauthentication: reauth}))
	w.waitFor("drift-settings", iapv1alpha1.ConditionSettingsApplied, metav1.ConditionTrue, iapv1alpha1.ReasonApplied)
	w.waitReady("drift-settings")

	w.otherTool(&iappb.IapSettings{AccessSettings: &iappb.AccessSettings{ReauthSettings: &iappb.ReauthSettings{
		Method: iappb.ReauthSettings_LOGIN, MaxAge: durationpb.New(12 * time.Hour), PolicyType: iappb.ReauthSettings_DEFAULT,
	}}}, "iap_settings.access_settings.reauth_settings")

	w.waitEvent("drift-settings", corev1.EventTypeNormal, "DriftCorrected", "iap settings")
	eventually(t, 30*time.Second, "reauth restored", func() error {
		if r := w.iapSettings().GetAccessSettings().GetReauthSettings(); r.GetMethod() != iappb.ReauthSettings_SECURE_KEY || r.GetMaxAge().AsDuration() != time.Hour {
			return errNotYet
		}
		return nil
	})
}

func TestSettings_RemovedFromTheSpecIsLeftAsItIsAndClearResets(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(withSettings(w.object("removal", group("devs", "user:alice@acme.com")), iapv1alpha1.IAPSettings{
		AccessDeniedPage: &iapv1alpha1.AccessDeniedPage{URI: &deniedPage}, Reauthentication: reauth,
	}))
	w.waitFor("removal", iapv1alpha1.ConditionSettingsApplied, metav1.ConditionTrue, iapv1alpha1.ReasonApplied)

	// Reauthentication is no longer declared: it stays as it is, and is no longer corrected.
	w.update("removal", func(ps *iapv1alpha1.ProtectedService) { ps.Spec.IAP.Settings.Reauthentication = nil })
	w.waitReady("removal")
	w.otherTool(&iappb.IapSettings{AccessSettings: &iappb.AccessSettings{ReauthSettings: &iappb.ReauthSettings{
		Method: iappb.ReauthSettings_LOGIN, MaxAge: durationpb.New(2 * time.Hour), PolicyType: iappb.ReauthSettings_MINIMUM,
	}}}, "iap_settings.access_settings.reauth_settings")
	w.waitSettingsReads(2)
	if r := w.iapSettings().GetAccessSettings().GetReauthSettings(); r.GetMaxAge().AsDuration() != 2*time.Hour {
		t.Errorf("reauth no longer declared was changed: %v", r)
	}

	// clear resets it on purpose, and leaves the page alone.
	w.update("removal", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.IAP.Settings.Clear = []iapv1alpha1.SettingName{iapv1alpha1.SettingReauthentication}
	})
	eventually(t, 30*time.Second, "reauth cleared", func() error {
		if w.iapSettings().GetAccessSettings().GetReauthSettings() != nil {
			return errNotYet
		}
		return nil
	})
	// Cleared stays cleared without another write.
	_, clearedWrites := w.settingsCalls()
	w.waitSettingsReads(2)
	if _, writes := w.settingsCalls(); writes != clearedWrites {
		t.Errorf("%d more settings writes after the clear took effect, want none", writes-clearedWrites)
	}
	if w.iapSettings().GetApplicationSettings().GetAccessDeniedPageSettings().GetAccessDeniedPageUri().GetValue() != deniedPage {
		t.Errorf("clearing reauthentication touched the access-denied page")
	}

	// No settings declared at all: no condition, and no settings call.
	w.update("removal", func(ps *iapv1alpha1.ProtectedService) { ps.Spec.IAP.Settings = nil })
	w.waitUntil("removal", "SettingsApplied gone", func(ps *iapv1alpha1.ProtectedService) error {
		if meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionSettingsApplied) != nil || ps.Status.ObservedGeneration != ps.Generation {
			return errNotYet
		}
		return nil
	})
	reads, writes := w.settingsCalls()
	accessReads := func() (n int) {
		for _, c := range w.serviceCalls() {
			if c.Method == "iap.GetIamPolicy" {
				n++
			}
		}
		return n
	}
	before := accessReads()
	eventually(t, 30*time.Second, "two more passes", func() error {
		if accessReads() < before+2 {
			return errNotYet
		}
		return nil
	})
	if r, wr := w.settingsCalls(); r != reads || wr != writes {
		t.Errorf("an object declaring no settings made settings calls: reads %d→%d, writes %d→%d", reads, r, writes, wr)
	}
	if w.iapSettings().GetApplicationSettings().GetAccessDeniedPageSettings().GetAccessDeniedPageUri().GetValue() != deniedPage {
		t.Errorf("settings removed from the spec were reset")
	}
}

// Declaring settings needs the settings permissions: the preflight asks for them, names the
// missing one, and the object is Stalled while the lockdown still holds. (The project is this
// test's own: a project whose settings permissions passed is not asked again.)
func TestSettings_MissingSettingsPermissionIsNamed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, inProject(newProject(t)))
	w.create(w.object("plain", group("devs", "user:alice@acme.com")))
	w.waitReady("plain")
	fake.DenyPermission(w.iapTarget, "iap.webServices.updateSettings")
	t.Cleanup(func() { fake.AllowPermission(w.iapTarget, "iap.webServices.updateSettings") })

	// The preflight of the plain object passed; declaring settings must ask again. The same
	// edit removes a member: a role without the settings permissions must not keep that access.
	w.update("plain", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.IAP.Settings = &iapv1alpha1.IAPSettings{Reauthentication: reauth}
		ps.Spec.AccessGroups = []iapv1alpha1.AccessGroup{group("devs", "user:bob@acme.com")}
	})
	w.expectStalled("plain", iapv1alpha1.ReasonPermissionDenied, "iap.webServices.updateSettings on "+w.iapTarget)
	if got := bindingsOf(w.iapPolicy())[accessor+"|runguard:devs"]; len(got) != 1 || got[0] != "user:bob@acme.com" {
		t.Errorf("access bindings = %v while the settings permission was missing, want the edit applied (bob only)", got)
	}
	if _, writes := w.settingsCalls(); writes != 0 {
		t.Errorf("runguard wrote settings without the permission to")
	}
	if err := w.lockedDown("plain"); err != nil {
		t.Errorf("the lockdown did not hold while the settings permission was missing: %v", err)
	}
}
