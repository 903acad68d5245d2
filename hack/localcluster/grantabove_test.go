package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runguard/runguard/internal/gcpfake"
)

const iapWeb = "projects/512345678901/iap_web"

// startDemoFake runs the fake Google Cloud of the demo's seed, its admin API on httptest.
func startDemoFake(t *testing.T) (*gcpfake.Server, policyEditor) {
	t.Helper()
	seed, err := gcpfake.LoadSeed("../demo/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fake, err := gcpfake.Start(gcpfake.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	srv := httptest.NewServer(fake.AdminHandler())
	t.Cleanup(srv.Close)
	return fake, policyEditor{driftProbe{admin: srv.URL, client: &http.Client{Timeout: 5 * time.Second}}}
}

func TestGrantAbove_GrantsOnTheProjectsIAPLevelAndRevokes(t *testing.T) {
	fake, g := startDemoFake(t)
	var out strings.Builder
	if err := g.change(context.Background(), iapWeb, accessorRole, "user:helpdesk@acme.com", false, &out); err != nil {
		t.Fatal(err)
	}
	if want := "granted user:helpdesk@acme.com roles/iap.httpsResourceAccessor on " + iapWeb; !strings.HasPrefix(out.String(), want) {
		t.Errorf("said %q, want it to start with %q", out.String(), want)
	}
	p, _ := fake.Policy(iapWeb)
	if len(p.GetBindings()) != 1 || p.GetBindings()[0].GetRole() != accessorRole || p.GetBindings()[0].GetMembers()[0] != "user:helpdesk@acme.com" {
		t.Fatalf("%s's policy after the grant: %v", iapWeb, p)
	}
	if err := g.change(context.Background(), iapWeb, accessorRole, "user:helpdesk@acme.com", false, &out); err == nil || !strings.Contains(err.Error(), "nothing to grant") {
		t.Errorf("a second grant: %v, want a refusal", err)
	}
	if err := g.change(context.Background(), iapWeb, accessorRole, "user:helpdesk@acme.com", true, &out); err != nil {
		t.Fatal(err)
	}
	if p, _ := fake.Policy(iapWeb); len(p.GetBindings()) != 0 {
		t.Errorf("%s's policy after the revocation: %v", iapWeb, p)
	}
}

func TestGrantAbove_KeepsTheProjectsOtherBindings(t *testing.T) {
	fake, g := startDemoFake(t)
	before, _ := fake.Policy("projects/acme-prod")
	if err := g.change(context.Background(), "projects/acme-prod", accessorRole, "user:helpdesk@acme.com", false, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	after, _ := fake.Policy("projects/acme-prod")
	if len(after.GetBindings()) != len(before.GetBindings())+1 {
		t.Errorf("the project's policy went from %v to %v; want one binding more", before.GetBindings(), after.GetBindings())
	}
	if err := g.change(context.Background(), "projects/acme-prod", accessorRole, "user:cfo@acme.com", true, &strings.Builder{}); err == nil {
		t.Error("revoking a role the member does not hold must be refused")
	}
}
