package main

import (
	"strings"
	"testing"

	"github.com/runguard/runguard/internal/gcpfake"
)

const runguardRole = "organizations/100200300400/roles/runguard"

// doctor, as runguard's own identity, names a permission missing on one service and an API
// disabled in a project, each with its fix, and exits 1; the services that are fine say so.
func TestDoctor_NamesAMissingPermissionAndADisabledAPI(t *testing.T) {
	fake := startFake(t)
	if err := fake.AddProject(gcpfake.Project{ID: "doctor-noiap", Number: 577700000001, IAPAPIDisabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := fake.Grant("doctor-noiap", "serviceAccount:runguard@acme-ops.iam.gserviceaccount.com", runguardRole); err != nil {
		t.Fatal(err)
	}
	if err := fake.AddService(gcpfake.Service{Project: "doctor-noiap", Location: "us-central1", Name: "billing-dashboard"}); err != nil {
		t.Fatal(err)
	}
	const billing = "projects/acme-prod/locations/us-central1/services/billing-dashboard"
	fake.DenyPermission(billing, "run.services.setIamPolicy")
	r := runguard(t, fake, "", "doctor", "--project", "acme-prod,doctor-noiap", "--location", "us-central1",
		"--service", "billing-dashboard,public-site")
	if r.code != exitError {
		t.Fatalf("doctor exited %d, want 1 (something to fix):\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"lacks run.services.setIamPolicy on " + billing + ": grant the runguard role (docs/install.md)",
		"iap.googleapis.com is disabled in project doctor-noiap: gcloud services enable iap.googleapis.com --project=doctor-noiap",
		"ok    projects/acme-prod/locations/us-central1/services/public-site: every permission runguard uses",
		"2 to fix.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Count(r.stdout, "iap.googleapis.com is disabled") != 1 {
		t.Errorf("the disabled API is said more than once:\n%s", r.stdout)
	}
	if n := writes(fake); n != 0 {
		t.Errorf("doctor wrote %d times to Google", n)
	}
}

// Where everything is held, doctor says so and exits 0; runguard's role cannot list services,
// which is a note, not a fault.
func TestDoctor_NothingToFixExitsZero(t *testing.T) {
	fake := startFake(t)
	r := runguard(t, fake, "", "doctor", "--project", "acme-prod", "--location", "us-central1")
	if r.code != exitOK || !strings.Contains(r.stdout, "Nothing to fix.") {
		t.Fatalf("doctor exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "name them with --service") {
		t.Errorf("doctor does not say how to name services it may not list:\n%s", r.stdout)
	}
	r = runguard(t, fake, "", "doctor", "--project", "acme-prod", "--location", "us-central1", "--service", "billing-dashboard")
	if r.code != exitOK {
		t.Fatalf("doctor on a named service exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDoctor_WithoutAProjectSaysHowToNameOne(t *testing.T) {
	r := runCLI(t, "", "doctor")
	if r.code != exitError || !strings.Contains(r.stderr, "--project") {
		t.Fatalf("doctor without a project exited %d: %s", r.code, r.stderr)
	}
}
