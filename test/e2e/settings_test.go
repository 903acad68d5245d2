package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	iap "cloud.google.com/go/iap/apiv1"
	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// billingIAP is the IAP resource of the sample's service (the demo seed's project number).
const billingIAP = "projects/512345678901/iap_web/cloud_run-us-central1/services/billing-dashboard"

// iapClient is Google's own IAP client on the fake: how another tool (Terraform, a script)
// reads and writes settings.
func (s *system) iapClient() *iap.IdentityAwareProxyAdminClient {
	s.t.Helper()
	c, err := iap.NewIdentityAwareProxyAdminClient(context.Background(), option.WithEndpoint(s.fakeGRPC),
		option.WithoutAuthentication(), option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

func (s *system) billingSettings(c *iap.IdentityAwareProxyAdminClient) *iappb.IapSettings {
	s.t.Helper()
	got, err := c.GetIapSettings(context.Background(), &iappb.GetIapSettingsRequest{Name: billingIAP})
	if err != nil {
		s.t.Fatal(err)
	}
	return got
}

// settingsReads counts the manager's reads of the sample's settings.
func (s *system) settingsReads() (n int) {
	for _, c := range s.calls() {
		if c.Method == "iap.GetIapSettings" && c.Resource == billingIAP {
			n++
		}
	}
	return n
}

// iapSettingsKeptAsDeclared: the sample declares an access-denied page and re-authentication.
// runguard writes them with a masked update, leaves what another tool sets beside them, puts a
// declared setting back when it drifts, and stops managing one the spec no longer declares.
func iapSettingsKeptAsDeclared(s *system) {
	s.waitCondition("finance", "billing-dashboard", "SettingsApplied")
	c := s.iapClient()
	got := s.billingSettings(c)
	page := got.GetApplicationSettings().GetAccessDeniedPageSettings()
	reauth := got.GetAccessSettings().GetReauthSettings()
	if page.GetAccessDeniedPageUri().GetValue() != "https://help.acme.com/access-denied" || !page.GetGenerateTroubleshootingUri().GetValue() ||
		reauth.GetMethod() != iappb.ReauthSettings_SECURE_KEY || reauth.GetMaxAge().AsDuration() != 12*time.Hour {
		s.t.Fatalf("settings in Google = %v, want the sample's access-denied page and re-authentication", got)
	}

	// Another tool sets the cookie domain and, in the same request, changes the declared reauth.
	if _, err := c.UpdateIapSettings(context.Background(), &iappb.UpdateIapSettingsRequest{
		IapSettings: &iappb.IapSettings{Name: billingIAP,
			AccessSettings: &iappb.AccessSettings{ReauthSettings: &iappb.ReauthSettings{
				Method: iappb.ReauthSettings_LOGIN, MaxAge: durationpb.New(7 * 24 * time.Hour), PolicyType: iappb.ReauthSettings_MINIMUM}},
			ApplicationSettings: &iappb.ApplicationSettings{CookieDomain: wrapperspb.String("acme.com")}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_settings.access_settings.reauth_settings", "iap_settings.application_settings.cookie_domain"}},
	}); err != nil {
		s.t.Fatal(err)
	}
	eventually(s.t, 30*time.Second, "the declared re-authentication is put back", func() error {
		if r := s.billingSettings(c).GetAccessSettings().GetReauthSettings(); r.GetMethod() != iappb.ReauthSettings_SECURE_KEY || r.GetMaxAge().AsDuration() != 12*time.Hour {
			return fmt.Errorf("reauth is %v", r)
		}
		return nil
	})
	if d := s.billingSettings(c).GetApplicationSettings().GetCookieDomain().GetValue(); d != "acme.com" {
		s.t.Errorf("the cookie domain another tool set is %q after runguard's correction, want acme.com", d)
	}

	s.t.Run("gcloud shows what runguard wrote", func(t *testing.T) {
		if _, err := exec.LookPath("gcloud"); err != nil {
			t.Skip("the Google Cloud SDK (gcloud) is not on PATH; install it to check the settings with `gcloud beta iap settings get`")
		}
		g := newGcloud(t, s.fakeREST, "acme-prod")
		out := g.run("beta", "iap", "settings", "get", "--project=acme-prod", "--resource-type=cloud-run",
			"--region=us-central1", "--service=billing-dashboard", "--format=json")
		var shown struct {
			AccessSettings struct {
				ReauthSettings struct{ Method, MaxAge string } `json:"reauthSettings"`
			} `json:"accessSettings"`
			ApplicationSettings struct {
				AccessDeniedPageSettings struct {
					AccessDeniedPageURI string `json:"accessDeniedPageUri"`
				} `json:"accessDeniedPageSettings"`
				CookieDomain string `json:"cookieDomain"`
			} `json:"applicationSettings"`
		}
		if err := json.Unmarshal([]byte(out), &shown); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if shown.AccessSettings.ReauthSettings.Method != "SECURE_KEY" || shown.AccessSettings.ReauthSettings.MaxAge != "43200s" ||
			shown.ApplicationSettings.AccessDeniedPageSettings.AccessDeniedPageURI != "https://help.acme.com/access-denied" ||
			shown.ApplicationSettings.CookieDomain != "acme.com" {
			t.Errorf("gcloud shows %s", out)
		}
	})

	// The troubleshooting link is no longer declared: another tool's change to it stays.
	s.mustKubectl("patch", "protectedservice", "-n", "finance", "billing-dashboard", "--type=json",
		`-p=[{"op":"remove","path":"/spec/iap/settings/accessDeniedPage/troubleshootingLink"}]`)
	// Only once a pass has seen the new generation can no pass still put the link back.
	s.waitConverged("finance", "billing-dashboard")
	if _, err := c.UpdateIapSettings(context.Background(), &iappb.UpdateIapSettingsRequest{
		IapSettings: &iappb.IapSettings{Name: billingIAP, ApplicationSettings: &iappb.ApplicationSettings{
			AccessDeniedPageSettings: &iappb.AccessDeniedPageSettings{GenerateTroubleshootingUri: wrapperspb.Bool(false)}}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_settings.application_settings.access_denied_page_settings.generate_troubleshooting_uri"}},
	}); err != nil {
		s.t.Fatal(err)
	}
	before := s.settingsReads()
	eventually(s.t, 30*time.Second, "two more passes read the settings", func() error {
		if s.settingsReads() < before+2 {
			return fmt.Errorf("%d reads since the change", s.settingsReads()-before)
		}
		return nil
	})
	page = s.billingSettings(c).GetApplicationSettings().GetAccessDeniedPageSettings()
	if page.GetGenerateTroubleshootingUri().GetValue() || page.GetAccessDeniedPageUri().GetValue() != "https://help.acme.com/access-denied" {
		s.t.Errorf("after the troubleshooting link left the spec: %v, want it left false and the page kept", page)
	}
	if out := s.mustKubectl("get", "protectedservice", "-n", "finance", "billing-dashboard", "-o",
		`jsonpath={.status.conditions[?(@.type=="SettingsApplied")].message}`); strings.Contains(out, "troubleshootingLink") {
		s.t.Errorf("SettingsApplied still names the troubleshooting link: %s", out)
	}
}

// invalidSettingsRejected: a re-authentication shorter than Google's minimum never reaches the
// controller.
func invalidSettingsRejected(s *system) {
	out, err := s.kubectl(`apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: quick-reauth, namespace: finance}
spec:
  service: {project: acme-prod, location: us-central1, name: billing-dashboard}
  iap:
    settings:
      reauthentication: {method: Login, maxAge: 1m}
`, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "maxAge must be at least 5m") {
		s.t.Errorf("kubectl apply with a 1-minute re-authentication: err=%v, output %q; want the CRD's message", err, out)
	}
}
