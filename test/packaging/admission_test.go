package packaging

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const admissionPolicyName = "runguard-tenancy"

// allowAnyProjectOverlay is the kustomize overlay docs/install.md gives for a manager run with
// --allow-any-project: the flag added, the admission policy and its binding deleted.
const allowAnyProjectOverlay = `patches:
- target:
    kind: Deployment
    name: runguard-controller-manager
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/args/-
      value: --allow-any-project=true
- patch: |-
    $patch: delete
    apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingAdmissionPolicy
    metadata:
      name: runguard-tenancy
- patch: |-
    $patch: delete
    apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingAdmissionPolicyBinding
    metadata:
      name: runguard-tenancy
`

// Both installs carry the same policy (config/admission; the chart's copy is checked by
// TestChart_CopiesOfGeneratedFilesAreCurrent) bound to deny in every namespace.
func TestAdmissionPolicy_InstalledByDefaultAlikeByKustomizeAndHelm(t *testing.T) {
	var specs [][2]map[string]any
	for _, r := range installs(t) {
		t.Run(r.name, func(t *testing.T) {
			policy := mustFind(t, r.objs, "ValidatingAdmissionPolicy", admissionPolicyName)
			binding := mustFind(t, r.objs, "ValidatingAdmissionPolicyBinding", admissionPolicyName)
			if policy.GetNamespace() != "" || binding.GetNamespace() != "" {
				t.Errorf("namespaced %q and %q; both are cluster-scoped", policy.GetNamespace(), binding.GetNamespace())
			}
			if got, _, _ := unstructured.NestedString(binding.Object, "spec", "policyName"); got != admissionPolicyName {
				t.Errorf("binding refers to policy %q, want %s", got, admissionPolicyName)
			}
			if got, _, _ := unstructured.NestedStringSlice(binding.Object, "spec", "validationActions"); !slices.Equal(got, []string{"Deny"}) {
				t.Errorf("validationActions %v, want [Deny]", got)
			}
			if sel, ok, _ := unstructured.NestedMap(binding.Object, "spec", "matchResources"); ok {
				t.Errorf("binding narrowed to %v; it must apply in every namespace", sel)
			}
			if got, _, _ := unstructured.NestedString(policy.Object, "spec", "failurePolicy"); got != "Fail" {
				t.Errorf("failurePolicy %q, want Fail", got)
			}
			policySpec, _, _ := unstructured.NestedMap(policy.Object, "spec")
			bindingSpec, _, _ := unstructured.NestedMap(binding.Object, "spec")
			specs = append(specs, [2]map[string]any{policySpec, bindingSpec})
		})
	}
	if len(specs) == 2 {
		if !reflect.DeepEqual(specs[0][0], specs[1][0]) {
			t.Error("kustomize and Helm render different policy specs")
		}
		if !reflect.DeepEqual(specs[0][1], specs[1][1]) {
			t.Errorf("kustomize and Helm render different binding specs: %v, %v", specs[0][1], specs[1][1])
		}
	}
}

// A manager that accepts any project must not sit behind a policy that refuses objects for their
// project; and the policy can be turned off.
func TestAdmissionPolicy_LeftOutWhenOffOrWithAllowAnyProject(t *testing.T) {
	overlay := t.TempDir()
	rel, err := filepath.Rel(overlay, repoPath("config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	if doc, err := os.ReadFile(repoPath("docs", "install.md")); err != nil || !strings.Contains(string(doc), allowAnyProjectOverlay) {
		t.Errorf("docs/install.md does not show the overlay tested here (%v)", err)
	}
	writeFile(t, filepath.Join(overlay, "kustomization.yaml"), "resources:\n- "+rel+"\n"+allowAnyProjectOverlay)
	kustomized := renderKustomize(t, overlay)
	if args := deploymentOf(t, kustomized).Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--allow-any-project=true") {
		t.Errorf("the overlay's manager args %v lack --allow-any-project=true", args)
	}
	for _, r := range []rendering{
		{"kustomize overlay with --allow-any-project", kustomized},
		{"helm allowAnyProject=true", renderHelm(t, "allowAnyProject=true")},
		{"helm admissionPolicy.enabled=false", renderHelm(t, "admissionPolicy.enabled=false")},
	} {
		for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
			if objs := ofKind(r.objs, kind); len(objs) > 0 {
				t.Errorf("%s: renders %s %s", r.name, kind, objs[0].GetName())
			}
		}
	}
}
