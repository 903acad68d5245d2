package gcpfake_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/runguard/runguard/internal/gcpfake"
)

// The Cloud SDK lists and edits access levels against the fake's REST surface, the way
// test/e2e's gcloud test points it at the fake (CLOUDSDK_* variables, no credentials).
func TestACM_GcloudListsAndEditsLevels(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{Seed: acmSeed()})
	gcloud := gcloudAgainst(t, f.Server, nil, "ACCESSCONTEXTMANAGER")
	if got := gcloud("access-context-manager", "levels", "list", "--policy=111111111111", "--format=value(name)"); strings.TrimSpace(got) != "corp" {
		t.Errorf("levels list = %q, want corp", got)
	}
	gcloud("access-context-manager", "levels", "update", "corp", "--policy=111111111111", "--title=Head office")
	if l, _ := f.AccessLevel(corpLevel); l.GetTitle() != "Head office" {
		t.Errorf("after gcloud's update: %v", l)
	}
}

// gcloudAgainst runs the Cloud SDK against the fake's REST surface for the APIs named (as in
// CLOUDSDK_API_ENDPOINT_OVERRIDES_{API}), with a throwaway configuration, no credentials and the
// extra environment; it skips the test where gcloud is not on PATH.
func gcloudAgainst(t *testing.T, s *gcpfake.Server, extraEnv []string, apis ...string) func(args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not on PATH")
	}
	env := append(os.Environ(), "CLOUDSDK_CONFIG="+t.TempDir(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1", "CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true")
	for _, api := range apis {
		env = append(env, "CLOUDSDK_API_ENDPOINT_OVERRIDES_"+api+"=http://"+s.HTTPEndpoint()+"/")
	}
	env = append(env, extraEnv...)
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command("gcloud", args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String()
	}
}
