package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// runguardRole is the custom role hack/demo/seed.yaml grants runguard's identity and namespace
// platform's in acme-prod: docs/install.md's runguard role.
const runguardRole = "organizations/100200300400/roles/runguard"

// inheritedGrant is one entry of status.inheritedAccess.
type inheritedGrant struct {
	Member    string `json:"member"`
	Where     string `json:"where"`
	Role      string `json:"role"`
	Condition string `json:"condition,omitempty"`
}

// inheritedAccess is a ProtectedService's status.inheritedAccess.
func (s *system) inheritedAccess(ns, name string) []inheritedGrant {
	s.t.Helper()
	raw := s.mustKubectl("get", "protectedservice", "-n", ns, name, "-o", "jsonpath={.status.inheritedAccess}")
	var out []inheritedGrant
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			s.t.Fatalf("parse status.inheritedAccess of %s/%s: %v\n%s", ns, name, err, raw)
		}
	}
	return out
}

// testResults are a ProtectedService's status.accessTests as "name=RESULT/passed", in order.
func (s *system) testResults(ns, name string) string {
	s.t.Helper()
	return s.mustKubectl("get", "protectedservice", "-n", ns, name, "-o",
		`jsonpath={range .status.accessTests[*]}{.name}={.result}/{.passed} {end}`)
}

// waitReason waits until a ProtectedService's condition has the status and reason, and says how
// long that took.
func (s *system) waitReason(ns, name, condition, status, reason string, timeout time.Duration) time.Duration {
	s.t.Helper()
	start := time.Now()
	var st, r, msg string
	for time.Since(start) < timeout {
		if st, r, msg = s.psCondition(ns, name, condition); st == status && r == reason {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("%s/%s: %s is %s %s after %s, want %s %s: %s", ns, name, condition, st, r, timeout, status, reason, msg)
	return 0
}

// putPolicy replaces a resource's allow policy out of band, as the console would; the fake logs
// the change as that resource's SetIamPolicy.
func (s *system) putPolicy(resource string, p adminapi.Policy) {
	s.t.Helper()
	s.admin(http.MethodPut, adminapi.ResourcePolicyPathOf(resource), p)
}

// withoutPermission swaps member's grant of role on project for grants of each of the role's
// permissions (as hack/demo/seed.yaml defines it) but missing: first the permissions, then the
// role goes, so the member never lacks more than that one. The function it returns swaps back.
func (s *system) withoutPermission(project, member, role, missing string) (restore func()) {
	s.t.Helper()
	var kept []string
	for _, p := range s.seedRole(role) {
		if p != missing {
			kept = append(kept, p)
		}
	}
	if len(kept) == len(s.seedRole(role)) {
		s.t.Fatalf("%s does not hold %s: nothing to take away", role, missing)
	}
	for _, p := range kept {
		s.admin(http.MethodPut, adminapi.GrantPath(project, member, p), nil)
	}
	s.admin(http.MethodDelete, adminapi.GrantPath(project, member, role), nil)
	return func() {
		s.admin(http.MethodPut, adminapi.GrantPath(project, member, role), nil)
		for _, p := range kept {
			s.admin(http.MethodDelete, adminapi.GrantPath(project, member, p), nil)
		}
	}
}

// seedRole is the permissions of a custom role of hack/demo/seed.yaml.
func (s *system) seedRole(role string) []string {
	s.t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.root, "hack", "demo", "seed.yaml"))
	if err != nil {
		s.t.Fatal(err)
	}
	var seed struct {
		CustomRoles map[string][]string `json:"customRoles"`
	}
	if err := yaml.Unmarshal(raw, &seed); err != nil {
		s.t.Fatalf("parse hack/demo/seed.yaml: %v", err)
	}
	perms, ok := seed.CustomRoles[role]
	if !ok {
		s.t.Fatalf("hack/demo/seed.yaml declares no custom role %s (%s)", role, strings.Join(slices.Sorted(maps.Keys(seed.CustomRoles)), ", "))
	}
	return perms
}
