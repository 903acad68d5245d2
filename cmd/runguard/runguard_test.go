package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runguard/runguard/internal/gcpfake"
)

// The commands run against the fake Google Cloud seeded as the demo is, through the official
// clients, as the read-only identity the seed gives the adoption tools.
func startFake(t *testing.T) *gcpfake.Server {
	t.Helper()
	seed, err := gcpfake.LoadSeed(filepath.Join("..", "..", "hack", "demo", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fake, err := gcpfake.Start(gcpfake.Options{Seed: seed, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	return fake
}

type result struct {
	stdout, stderr string
	code           int
}

func runguard(t *testing.T, fake *gcpfake.Server, stdin string, args ...string) result {
	t.Helper()
	args = append(args, "--run-endpoint", fake.Endpoint(), "--iap-endpoint", fake.Endpoint(),
		"--resourcemanager-endpoint", fake.Endpoint(), "--acm-endpoint", fake.Endpoint(), "--iam-endpoint", fake.Endpoint(), "--iamcredentials-endpoint", fake.HTTPEndpoint(), "--cluster-name", "demo")
	return runCLI(t, stdin, args...)
}

// runCLI runs the CLI as a user's shell would, with these arguments and standard input.
func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

const adoption = "adoption@acme-ops.iam.gserviceaccount.com"

func exportProject(t *testing.T, fake *gcpfake.Server) string {
	t.Helper()
	r := runguard(t, fake, "", "export", "--project", "acme-prod", "--location", "us-central1,europe-west1", "--impersonate-service-account", adoption)
	if r.code != exitOK {
		t.Fatalf("export exited %d: %s", r.code, r.stderr)
	}
	return r.stdout
}

func writes(fake *gcpfake.Server) int {
	n := 0
	for _, c := range fake.Calls() {
		if c.Write {
			n++
		}
	}
	return n
}

// The adoption promise, without a cluster: the export of the demo's project, planned, changes
// nothing in Google, and neither command writes.
func TestExportThenPlan_DemoProjectPlansNoChange(t *testing.T) {
	fake := startFake(t)
	exported := exportProject(t, fake)
	for _, want := range []string{"name: billing-dashboard", "name: public-site", "name: ops-console", "name: legacy-wiki", "mode: Observe"} {
		if !strings.Contains(exported, want) {
			t.Errorf("export lacks %q:\n%s", want, exported)
		}
	}
	r := runguard(t, fake, exported, "plan", "-f", "-", "--impersonate-service-account", adoption)
	if r.code != exitOK || strings.Count(r.stdout, ": no changes") != 4 {
		t.Errorf("plan of the export exited %d, want %d and no changes for each of 4 services:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "checks are skipped") {
		t.Errorf("plan without --annotation does not say the namespace checks were skipped: %s", r.stderr)
	}
	if n := writes(fake); n != 0 {
		t.Errorf("export and plan made %d Google writes, want 0", n)
	}
}

func TestPlan_ChangesExitTwoAndListWhatEnforceWouldWrite(t *testing.T) {
	fake := startFake(t)
	exported := exportProject(t, fake)
	// legacy-wiki is public: say it may not be, and take over its hand-granted access.
	changed := strings.Replace(exported, "publicAccess: Allow\n  service:\n    location: europe-west1\n    name: legacy-wiki",
		"publicAccess: Deny\n  service:\n    location: europe-west1\n    name: legacy-wiki", 1)
	changed = strings.Replace(changed, "  bindingPolicy: Merge\n  iap:\n    enabled: true\n  mode: Observe\n  publicAccess: Deny\n  service:\n    location: europe-west1\n    name: legacy-wiki",
		"  accessGroups:\n  - name: editors\n    members: [group:wiki-editors@acme.com]\n  bindingPolicy: Exclusive\n  iap:\n    enabled: true\n  mode: Observe\n  publicAccess: Deny\n  service:\n    location: europe-west1\n    name: legacy-wiki", 1)
	if !strings.Contains(changed, "bindingPolicy: Exclusive") {
		t.Fatalf("the export of legacy-wiki is not in the expected form:\n%s", exported)
	}
	file := filepath.Join(t.TempDir(), "wiki.yaml")
	if err := os.WriteFile(file, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runguard(t, fake, "", "plan", "-f", file, "--impersonate-service-account", adoption,
		"--annotation", "iap.runguard.dev/allowed-projects=acme-prod")
	if r.code != exitChanges {
		t.Fatalf("plan exited %d, want %d:\n%s%s", r.code, exitChanges, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"legacy-wiki): 4 changes",
		"grant roles/iap.httpsResourceAccessor to group:wiki-editors@acme.com (runguard:editors)",
		"remove group:wiki-editors@acme.com (unconditional) from roles/iap.httpsResourceAccessor",
		"remove user:tech-writer@acme.com (drafts only) from roles/iap.httpsResourceAccessor",
		"revoke allUsers from roles/run.invoker on projects/acme-prod/locations/europe-west1/services/legacy-wiki",
		"ops-console (Cloud Run service acme-prod/europe-west1/ops-console): no changes",
		"Plan: 4 changes to 1 object; 0 could not be planned.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := writes(fake); n != 0 {
		t.Errorf("plan made %d Google writes, want 0", n)
	}
}

func TestPlan_AssumedNamespaceAnnotationsAreEnforced(t *testing.T) {
	fake := startFake(t)
	exported := exportProject(t, fake)
	r := runguard(t, fake, exported, "plan", "-f", "-", "--impersonate-service-account", adoption,
		"--annotation", "iap.runguard.dev/allowed-projects=acme-payroll")
	if r.code != exitError || !strings.Contains(r.stdout, "cannot be planned: ProjectNotAllowed") {
		t.Errorf("plan in a namespace that may not target acme-prod exited %d, want %d and ProjectNotAllowed:\n%s", r.code, exitError, r.stdout)
	}
}

func TestPlan_InvalidManifestGetsTheAPIServersMessage(t *testing.T) {
	fake := startFake(t)
	manifest := `apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata:
  name: wiki
spec:
  service: {project: acme-prod, location: europe-west1, name: legacy-wiki}
  accessGroups:
  - name: everyone
    members: [allUsers]
`
	r := runguard(t, fake, manifest, "plan", "-f", "-")
	want := `ProtectedService.iap.runguard.dev "wiki" is invalid: `
	if r.code != exitError || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "allUsers and allAuthenticatedUsers cannot be IAP members") {
		t.Errorf("plan of an invalid manifest exited %d, want %d and %q with the CRD's CEL message:\n%s", r.code, exitError, want, r.stderr)
	}
	if len(fake.Calls()) != 0 {
		t.Errorf("an invalid manifest reached Google: %d calls", len(fake.Calls()))
	}
}

func TestExport_UnreadableProjectNamesTheMissingPermission(t *testing.T) {
	fake := startFake(t)
	for _, tc := range []struct {
		name       string
		args       []string
		permission string
	}{
		{"no grant in the project", []string{"--project", "acme-payroll", "--location", "us-central1", "--impersonate-service-account", adoption},
			"adoption@acme-ops.iam.gserviceaccount.com lacks the permission resourcemanager.projects.get on acme-payroll"},
		// runguard's own identity (the seed's default caller) may manage services, not list them.
		{"a role without run.services.list", []string{"--project", "acme-prod", "--location", "us-central1"},
			"lacks the permission run.services.list on projects/acme-prod/locations/us-central1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runguard(t, fake, "", append([]string{"export"}, tc.args...)...)
			if r.code != exitError || !strings.Contains(r.stderr, tc.permission) || r.stdout != "" {
				t.Errorf("export exited %d with %q, want %d, no manifest and %q", r.code, r.stderr, exitError, tc.permission)
			}
		})
	}
}

func TestExport_RefusesNonsenseFlags(t *testing.T) {
	fake := startFake(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export"}, "--project is required"},
		{[]string{"export", "--project", "acme-prod", "--mode", "Sometimes"}, "--mode must be Observe or Enforce"},
		{[]string{"export", "--project", "acme-prod", "--namespace", "Not_A_Namespace"}, "is not a namespace name"},
		{[]string{"plan"}, "no manifest"},
		{[]string{"export", "--project", "acme-prod", "--location", "us-central1", "--service", "nope", "--impersonate-service-account", adoption},
			"no Cloud Run service nope in project acme-prod"},
		{[]string{"plan", "-f", "-", "--annotation", "novalue"}, "want KEY=VALUE"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	} {
		r := runguard(t, fake, "", tc.args...)
		if r.code != exitError || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("runguard %v exited %d with %q, want %d and %q", tc.args, r.code, r.stderr, exitError, tc.want)
		}
	}
}

func TestPlan_InputWithoutProtectedServiceIsAnError(t *testing.T) {
	fake := startFake(t)
	r := runguard(t, fake, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", "plan", "-f", "-")
	if r.code != exitError || !strings.Contains(r.stderr, "no ProtectedService in -") || !strings.Contains(r.stderr, "skipped v1 ConfigMap x") {
		t.Errorf("plan of a ConfigMap exited %d with %q, want %d, the skipped object named and no ProtectedService", r.code, r.stderr, exitError)
	}
}

// A manifest in Enforce mode is planned as it would be applied: what Enforce would write,
// including switching IAP on, with no wait for a rollout that plan never starts.
func TestPlan_EnforceManifestListsTheIAPSwitch(t *testing.T) {
	fake := startFake(t)
	manifest := `apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata:
  name: billing
  namespace: finance
spec:
  service: {project: acme-prod, location: us-central1, name: billing-dashboard}
  accessGroups:
  - name: analysts
    members: [group:finance-analysts@acme.com]
`
	r := runguard(t, fake, manifest, "plan", "-f", "-", "--impersonate-service-account", adoption)
	if r.code != exitChanges {
		t.Fatalf("plan exited %d, want %d:\n%s%s", r.code, exitChanges, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"grant roles/run.invoker on projects/acme-prod/locations/us-central1/services/billing-dashboard to IAP's service agent",
		"grant roles/iap.httpsResourceAccessor to group:finance-analysts@acme.com (runguard:analysts)",
		"switch IAP on for projects/acme-prod/locations/us-central1/services/billing-dashboard",
		"finance/billing (Cloud Run service acme-prod/us-central1/billing-dashboard): 3 changes",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := writes(fake); n != 0 {
		t.Errorf("plan made %d Google writes, want 0", n)
	}
}

// plan runs as its caller: a denial names the caller and the read permissions plan needs, not
// runguard's identity and its role.
func TestPlan_DenialNamesTheCallerAndItsReadPermissions(t *testing.T) {
	fake := startFake(t)
	manifest := `apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata:
  name: payroll
spec:
  service: {project: acme-payroll, location: us-central1, name: payroll-api}
`
	r := runguard(t, fake, manifest, "plan", "-f", "-", "--impersonate-service-account", adoption)
	if r.code != exitError || !strings.Contains(r.stdout, "cannot be planned: PermissionDenied") ||
		!strings.Contains(r.stdout, adoption+" lacks resourcemanager.projects.get") || strings.Contains(r.stdout, "runguard's Google identity") {
		t.Errorf("plan in a project the caller cannot read exited %d, want %d and the caller named:\n%s", r.code, exitError, r.stdout)
	}
}

// The tests read no cluster unless they name a kubeconfig: the machine's ~/.kube/config must not
// decide what export and plan see.
func TestMain(m *testing.M) {
	if err := os.Setenv("KUBECONFIG", filepath.Join(os.TempDir(), "runguard-tests-no-kubeconfig")); err != nil {
		panic(err)
	}
	code := m.Run()
	if sharedEnv != nil {
		_ = sharedEnv.Stop()
	}
	os.Exit(code)
}
