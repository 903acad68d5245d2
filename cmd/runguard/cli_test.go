package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runguard/runguard/internal/version"
)

func TestVersion_PrintsTheBuild(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := runCLI(t, "", args...)
		if r.code != exitOK || r.stdout != version.String()+"\n" {
			t.Errorf("runguard %v exited %d printing %q, want %d and %q", args, r.code, r.stdout, exitOK, version.String()+"\n")
		}
	}
}

func TestHelp_ListsTheCommands(t *testing.T) {
	commands := []string{"export", "plan", "doctor", "who-can", "can", "version", "completion"}
	r := runCLI(t, "", "--help")
	for _, want := range commands {
		if r.code != exitOK || !strings.Contains(r.stdout, "\n  "+want+" ") {
			t.Errorf("runguard --help exited %d, want %d and the command %s listed:\n%s", r.code, exitOK, want, r.stdout)
		}
	}
	// A script that lost its command fails, with the help on standard error.
	r = runCLI(t, "")
	if r.code != exitError || r.stdout != "" || !strings.Contains(r.stderr, "\n  export ") {
		t.Errorf("runguard without a command exited %d with %q on stdout, want %d and the help on stderr:\n%s", r.code, r.stdout, exitError, r.stderr)
	}
}

func TestCompletion_GeneratesAScriptForEachShell(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := runCLI(t, "", "completion", shell)
		if r.code != exitOK || !strings.Contains(r.stdout, "runguard") {
			t.Errorf("runguard completion %s exited %d, want %d and a script naming runguard:\n%.300s%s", shell, r.code, exitOK, r.stdout, r.stderr)
		}
	}
	// The scripts ask the binary for flag values; it answers with the modes a manifest may have.
	r := runCLI(t, "", "__complete", "export", "--mode", "")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "Observe\nEnforce\n") {
		t.Errorf("completing export --mode exited %d with %q, want Observe and Enforce", r.code, r.stdout)
	}
}

// Installed as kubectl-runguard, the same binary speaks of itself as kubectl runguard.
func TestKubectlPlugin_NamesItselfAsKubectlRunguard(t *testing.T) {
	args0 := os.Args[0]
	os.Args[0] = filepath.Join(t.TempDir(), "kubectl-runguard")
	t.Cleanup(func() { os.Args[0] = args0 })
	r := runCLI(t, "", "export")
	if r.code != exitError || !strings.Contains(r.stderr, "kubectl runguard export: --project is required") {
		t.Errorf("kubectl runguard export exited %d with %q, want %d and the error under kubectl runguard's name", r.code, r.stderr, exitError)
	}
	r = runCLI(t, "", "plan", "--help")
	if r.code != exitOK || !strings.Contains(r.stdout, "kubectl runguard plan -f FILE") {
		t.Errorf("kubectl runguard plan --help exited %d, want %d and usage under kubectl runguard's name:\n%s", r.code, exitOK, r.stdout)
	}
}

// plan gives an object whose manifest names no namespace the one kubectl apply would: -n, else
// the kubeconfig context's, else "default". Only the kubeconfig file is read, never the cluster.
func TestPlan_ObjectWithoutNamespaceGetsTheContextsAsKubectlApply(t *testing.T) {
	fake := startFake(t)
	dir := t.TempDir()
	// No kubeconfig but the ones named here, and not in a pod.
	t.Setenv("KUBECONFIG", filepath.Join(dir, "absent"))
	t.Setenv("HOME", dir)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: unreachable
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: someone
  user: {token: unused}
contexts:
- name: team-a
  context: {cluster: unreachable, user: someone, namespace: team-a}
- name: team-b
  context: {cluster: unreachable, user: someone, namespace: team-b}
- name: no-namespace
  context: {cluster: unreachable, user: someone}
current-context: team-a
`), 0o600); err != nil {
		t.Fatal(err)
	}
	const manifest = `apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata:
  name: wiki
spec:
  service: {project: acme-prod, location: europe-west1, name: legacy-wiki}
`
	absent := filepath.Join(dir, "absent")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kubeconfig", kubeconfig}, "team-a"},
		{[]string{"--kubeconfig", kubeconfig, "--context", "team-b"}, "team-b"},
		{[]string{"--kubeconfig", kubeconfig, "--context", "no-namespace"}, "default"},
		{[]string{"--kubeconfig", kubeconfig, "-n", "named"}, "named"},
		{[]string{"--kubeconfig", absent, "--namespace", "named"}, "named"},
		{nil, "default"},
	} {
		r := runguard(t, fake, manifest, append([]string{"plan", "-f", "-", "--impersonate-service-account", adoption}, tc.args...)...)
		if want := "ProtectedService " + tc.want + "/wiki (Cloud Run service"; !strings.Contains(r.stdout, want) {
			t.Errorf("plan %v exited %d, want %q:\n%s%s", tc.args, r.code, want, r.stdout, r.stderr)
		}
	}
	before := len(fake.Calls())
	r := runguard(t, fake, manifest, "plan", "-f", "-", "--kubeconfig", absent)
	if r.code != exitError || !strings.Contains(r.stderr, "or name it with -n") || len(fake.Calls()) != before {
		t.Errorf("plan with a kubeconfig that does not exist exited %d with %q, want %d, -n suggested and no call to Google", r.code, r.stderr, exitError)
	}
}
