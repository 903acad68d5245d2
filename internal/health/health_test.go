package health

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// Each fixture is a ProtectedService as the API server returns it, with the conditions the
// controller writes in that situation (controllers/protectedservice_status.go). The live test in
// test/packaging checks the same mapping on objects the real manager produces.
var fixtures = []struct {
	file        string
	argo        string
	argoMessage string // a substring the message must contain
	kstatus     status.Status
}{
	{"ready.yaml", Healthy, "is behind IAP", status.CurrentStatus},
	{"observing.yaml", Healthy, "nothing is written to Google Cloud", status.CurrentStatus},
	{"paused.yaml", Suspended, "Paused: Paused by the annotation iap.runguard.dev/paused", status.CurrentStatus},
	{"reconciling.yaml", Progressing, "RollingOut: Switching IAP on", status.InProgressStatus},
	{"service-not-found.yaml", Progressing, "ServiceNotFound: Cloud Run service", status.InProgressStatus},
	// Still protected for this generation; Argo CD keeps it Healthy while kstatus (Flux) waits.
	{"retrying-while-ready.yaml", Healthy, "is behind IAP", status.InProgressStatus},
	{"generation-behind.yaml", Progressing, "generation 3", status.InProgressStatus},
	{"new.yaml", Progressing, "Waiting for runguard", status.InProgressStatus},
	{"deleting.yaml", Progressing, "Being deleted", status.TerminatingStatus},
	{"stalled-project-not-allowed.yaml", Degraded, "ProjectNotAllowed: Namespace finance may not target", status.FailedStatus},
	{"stalled-member-not-allowed.yaml", Degraded, "MemberNotAllowed: ", status.FailedStatus},
	{"stalled-service-claimed.yaml", Degraded, "ServiceClaimed: ", status.FailedStatus},
	{"stalled-would-expose-service.yaml", Degraded, "WouldExposeService: ", status.FailedStatus},
	{"stalled-invalid-condition.yaml", Degraded, "InvalidCondition: ", status.FailedStatus},
	{"stalled-policy-too-large.yaml", Degraded, "PolicyTooLarge: ", status.FailedStatus},
	{"stalled-permission-denied.yaml", Degraded, "PermissionDenied: runguard's Google identity lacks permission", status.FailedStatus},
	{"stalled-api-disabled.yaml", Degraded, "APIDisabled: ", status.FailedStatus},
	{"stalled-iap-service-agent-missing.yaml", Degraded, "gcloud beta services identity create --service=iap.googleapis.com", status.FailedStatus},
	{"stalled-member-rejected.yaml", Degraded, "MemberRejected: ", status.FailedStatus},

	// Written by the real manager against the envtest API server and the fake Google Cloud
	// (test/packaging, -capture-health-fixtures).
	{"captured/team-a-hello.yaml", Healthy, "is behind IAP", status.CurrentStatus},
	{"captured/team-a-not-deployed.yaml", Progressing, "ServiceNotFound: ", status.InProgressStatus},
	{"captured/team-b-hello.yaml", Degraded, "ProjectNotAllowed: ", status.FailedStatus},
	{"captured/team-a-iap-off.yaml", Degraded, "APIDisabled: ", status.FailedStatus},
	{"captured/team-a-no-agent.yaml", Degraded, "IAPServiceAgentMissing: ", status.FailedStatus},
	{"captured/team-a-deleting.yaml", Progressing, "Being deleted", status.TerminatingStatus},
}

func loadFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	// Decoded as client-go decodes API responses: integers stay int64.
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return u.Object
}

func TestArgoCDHealth_MapsEachSituation(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			got, err := EvaluateArgoCD(ArgoCDLua, loadFixture(t, f.file))
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != f.argo || !strings.Contains(got.Message, f.argoMessage) {
				t.Errorf("Argo CD health = %s %q, want %s with a message containing %q", got.Status, got.Message, f.argo, f.argoMessage)
			}
		})
	}
}

func TestKstatus_MapsEachSituation(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			res, err := status.Compute(&unstructured.Unstructured{Object: loadFixture(t, f.file)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != f.kstatus {
				t.Errorf("kstatus = %s (%s), want %s", res.Status, res.Message, f.kstatus)
			}
		})
	}
}

// Every Stalled reason must surface as Degraded in Argo CD and Failed in Flux, message included.
func TestStalledFixtures_CoverEveryReasonTheControllerUses(t *testing.T) {
	reasons := []string{"ProjectNotAllowed", "MemberNotAllowed", "ServiceClaimed", "WouldExposeService", "InvalidCondition",
		"PolicyTooLarge", "PermissionDenied", "APIDisabled", "IAPServiceAgentMissing", "MemberRejected"}
	covered := map[string]bool{}
	for _, f := range fixtures {
		if !strings.HasPrefix(f.file, "stalled-") {
			continue
		}
		obj := loadFixture(t, f.file)
		conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
		for _, c := range conds {
			m := c.(map[string]any)
			if m["type"] == "Stalled" && m["status"] == "True" {
				covered[m["reason"].(string)] = true
			}
		}
	}
	for _, r := range reasons {
		if !covered[r] {
			t.Errorf("no fixture for Stalled reason %s", r)
		}
	}
}

func TestArgoCDHealth_StaleReadyIsNotHealthy(t *testing.T) {
	obj := loadFixture(t, "ready.yaml")
	// The status claims the current generation but the Ready condition was written for an older one.
	conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for _, c := range conds {
		c.(map[string]any)["observedGeneration"] = int64(1)
	}
	_ = unstructured.SetNestedSlice(obj, conds, "status", "conditions")
	got, err := EvaluateArgoCD(ArgoCDLua, obj)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Progressing {
		t.Errorf("Argo CD health = %s %q, want Progressing", got.Status, got.Message)
	}
}

func TestArgoCDHealth_StalledWhileDeletingSaysWhy(t *testing.T) {
	obj := loadFixture(t, "stalled-permission-denied.yaml")
	_ = unstructured.SetNestedField(obj, "2026-11-20T10:00:00Z", "metadata", "deletionTimestamp")
	got, err := EvaluateArgoCD(ArgoCDLua, obj)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Progressing || !strings.Contains(got.Message, "PermissionDenied") {
		t.Errorf("Argo CD health = %s %q, want Progressing naming PermissionDenied", got.Status, got.Message)
	}
}

func TestArgoCDHealth_ToleratesSparseObjects(t *testing.T) {
	for name, obj := range map[string]map[string]any{
		"no metadata":          {"apiVersion": "iap.runguard.dev/v1alpha1", "kind": "ProtectedService"},
		"empty status":         {"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{}},
		"conditions empty":     {"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"observedGeneration": int64(1), "conditions": []any{}}},
		"condition no message": {"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{"type": "Stalled", "status": "True", "reason": "APIDisabled"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := EvaluateArgoCD(ArgoCDLua, obj); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// docs/gitops.md shows the argocd-cm snippet; it must be this very script.
func TestGitOpsDoc_ShipsTheTestedScript(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "gitops.md"))
	if err != nil {
		t.Fatal(err)
	}
	var indented strings.Builder
	for _, line := range strings.Split(strings.TrimRight(ArgoCDLua, "\n"), "\n") {
		if line == "" {
			indented.WriteString("\n")
			continue
		}
		indented.WriteString("    " + line + "\n")
	}
	if !strings.Contains(string(data), ArgoCDConfigKey+": |\n"+indented.String()) {
		t.Errorf("docs/gitops.md does not contain internal/health/argocd_health.lua verbatim under %s (indented four spaces); copy it again", ArgoCDConfigKey)
	}
}
