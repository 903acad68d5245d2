// Package packaging tests what a platform team installs: the kustomize and Helm renders of
// runguard (dry-run applied to a real API server), the least-privilege RBAC they grant, and the
// real manager binary running as the ServiceAccount that RBAC binds.
//
// The renders come from kustomize and helm at the versions pinned in hack/tools/*/go.mod, built
// into bin/ by `make packaging-prereqs` (which `make test` runs first).
package packaging

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/runguard/runguard/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	code := testenv.Run(m, func(e *testenv.Env) { env = e })
	if managerPath != "" {
		_ = os.RemoveAll(filepath.Dir(managerPath))
	}
	os.Exit(code)
}
