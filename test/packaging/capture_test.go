package packaging

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

var captureHealthFixtures = flag.Bool("capture-health-fixtures", false,
	"write the ProtectedServices the real manager produced to internal/health/testdata/captured/")

// capture keeps a live object as an internal/health fixture, so the health tests also run
// against status the controller really wrote:
//
//	make packaging-prereqs && KUBEBUILDER_ASSETS=$(./hack/build-k8s-binaries.sh --print-dir) \
//	  go test ./test/packaging -run TestManager -capture-health-fixtures
func capture(t *testing.T, name string, u *unstructured.Unstructured) {
	t.Helper()
	if !*captureHealthFixtures {
		return
	}
	obj := u.DeepCopy()
	unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	dir := repoPath("internal", "health", "testdata", "captured")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	header := "# Captured from the real manager by test/packaging (-capture-health-fixtures); do not edit.\n"
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), append([]byte(header), data...), 0o644); err != nil {
		t.Fatal(err)
	}
}
