package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	adoptionNamespace = "adoption-e2e"
	adoptionIdentity  = "adoption@acme-ops.iam.gserviceaccount.com"
	legacyWiki        = "acme-prod/europe-west1/legacy-wiki"
)

// runguardCLI runs the built runguard binary against the fake, as the read-only adoption
// identity hack/demo/seed.yaml grants; it returns standard output, standard error and the exit code.
func (s *system) runguardCLI(stdin string, args ...string) (string, string, int) {
	s.t.Helper()
	args = append(args, "--run-endpoint", s.fakeGRPC, "--iap-endpoint", s.fakeGRPC, "--resourcemanager-endpoint", s.fakeGRPC,
		"--acm-endpoint", s.fakeGRPC, "--iam-endpoint", s.fakeGRPC, "--iamcredentials-endpoint", s.fakeREST, "--impersonate-service-account", adoptionIdentity,
		"--cluster-name", "e2e")
	cmd := exec.Command(filepath.Join(s.binDir, "runguard"), args...)
	cmd.Dir = s.root
	// No kubeconfig: these runs plan without a cluster, whatever the machine's ~/.kube/config says.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(s.logDir, "no-kubeconfig"))
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	case err != nil:
		s.t.Fatalf("run runguard %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), 0
}

// doctorNamesWhatIsMissing: runguard doctor, over the built binary, checks the demo's project as
// the read-only adoption identity and names each permission runguard needs that it lacks, with
// its fix, exiting 1; it writes nothing.
func doctorNamesWhatIsMissing(s *system) {
	writesBefore := googleWrites(s)
	out, stderr, code := s.runguardCLI("", "doctor", "--project", "acme-prod", "--location", "us-central1", "--service", "billing-dashboard")
	billing := "projects/acme-prod/locations/us-central1/services/billing-dashboard"
	if code != 1 || !strings.Contains(out, "run.services.setIamPolicy on "+billing) || !strings.Contains(out, "grant the runguard role (docs/install.md)") {
		s.t.Errorf("runguard doctor as the adoption identity exited %d, want 1 naming run.services.setIamPolicy on %s:\n%s%s", code, billing, out, stderr)
	}
	if got := googleWrites(s); got != writesBefore {
		s.t.Errorf("runguard doctor wrote to Google: %d writes", got-writesBefore)
	}
}

// exportedProjectObservedInSync is the adoption path of docs/adoption.md over the built binaries:
// runguard export of the seeded project, applied in Observe mode, is in sync with Google and
// makes no Google write; runguard plan agrees with no cluster; deleting the observers writes
// nothing either.
func exportedProjectObservedInSync(s *system) {
	exported, stderr, code := s.runguardCLI("", "export", "--project", "acme-prod", "--location", "us-central1,europe-west1",
		"--namespace", adoptionNamespace)
	if code != 0 {
		s.t.Fatalf("runguard export exited %d: %s", code, stderr)
	}
	for _, want := range []string{"name: ops-console", "name: billing-dashboard", "name: public-site", "name: legacy-wiki",
		"mode: Observe", "Exclusive would remove them: user:legacy-admin@acme.com", "#       notAfter: \"2027-01-01T00:00:00Z\""} {
		if !strings.Contains(exported, want) {
			s.t.Errorf("runguard export lacks %q:\n%s", want, exported)
		}
	}
	file := filepath.Join(s.logDir, "exported.yaml")
	if err := os.WriteFile(file, []byte(exported), 0o600); err != nil {
		s.t.Fatal(err)
	}

	out, stderr, code := s.runguardCLI("", "plan", "-f", file)
	if code != 0 || strings.Count(out, ": no changes") != 4 {
		s.t.Errorf("runguard plan of the export exited %d, want 0 and no changes for each of the 4 services:\n%s%s", code, out, stderr)
	}

	writesBefore := googleWrites(s)
	s.mustKubectl("create", "namespace", adoptionNamespace)
	// The export keeps public services public (publicAccess: Allow), which the admission policy
	// lets a namespace do only with its consent.
	s.mustKubectl("annotate", "namespace", adoptionNamespace, "iap.runguard.dev/allowed-projects=acme-prod", "iap.runguard.dev/allow-public=true")
	s.mustKubectl("apply", "-f", file)
	for _, name := range []string{"billing-dashboard", "public-site", "ops-console", "legacy-wiki"} {
		s.waitCondition(adoptionNamespace, name, "InSync")
		got := s.mustKubectl("get", "protectedservice", "-n", adoptionNamespace, name, "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].reason} {.status.pendingChangeCount}`)
		if got != "Observing 0" && got != "Observing" {
			s.t.Errorf("%s: Ready reason and pending changes = %q, want Observing and none", name, got)
		}
	}
	if n := googleWrites(s) - writesBefore; n != 0 {
		s.t.Errorf("applying the export in Observe mode made %d Google writes, want 0", n)
	}

	// A change to the manifest is what plan reports, with exit code 2.
	denied := strings.Replace(exported, "publicAccess: Allow\n  service:\n    location: europe-west1\n    name: legacy-wiki",
		"publicAccess: Deny\n  service:\n    location: europe-west1\n    name: legacy-wiki", 1)
	if denied == exported {
		s.t.Fatalf("the export of legacy-wiki does not read publicAccess: Allow:\n%s", exported)
	}
	out, _, code = s.runguardCLI(denied, "plan", "-f", "-")
	if code != 2 || !strings.Contains(out, "revoke allUsers from roles/run.invoker on projects/acme-prod/locations/europe-west1/services/legacy-wiki") {
		s.t.Errorf("runguard plan of legacy-wiki with publicAccess Deny exited %d, want 2 and the revocation:\n%s", code, out)
	}
	// An invalid manifest gets the API server's own message, and exit code 1.
	_, stderr, code = s.runguardCLI(strings.Replace(exported, "bindingPolicy: Merge", "bindingPolicy: Sometimes", 1), "plan", "-f", "-")
	if code != 1 || !strings.Contains(stderr, `ProtectedService.iap.runguard.dev "`) || !strings.Contains(stderr, `spec.bindingPolicy: Unsupported value: "Sometimes"`) {
		s.t.Errorf("runguard plan of an invalid manifest exited %d, want 1 and the API server's message:\n%s", code, stderr)
	}

	kubectlPlugin(s)

	s.mustKubectl("delete", "protectedservices", "-n", adoptionNamespace, "--all", "--wait=true", "--timeout=60s")
	if n := googleWrites(s) - writesBefore; n != 0 {
		s.t.Errorf("deleting the observing objects made %d Google writes, want 0", n)
	}
}

// googleWrites counts the writes the fake logged.
func googleWrites(s *system) int {
	n := 0
	for _, c := range s.calls() {
		if c.Write {
			n++
		}
	}
	return n
}

// kubectlPlugin runs the same binary as kubectl-runguard through kubectl's plugin mechanism.
func kubectlPlugin(s *system) {
	plugin := filepath.Join(s.binDir, "kubectl-runguard")
	raw, err := os.ReadFile(filepath.Join(s.binDir, "runguard"))
	if err == nil {
		err = os.WriteFile(plugin, raw, 0o755)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.kubectlBin, "runguard", "export", "--project", "acme-prod", "--location", "europe-west1", "--service", "legacy-wiki",
		"--run-endpoint", s.fakeGRPC, "--iap-endpoint", s.fakeGRPC, "--resourcemanager-endpoint", s.fakeGRPC,
		"--acm-endpoint", s.fakeGRPC, "--iamcredentials-endpoint", s.fakeREST, "--impersonate-service-account", adoptionIdentity)
	cmd.Env = append(os.Environ(), "PATH="+s.binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+filepath.Join(s.logDir, "no-kubeconfig"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "name: legacy-wiki") || strings.Contains(string(out), "name: ops-console") {
		s.t.Errorf("kubectl runguard export --service legacy-wiki: %v\n%s", err, out)
	}
}

// exportOfManagedServiceIsItsObject: a service runguard already manages is exported as the object
// that manages it — its namespace, name and access groups (naming their levels by full name), the
// hand-granted bindings as comments — followed by the AccessLevels its groups require, read as the
// adoption identity (policyReader on the access policy) and exported under the names of the
// objects that manage them; so the plan of that export, as the same identity, is empty.
func exportOfManagedServiceIsItsObject(s *system) {
	exported, stderr, code := s.runguardCLI("", "export", "--project", "acme-prod", "--location", "europe-west1", "--service", "ops-console")
	if code != 0 {
		s.t.Fatalf("runguard export exited %d: %s", code, stderr)
	}
	for _, want := range []string{"runguard already manages this service as ProtectedService platform/ops-console (cluster e2e)",
		"  name: ops-console\n  namespace: platform\n", "    - group:sre@acme.com\n    - user:oncall@acme.com\n    name: sre",
		"      - " + levelName("corp_network") + "\n      - " + levelName("managed_device") + "\n",
		"#     - user:legacy-admin@acme.com"} {
		if !strings.Contains(exported, want) {
			s.t.Errorf("the export of ops-console lacks %q:\n%s", want, exported)
		}
	}
	for _, level := range []struct{ object, short string }{{"corp-network", "corp_network"}, {"managed-device", "managed_device"}} {
		manifest := "kind: AccessLevel\nmetadata:\n  name: " + level.object + "\nspec:\n  accessPolicy: " + accessPolicy + "\n"
		if !strings.Contains(exported, manifest) || !strings.Contains(exported, "  levelName: "+level.short+"\n  mode: Observe\n") {
			s.t.Errorf("the export of ops-console lacks the AccessLevel %s (%s) in mode Observe:\n%s", level.object, levelName(level.short), exported)
		}
	}
	if n := strings.Count(exported, "kind: AccessLevel\n"); n != 2 || strings.Contains(stderr, "is not exported") {
		s.t.Errorf("the export as %s has %d AccessLevels, want the 2 its group requires, each read:\n%s%s", adoptionIdentity, n, exported, stderr)
	}

	writesBefore := googleWrites(s)
	out, stderr, code := s.runguardCLI(exported, "plan", "-f", "-")
	if code != 0 || !strings.Contains(out, "platform/ops-console (Cloud Run service acme-prod/europe-west1/ops-console): no changes") ||
		!strings.Contains(out, "AccessLevel corp-network ("+levelName("corp_network")+"): not planned") {
		s.t.Errorf("runguard plan of ops-console's export as %s exited %d, want 0, no changes and its AccessLevels listed:\n%s%s", adoptionIdentity, code, out, stderr)
	}
	if n := googleWrites(s) - writesBefore; n != 0 {
		s.t.Errorf("runguard plan made %d Google writes, want 0", n)
	}
}
