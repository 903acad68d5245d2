package packaging

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/runguard/runguard/internal/testenv"
)

const installNamespace = "runguard-system"

func repoPath(parts ...string) string {
	return filepath.Join(append([]string{testenv.RepoRoot()}, parts...)...)
}

// pinnedTool is bin/<tool>-<version>, the version read from hack/tools/<tool>/go.mod exactly as
// hack/packaging.mk reads it, so the tests never run a stale build.
func pinnedTool(t *testing.T, tool, module string) string {
	t.Helper()
	f, err := os.Open(repoPath("hack", "tools", tool, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var version string
	for s := bufio.NewScanner(f); s.Scan(); {
		if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == module {
			version = fields[1]
			break
		}
	}
	if version == "" {
		t.Fatalf("hack/tools/%s/go.mod does not require %s", tool, module)
	}
	bin := repoPath("bin", tool+"-"+version)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s %s is not built (%v): run `make packaging-prereqs` (`make test` does)", tool, version, err)
	}
	return bin
}

func kustomizeBin(t *testing.T) string {
	return pinnedTool(t, "kustomize", "sigs.k8s.io/kustomize/kustomize/v5")
}

func helmBin(t *testing.T) string { return pinnedTool(t, "helm", "helm.sh/helm/v3") }

// runTool runs a tool from the repository root; helm gets its own empty home so it neither reads
// nor writes the user's repositories and caches.
func runTool(t *testing.T, bin string, args ...string) ([]byte, error) {
	t.Helper()
	return runToolIn(t, testenv.RepoRoot(), bin, args...)
}

func runToolIn(t *testing.T, dir, bin string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), errors.New(strings.TrimSpace(err.Error() + ": " + stderr.String() + stdout.String()))
	}
	return stdout.Bytes(), nil
}

func mustRun(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	out, err := runTool(t, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return out
}

func decodeObjects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decode rendered manifests: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// kustomizationResources lists the resources of dir's kustomization.yaml, as written.
func kustomizationResources(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	return k.Resources
}

func renderKustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	return decodeObjects(t, mustRun(t, kustomizeBin(t), "build", dir))
}

func renderHelm(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "runguard", repoPath("charts", "runguard"), "--namespace", installNamespace, "--include-crds"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return decodeObjects(t, mustRun(t, helmBin(t), args...))
}

type rendering struct {
	name string
	objs []*unstructured.Unstructured
}

// installs are the two ways a platform team installs runguard, with default settings.
func installs(t *testing.T) []rendering {
	return []rendering{
		{"kustomize config/default", renderKustomize(t, repoPath("config", "default"))},
		{"helm template", renderHelm(t)},
	}
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func mustFind(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		t.Fatalf("no %s %s rendered", kind, name)
	}
	return o
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

var (
	managerOnce sync.Once
	managerPath string
	managerErr  error
)

// managerBinary builds ./cmd/manager the way the Dockerfile does.
func managerBinary(t *testing.T) string {
	t.Helper()
	managerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "runguard-manager-")
		if err != nil {
			managerErr = err
			return
		}
		managerPath = filepath.Join(dir, "manager")
		cmd := exec.Command("go", "build", "-trimpath", "-o", managerPath, "./cmd/manager")
		cmd.Dir = testenv.RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			managerErr = errors.New(err.Error() + ": " + string(out))
		}
	})
	if managerErr != nil {
		t.Fatalf("build the manager: %v", managerErr)
	}
	return managerPath
}
