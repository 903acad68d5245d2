package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
	"github.com/runguard/runguard/internal/gcpfake/frontdoor"
)

const (
	grantsNS = "oncall-e2e"
	// grantsConsole is the service the grants are for; the test creates it in the fake.
	grantsConsole  = "acme-prod/us-central1/grants-console"
	grantee        = "user:contractor@acme.com"
	grantRequester = "alice@acme.com"
	grantApprover  = "bob@acme.com"
)

// grantsSetup is the namespace and who may do what in it, through the ClusterRoles of
// config/rbac: alice requests, bob approves; alice may approve too, so that only the admission
// policy stands between her and approving her own grant.
const grantsSetup = `apiVersion: v1
kind: Namespace
metadata:
  name: oncall-e2e
  annotations: {iap.runguard.dev/allowed-projects: acme-prod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: grant-requesters, namespace: oncall-e2e}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: accessgrant-requester-role}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice@acme.com}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: grant-approvers, namespace: oncall-e2e}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: accessgrant-approver-role}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: bob@acme.com}
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice@acme.com}
`

const grantsObject = `apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: grants-console, namespace: oncall-e2e}
spec:
  service: {project: acme-prod, location: us-central1, name: grants-console}
  accessGroups:
  - name: oncall
    members: ["user:oncall@acme.com"]
    context:
      pathPrefixes: ["/ops/"]
`

// waitAdmissionPolicy waits until both grant admission policies refuse what they should: a new
// policy binding takes effect a second or two after it is created. Server-side dry runs store
// nothing.
func (s *system) waitAdmissionPolicy() {
	s.t.Helper()
	probes := map[string]string{
		"spec.requestedBy": `apiVersion: iap.runguard.dev/v1alpha1
kind: AccessGrant
metadata: {name: probe, namespace: oncall-e2e}
spec: {protectedService: grants-console, accessGroup: oncall, members: ["user:contractor@acme.com"], duration: 1h, reason: probe, requestedBy: nobody@acme.com}
`,
		"": `apiVersion: iap.runguard.dev/v1alpha1
kind: AccessGrantApproval
metadata: {name: probe, namespace: oncall-e2e}
spec: {grant: probe, approvedBy: nobody@acme.com, decision: Approve}
`,
	}
	for refusal, manifest := range probes {
		eventually(s.t, 30*time.Second, "the admission policies in force", func() error {
			out, err := s.kubectl(manifest, "create", "--dry-run=server", "-f", "-")
			if err == nil || !strings.Contains(out, refusal) {
				return fmt.Errorf("admitted or refused for another reason: %v: %s", err, out)
			}
			return nil
		})
	}
}

// grantCLI runs `runguard grant ARGS` in the grants namespace as user (impersonated through the
// admin's kubeconfig, as kubectl --as is); it returns the output and the exit code.
func (s *system) grantCLI(user string, args ...string) (string, int) {
	s.t.Helper()
	args = append([]string{"grant"}, append(args, "--kubeconfig", s.kubeconfig, "--as", user, "-n", grantsNS)...)
	out, err := exec.Command(filepath.Join(s.binDir, "runguard"), args...).CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		s.t.Fatalf("runguard %s: %v", strings.Join(args, " "), err)
	}
	return string(out), 0
}

// requestGrant has alice request access to grants-console for the contractor.
func (s *system) requestGrant(name string, extra ...string) {
	s.t.Helper()
	args := append([]string{"request", "grants-console", "--name", name, "--member", grantee, "--reason", "INC-4711: e2e"}, extra...)
	if out, code := s.grantCLI(grantRequester, args...); code != 0 {
		s.t.Fatalf("runguard grant request as %s: exit %d\n%s", grantRequester, code, out)
	}
}

// approveGrant has bob approve the grant.
func (s *system) approveGrant(name string) {
	s.t.Helper()
	if out, code := s.grantCLI(grantApprover, "approve", name); code != 0 {
		s.t.Fatalf("runguard grant approve as %s: exit %d\n%s", grantApprover, code, out)
	}
}

// grantState is what an AccessGrant's status says; conditions as "STATUS REASON".
type grantState struct {
	phase, active, approved, review string
	expiresAt                       time.Time
}

func (s *system) grant(name string) grantState {
	s.t.Helper()
	out := s.mustKubectl("get", "accessgrant", "-n", grantsNS, name, "-o", `jsonpath={.status.phase}|`+
		`{.status.conditions[?(@.type=="Active")].reason}|`+
		`{.status.conditions[?(@.type=="Approved")].status} {.status.conditions[?(@.type=="Approved")].reason}|`+
		`{.status.conditions[?(@.type=="ReviewRequired")].status} {.status.conditions[?(@.type=="ReviewRequired")].reason}|`+
		`{.status.expiresAt}`)
	f := strings.Split(out, "|")
	if len(f) != 5 {
		s.t.Fatalf("read AccessGrant %s: %q", name, out)
	}
	g := grantState{phase: f[0], active: f[1], approved: strings.TrimSpace(f[2]), review: strings.TrimSpace(f[3])}
	if f[4] != "" {
		var err error
		if g.expiresAt, err = time.Parse(time.RFC3339, f[4]); err != nil {
			s.t.Fatalf("AccessGrant %s: status.expiresAt %q: %v", name, f[4], err)
		}
	}
	return g
}

// waitGrant waits until the grant is in phase with its Active condition's reason.
func (s *system) waitGrant(name, phase, reason string) grantState {
	s.t.Helper()
	var g grantState
	eventually(s.t, 30*time.Second, fmt.Sprintf("AccessGrant %s %s (%s)", name, phase, reason), func() error {
		if g = s.grant(name); g.phase != phase || g.active != reason {
			return fmt.Errorf("phase %q, Active reason %q", g.phase, g.active)
		}
		return nil
	})
	return g
}

// grantsService is grants-console as the fake holds it.
func (s *system) grantsService() adminapi.ServiceState {
	s.t.Helper()
	var st adminapi.ServiceState
	if err := json.Unmarshal(s.admin(http.MethodGet, adminapi.ServicesPath+"/"+grantsConsole, nil), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *system) grantsPolicy() adminapi.Policy { return s.grantsService().IAPPolicy }

// grantBinding is the grant's binding in grants-console's IAP policy, or nil.
func (s *system) grantBinding(name string) *adminapi.Binding {
	s.t.Helper()
	for _, b := range s.grantsPolicy().Bindings {
		if b.Condition != nil && b.Condition.Title == "runguard:grant."+name {
			return &b
		}
	}
	return nil
}

// waitUnbound polls the fake every 50 ms until the grant's binding is gone and returns when it
// saw it gone; it fails if it goes before from, or stays past from+within.
func (s *system) waitUnbound(name string, from time.Time, within time.Duration) time.Time {
	s.t.Helper()
	for {
		now := time.Now()
		if s.grantBinding(name) == nil {
			if now.Before(from) {
				s.t.Fatalf("grant %s: binding removed at %s, before %s", name, now.UTC().Format(time.RFC3339Nano), from.UTC().Format(time.RFC3339))
			}
			return now
		}
		if now.After(from.Add(within)) {
			s.t.Fatalf("grant %s: binding still in the fake's IAP policy %s after %s", name, within, from.UTC().Format(time.RFC3339))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// frontDoor sends requests through the fake's IAP front door, which decides them from the
// stored policies with its own evaluator (internal/gcpfake/frontdoor).
type frontDoor struct{ client *http.Client }

func newFrontDoor(addr string) *frontDoor {
	return &frontDoor{client: &http.Client{Transport: frontdoor.Transport(addr), Timeout: 10 * time.Second}}
}

// expect sends GET path to grants-console as member and checks the status code.
func (d *frontDoor) expect(s *system, member, path string, want int) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.grantsService().URI+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set(frontdoor.HeaderPrincipal, member)
	resp, err := d.client.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s through the front door: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		s.t.Errorf("GET %s as %s through the front door at %s: %s, want %d", path, member, time.Now().UTC().Format(time.RFC3339Nano), resp.Status, want)
	}
}
