package gcpfake_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/gcpfake/frontdoor"
)

const (
	doorOrg     = "organizations/700000000001"
	doorPolicy  = "accessPolicies/700000000002"
	doorScoped  = "accessPolicies/700000000003"
	doorProject = "door-prod"
)

// doorSeed is a project under a folder and an organization whose organization-level access
// policy and a policy scoped to the project each hold a level admitting 203.0.113.0/24, and two
// services, one behind IAP.
func doorSeed(t *testing.T) gcpfake.Seed {
	t.Helper()
	level := func(name string) json.RawMessage {
		raw, err := protojson.Marshal(ipLevel(name, "office", "203.0.113.0/24"))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	return gcpfake.Seed{
		Folders:  []gcpfake.Folder{{ID: "700000000004", Parent: doorOrg}},
		Projects: []gcpfake.Project{{ID: doorProject, Number: 700000000005, Parent: "folders/700000000004"}},
		Services: []gcpfake.Service{{Project: doorProject, Location: "europe-west1", Name: "reports", IAPEnabled: true},
			{Project: doorProject, Location: "europe-west1", Name: "open"}},
		AccessPolicies: []gcpfake.AccessPolicy{
			{Name: doorPolicy, Parent: doorOrg, Title: "org", AccessLevels: []json.RawMessage{level(doorPolicy + "/accessLevels/office")}},
			{Name: doorScoped, Parent: doorOrg, Title: "scoped", Scopes: []string{"projects/700000000005"},
				AccessLevels: []json.RawMessage{level(doorScoped + "/accessLevels/office")}},
		},
	}
}

// open sends a GET for a service's URI, as Cloud Run reports it, to the fake's front door.
func open(t *testing.T, s *gcpfake.Server, service, path string, headers map[string]string) *http.Response {
	t.Helper()
	svc, ok := s.GetService("projects/" + doorProject + "/locations/europe-west1/services/" + service)
	if !ok {
		t.Fatalf("service %s not found", service)
	}
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, svc.GetUri()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: frontdoor.Transport(s.FrontDoorEndpoint())}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func TestFrontDoor_DecidesAServicesURIFromTheStoredPolicies(t *testing.T) {
	s, err := gcpfake.Start(gcpfake.Options{Seed: doorSeed(t), FrontDoorAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	alice := map[string]string{frontdoor.HeaderPrincipal: "user:alice@acme.com", frontdoor.HeaderSourceIP: "203.0.113.7"}
	if got := open(t, s, "reports", "/", alice).StatusCode; got != http.StatusForbidden {
		t.Fatalf("before any grant: status %d, want 403", got)
	}
	if got := open(t, s, "open", "/", nil).StatusCode; got != http.StatusOK {
		t.Errorf("a service with IAP off: status %d, want 200", got)
	}
	grant := func(level string) {
		t.Helper()
		err := s.SetPolicy(doorOrg, &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{{Role: "roles/iap.httpsResourceAccessor",
			Members: []string{"domain:acme.com"}, Condition: &expr.Expr{Title: "office", Expression: `"` + level + `" in request.auth.access_levels`}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	grant(doorPolicy + "/accessLevels/office")
	resp := open(t, s, "reports", "/q3", alice)
	if resp.StatusCode != http.StatusOK || resp.Header.Get(frontdoor.HeaderUserEmail) != "accounts.google.com:alice@acme.com" {
		t.Errorf("granted on the organization: status %d, %s %q", resp.StatusCode, frontdoor.HeaderUserEmail, resp.Header.Get(frontdoor.HeaderUserEmail))
	}
	// IAP takes levels from the organization's access policy only, not from scoped ones.
	grant(doorScoped + "/accessLevels/office")
	if got := open(t, s, "reports", "/q3", alice).StatusCode; got != http.StatusForbidden {
		t.Errorf("a level of a scoped policy: status %d, want 403", got)
	}
}

func TestFrontDoor_AnAddressThatCannotBeListenedOnFailsStart(t *testing.T) {
	if s, err := gcpfake.Start(gcpfake.Options{FrontDoorAddr: "203.0.113.1:1"}); err == nil {
		s.Stop()
		t.Fatal("Start listened on an address of another machine")
	}
}
