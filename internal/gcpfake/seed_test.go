package gcpfake_test

import (
	"os"
	"path/filepath"
	"testing"

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
