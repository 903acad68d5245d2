package gcpfake_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/runguard/runguard/internal/gcpfake"
)

func TestLoadSeed_ExampleSeedStartsAFake(t *testing.T) {
	seed, err := gcpfake.LoadSeed("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(seed.Projects) != 3 || len(seed.Services) != 4 {
		t.Fatalf("seed = %+v", seed)
	}
	s, err := gcpfake.Start(gcpfake.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	p, ok := s.IAPPolicy("projects/123456789012/iap_web/cloud_run-us-central1/services/internal-tool")
	if !ok || p.Version != 3 || len(p.Bindings) != 2 {
		t.Errorf("seeded IAP policy = %v", p)
	}
	svc, ok := s.GetService("projects/no-agent-project/locations/europe-west1/services/app")
	if !ok || !svc.InvokerIamDisabled {
		t.Errorf("seeded service = %v", svc)
	}
	if ps := s.AccessPolicies(); len(ps) != 2 || len(ps[1].GetScopes()) != 1 {
		t.Errorf("seeded access policies = %v", ps)
	}
	if l, ok := s.AccessLevel("accessPolicies/555555555555/accessLevels/trusted_people"); !ok || len(l.GetBasic().GetConditions()[0].GetRequiredAccessLevels()) != 1 {
		t.Errorf("seeded access level = %v", l)
	}
}

// A seed is held to Google's rules for access policies and levels.
func TestStart_RejectsAccessPoliciesGoogleWouldNotHave(t *testing.T) {
	level := func(s string) []json.RawMessage { return []json.RawMessage{json.RawMessage(s)} }
	for name, p := range map[string]gcpfake.AccessPolicy{
		"name not a number":    {Name: "accessPolicies/acme", Parent: "organizations/1", Title: "t"},
		"parent not an org":    {Name: "accessPolicies/1", Parent: "folders/1", Title: "t"},
		"no title":             {Name: "accessPolicies/1", Parent: "organizations/1"},
		"two scopes":           {Name: "accessPolicies/1", Parent: "organizations/1", Title: "t", Scopes: []string{"projects/1", "projects/2"}},
		"level with host bits": {Name: "accessPolicies/1", Parent: "organizations/1", Title: "t", AccessLevels: level(`{"name":"l","title":"l","basic":{"conditions":[{"ipSubnetworks":["10.0.0.1/8"]}]}}`)},
		"level not protojson":  {Name: "accessPolicies/1", Parent: "organizations/1", Title: "t", AccessLevels: level(`{"name":"l","colour":"red"}`)},
	} {
		if _, err := gcpfake.Start(gcpfake.Options{Seed: gcpfake.Seed{AccessPolicies: []gcpfake.AccessPolicy{p}}}); err == nil {
			t.Errorf("%s: the fake started", name)
		}
	}
	twoOrgPolicies := []gcpfake.AccessPolicy{{Name: "accessPolicies/1", Parent: "organizations/1", Title: "a"}, {Name: "accessPolicies/2", Parent: "organizations/1", Title: "b"}}
	if _, err := gcpfake.Start(gcpfake.Options{Seed: gcpfake.Seed{AccessPolicies: twoOrgPolicies}}); err == nil {
		t.Error("an organization got two organization-level policies")
	}
}

func TestLoadSeed_RejectsUnknownFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(path, []byte("projects:\n- id: demo-project\n  number: 1\n  iapDisabled: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := gcpfake.LoadSeed(path); err == nil {
		t.Error("a misspelt field must be an error")
	}
}

func TestStart_RejectsServiceOfUnseededProject(t *testing.T) {
	_, err := gcpfake.Start(gcpfake.Options{Seed: gcpfake.Seed{Services: []gcpfake.Service{{Project: "proj-ghost", Location: "us-central1", Name: "x"}}}})
	if err == nil {
		t.Error("want an error for a service in an unseeded project")
	}
}

func TestLoadSeed_IdentitiesTurnAccessControlOn(t *testing.T) {
	a := startSeedFile(t, "testdata/seed-identities.yaml").Access()
	if !a.Enforced || a.DefaultCaller != "serviceAccount:runguard@ops-project.iam.gserviceaccount.com" || len(a.ServiceAccounts) != 2 ||
		len(a.ServiceAccounts[0].TokenCreators) != 1 || len(a.Grants["team-b-prod"]["serviceAccount:tenant-b@ops-project.iam.gserviceaccount.com"]) != 2 {
		t.Errorf("access = %+v", a)
	}
}

func TestStart_RejectsMalformedIdentities(t *testing.T) {
	project := func(grants map[string][]string) []gcpfake.Project {
		return []gcpfake.Project{{ID: "proj-alpha", Number: 1, Grants: grants}}
	}
	for name, seed := range map[string]gcpfake.Seed{
		"unknown predefined role": {Projects: project(map[string][]string{"user:a@example.com": {"roles/run.superuser"}})},
		"undeclared custom role":  {Projects: project(map[string][]string{"user:a@example.com": {"projects/proj-alpha/roles/runguard"}})},
		"not a permission":        {Projects: project(map[string][]string{"user:a@example.com": {"run services get"}})},
		"member without a kind":   {Projects: project(map[string][]string{"a@example.com": {"run.services.get"}})},
		"group as default caller": {Projects: project(nil), DefaultCaller: "group:team@example.com"},
		"service account twice": {Projects: project(nil), ServiceAccounts: []gcpfake.ServiceAccount{
			{Email: "x@proj-alpha.iam.gserviceaccount.com"}, {Email: "X@proj-alpha.iam.gserviceaccount.com"}}},
		"malformed token creator": {Projects: project(nil), ServiceAccounts: []gcpfake.ServiceAccount{
			{Email: "x@proj-alpha.iam.gserviceaccount.com", TokenCreators: []string{"runguard"}}}},
		"custom role with a wildcard": {Projects: project(nil), CustomRoles: map[string][]string{"projects/proj-alpha/roles/r": {"run.*"}}},
	} {
		if _, err := gcpfake.Start(gcpfake.Options{Seed: seed}); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// The hierarchy example seed loads: folders under the organization, the project under a folder,
// and each level's grants in its allow policy.
func TestLoadSeed_HierarchyExample(t *testing.T) {
	s := startSeedFile(t, "testdata/seed-hierarchy.yaml")
	if got, _ := s.Ancestors("acme-prod"); !slices.Equal(got, []string{"folders/200", "folders/100", "organizations/123456789"}) {
		t.Errorf("ancestors = %v", got)
	}
	for resource, member := range map[string]string{"projects/acme-prod": "user:oncall@acme.com", "folders/100": "group:platform@acme.com",
		"organizations/123456789": "group:everyone@acme.com"} {
		if p, ok := s.Policy(resource); !ok || len(p.GetBindings()) == 0 || !slices.ContainsFunc(p.GetBindings(), func(b *iampb.Binding) bool { return slices.Contains(b.GetMembers(), member) }) {
			t.Errorf("policy of %s = %v, want %s granted", resource, p, member)
		}
	}
}

func TestStart_RejectsABrokenHierarchy(t *testing.T) {
	for name, seed := range map[string]gcpfake.Seed{
		"folder under an unknown folder":  {Folders: []gcpfake.Folder{{ID: "2", Parent: "folders/1"}}},
		"folder listed after its child":   {Folders: []gcpfake.Folder{{ID: "2", Parent: "folders/1"}, {ID: "1", Parent: "organizations/9"}}},
		"project under an unknown folder": {Projects: []gcpfake.Project{{ID: "proj-alpha", Number: 1, Parent: "folders/1"}}},
		"project under a project":         {Projects: []gcpfake.Project{{ID: "proj-alpha", Number: 1, Parent: "projects/other"}}},
	} {
		if _, err := gcpfake.Start(gcpfake.Options{Seed: seed}); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// startSeedFile starts a fake seeded from a file of testdata.
func startSeedFile(t *testing.T, path string) *gcpfake.Server {
	t.Helper()
	seed, err := gcpfake.LoadSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gcpfake.Start(gcpfake.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}
