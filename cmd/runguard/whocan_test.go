package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
)

// who-can lists every principal that can pass IAP, innermost first: runguard's own binding naming
// the ProtectedService and group of its mark, the grants by hand, and those inherited with their
// level; a role that does not carry the permission IAP checks is left out.
func TestWhoCan_ListsDeclaredHandGrantedAndInheritedPrincipals(t *testing.T) {
	fake := startAccessFake(t)
	r := reachCLI(t, fake, "who-can", billing)
	if r.code != exitOK {
		t.Fatalf("who-can exited %d, want %d:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := [][]string{
		{"MEMBER", "ROLE", "LEVEL", "GRANTED", "WHEN"},
		{"group:finance@acme.com", "service", "runguard: group finance of ProtectedService finance/billing-dashboard (cluster demo)", "from corp_network, on paths /reports/*"},
		{"user:cfo@acme.com", "service", "runguard: group finance of ProtectedService finance/billing-dashboard"},
		{"user:mobile@acme.com", "service", "by hand", "from managed_device"},
		{"user:tech-writer@acme.com", "service", `by hand ("drafts only")`, "on paths /drafts/*"},
		{"user:auditor@acme.com", "iap-project", "inherited from projects/512345678901/iap_web", "always"},
		{"user:oncall@acme.com", "roles/iap.httpsResourceAccessor", "project", "inherited from projects/512345678901"},
		{"group:platform@acme.com", "folder", "inherited from folders/100"},
		{"group:everyone@acme.com", "organizations/123456789/roles/webUser", "organization", "inherited from organizations/123456789"},
	}
	if len(rows) != len(want) {
		t.Fatalf("who-can listed %d lines, want %d:\n%s", len(rows), len(want), r.stdout)
	}
	for i, parts := range want {
		for _, p := range parts {
			if !strings.Contains(rows[i], p) {
				t.Errorf("line %d of who-can lacks %q: %s", i+1, p, rows[i])
			}
		}
	}
	if strings.Contains(r.stdout, "viewer@acme.com") {
		t.Errorf("who-can lists roles/viewer, which does not let anyone through IAP:\n%s", r.stdout)
	}
}

// -o json and -o yaml carry the same report, with the mark's owner as fields.
func TestWhoCan_JSONAndYAML(t *testing.T) {
	fake := startAccessFake(t)
	for _, format := range []string{"json", "yaml"} {
		r := reachCLI(t, fake, "who-can", billing, "-o", format)
		var report whoCanReport
		var err error
		if format == "json" {
			err = json.Unmarshal([]byte(r.stdout), &report)
		} else {
			err = yaml.UnmarshalStrict([]byte(r.stdout), &report)
		}
		if r.code != exitOK || err != nil || len(report.Grants) != 8 {
			t.Fatalf("who-can -o %s exited %d (%v), want %d and 8 grants:\n%s%s", format, r.code, err, exitOK, r.stdout, r.stderr)
		}
		first := report.Grants[0]
		if first.Member != "group:finance@acme.com" || first.Source != sourceRunguard || first.Owner == nil ||
			*first.Owner != (ownerView{Cluster: "demo", Namespace: "finance", Name: "billing-dashboard", Group: "finance"}) {
			t.Errorf("-o %s: first grant %+v, want group:finance@acme.com declared by finance/billing-dashboard's group finance", format, first)
		}
		if last := report.Grants[7]; last.Level != "organization" || last.Source != sourceInherited || last.Resource != "organizations/123456789" {
			t.Errorf("-o %s: last grant %+v, want the organization's", format, last)
		}
		if report.IAPEnabled == nil || !*report.IAPEnabled || report.IAPResource != billingIAP {
			t.Errorf("-o %s: iapEnabled %v, iapResource %q", format, report.IAPEnabled, report.IAPResource)
		}
	}
}

// What the caller may not read is named, the rest listed, and the exit code says the list is
// incomplete.
func TestWhoCan_PolicyTheCallerMayNotReadMakesTheListIncomplete(t *testing.T) {
	fake := startAccessFake(t)
	r := reachCLI(t, fake, "who-can", billing, "--impersonate-service-account", narrowReader)
	if r.code != exitError || !strings.Contains(r.stdout, "user:tech-writer@acme.com") ||
		!strings.Contains(r.stdout, "not listed: what the policy of projects/512345678901 grants: the caller lacks resourcemanager.projects.getIamPolicy") ||
		!strings.Contains(r.stderr, "the list is incomplete: "+narrowReader+" may not read") {
		t.Errorf("who-can as %s exited %d, want %d, the service's grants, and what it may not read named:\n%s%s", narrowReader, r.code, exitError, r.stdout, r.stderr)
	}
}

func TestWhoCan_UnknownServiceAndBadTargetAreErrors(t *testing.T) {
	fake := startAccessFake(t)
	for _, tc := range []struct{ target, says string }{
		{"acme-prod/us-central1/nope", "no such Cloud Run service: projects/acme-prod/locations/us-central1/services/nope"},
		{"acme-prod/billing-dashboard", `"acme-prod/billing-dashboard" is not PROJECT/REGION/SERVICE`},
	} {
		r := reachCLI(t, fake, "who-can", tc.target)
		if r.code != exitError || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("who-can %s exited %d, want %d and %q:\n%s%s", tc.target, r.code, exitError, tc.says, r.stdout, r.stderr)
		}
	}
}

// A binding runguard wrote for an AccessGrant is shown as the grant with when its condition ends;
// one whose end has passed is listed apart, still bound but admitting no one, not as access.
func TestWhoCan_AccessGrantBindingsNameTheGrantAndWhenItEnds(t *testing.T) {
	fake := startAccessFake(t)
	ends := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	ended := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	policy, _ := fake.IAPPolicy(billingIAP)
	policy.Bindings = append(policy.Bindings,
		grantBinding(t, "month-end-x7k2p", "user:alice@acme.com", ends), grantBinding(t, "audit-q3", "user:bob@acme.com", ended))
	if err := fake.SetIAPPolicy(billingIAP, policy); err != nil {
		t.Fatal(err)
	}
	r := reachCLI(t, fake, "who-can", billing)
	if r.code != exitOK {
		t.Fatalf("who-can exited %d, want %d:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	alice := "user:alice@acme.com  roles/iap.httpsResourceAccessor  service  runguard: grant month-end-x7k2p on ProtectedService finance/billing-dashboard (cluster demo), until " +
		ends.Format(time.RFC3339) + " (in 1h59m)"
	expired := "expired, still bound: user:bob@acme.com by runguard: grant audit-q3 on ProtectedService finance/billing-dashboard (cluster demo), expired " +
		ended.Format(time.RFC3339) + " (1h ago): its condition admits no one"
	if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), strings.Join(strings.Fields(alice), " ")) || !strings.Contains(r.stdout, expired) {
		t.Errorf("who-can does not show alice's grant until %s and bob's as expired:\n%s", ends.Format(time.RFC3339), r.stdout)
	}
	if n := strings.Count(r.stdout, "user:bob@acme.com"); n != 1 {
		t.Errorf("who-can names bob %d times, want only as expired:\n%s", n, r.stdout)
	}

	r = reachCLI(t, fake, "who-can", billing, "-o", "json")
	var report whoCanReport
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil || r.code != exitOK || len(report.Grants) != 9 || len(report.Expired) != 1 {
		t.Fatalf("who-can -o json exited %d (%v), want 9 grants and 1 expired:\n%s", r.code, err, r.stdout)
	}
	var got *accessGrantView
	for _, g := range report.Grants {
		if g.Member == "user:alice@acme.com" {
			got = g.AccessGrant
			if g.Source != sourceAccessGrant || g.Owner == nil || g.Owner.Group != "grant.month-end-x7k2p" {
				t.Errorf("alice's grant is %+v, want source grant and the mark's owner", g.grantView)
			}
		}
	}
	if got == nil || got.Name != "month-end-x7k2p" || got.ExpiresAt == nil || !got.ExpiresAt.Equal(ends) || got.Expired {
		t.Errorf("alice's accessGrant is %+v, want month-end-x7k2p expiring at %s", got, ends)
	}
	if e := report.Expired[0]; e.Member != "user:bob@acme.com" || e.AccessGrant == nil || !e.AccessGrant.Expired || !e.AccessGrant.ExpiresAt.Equal(ended) {
		t.Errorf("the expired entry is %+v, want bob's grant audit-q3, expired at %s", e, ended)
	}
}

// grantBinding is the binding runguard writes for AccessGrant name of finance/billing-dashboard
// while it is active: group finance's context (corp_network, /reports/) until ends.
func grantBinding(t *testing.T, name, member string, ends time.Time) *iampb.Binding {
	t.Helper()
	c, err := iampolicy.CompileCondition(iampolicy.Owner{Cluster: "demo", Namespace: "finance", Name: "billing-dashboard"},
		iampolicy.AccessGroup{Name: iapv1alpha1.GrantGroupPrefix + name, Members: []string{member},
			Context: iampolicy.Context{AccessLevels: []string{corpNetwork}, PathPrefixes: []string{"/reports/"}, NotAfter: &ends}})
	if err != nil {
		t.Fatal(err)
	}
	return &iampb.Binding{Role: iampolicy.AccessorRole, Members: []string{member}, Condition: c}
}
