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

const tenancyPolicyName = "runguard-tenancy"

// admissionPolicyNames are the policies config/admission installs, by their installed names.
func admissionPolicyNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, r := range kustomizationResources(t, repoPath("config", "admission")) {
		if name, ok := strings.CutSuffix(r, "-policy.yaml"); ok {
			names = append(names, "runguard-"+name)
		}
	}
	if !slices.Contains(names, tenancyPolicyName) || len(names) < 3 {
		t.Fatalf("config/admission installs policies %v; want tenancy and the grant policies, each in NAME-policy.yaml", names)
	}
	return names
}

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

// Both installs carry the same policies (config/admission; the chart's copies are checked by
// TestChart_CopiesOfGeneratedFilesAreCurrent), each bound to deny in every namespace.
func TestAdmissionPolicies_InstalledByDefaultAlikeByKustomizeAndHelm(t *testing.T) {
	renders := installs(t)
	for _, name := range admissionPolicyNames(t) {
		t.Run(name, func(t *testing.T) {
			var specs [][2]map[string]any
			for _, r := range renders {
				policy := mustFind(t, r.objs, "ValidatingAdmissionPolicy", name)
				binding := mustFind(t, r.objs, "ValidatingAdmissionPolicyBinding", name)
				if policy.GetNamespace() != "" || binding.GetNamespace() != "" {
					t.Errorf("%s: namespaced %q and %q; both are cluster-scoped", r.name, policy.GetNamespace(), binding.GetNamespace())
				}
				if got, _, _ := unstructured.NestedString(binding.Object, "spec", "policyName"); got != name {
					t.Errorf("%s: binding refers to policy %q, want %s", r.name, got, name)
				}
				if got, _, _ := unstructured.NestedStringSlice(binding.Object, "spec", "validationActions"); !slices.Equal(got, []string{"Deny"}) {
					t.Errorf("%s: validationActions %v, want [Deny]", r.name, got)
				}
				if sel, ok, _ := unstructured.NestedMap(binding.Object, "spec", "matchResources"); ok {
					t.Errorf("%s: binding narrowed to %v; it must apply in every namespace", r.name, sel)
				}
				if got, _, _ := unstructured.NestedString(policy.Object, "spec", "failurePolicy"); got != "Fail" {
					t.Errorf("%s: failurePolicy %q, want Fail", r.name, got)
				}
				policySpec, _, _ := unstructured.NestedMap(policy.Object, "spec")
				bindingSpec, _, _ := unstructured.NestedMap(binding.Object, "spec")
				specs = append(specs, [2]map[string]any{policySpec, bindingSpec})
			}
			if !reflect.DeepEqual(specs[0][0], specs[1][0]) {
				t.Error("kustomize and Helm render different policy specs")
			}
			if !reflect.DeepEqual(specs[0][1], specs[1][1]) {
				t.Errorf("kustomize and Helm render different binding specs: %v, %v", specs[0][1], specs[1][1])
			}
		})
	}
}

// The approvals policy judges an approval against the AccessGrants of its own namespace, and
// refuses it where there is none: no namespace in the paramRef, every grant selected, Deny.
func TestAdmissionPolicies_ApprovalsTakeTheGrantsOfTheirNamespaceAsParams(t *testing.T) {
	for _, r := range installs(t) {
		binding := mustFind(t, r.objs, "ValidatingAdmissionPolicyBinding", "runguard-access-grant-approvals")
		paramRef, _, _ := unstructured.NestedMap(binding.Object, "spec", "paramRef")
		want := map[string]any{"selector": map[string]any{}, "parameterNotFoundAction": "Deny"}
		if !reflect.DeepEqual(paramRef, want) {
			t.Errorf("%s: paramRef %v, want %v", r.name, paramRef, want)
		}
		policy := mustFind(t, r.objs, "ValidatingAdmissionPolicy", "runguard-access-grant-approvals")
		if kind, _, _ := unstructured.NestedStringMap(policy.Object, "spec", "paramKind"); kind["apiVersion"] != "iap.runguard.dev/v1alpha1" || kind["kind"] != "AccessGrant" {
			t.Errorf("%s: paramKind %v, want AccessGrant", r.name, kind)
		}
	}
}

// A manager that accepts any project must not sit behind a policy that refuses objects for their
// project; the grant policies do not depend on projects and stay. All can be turned off.
func TestAdmissionPolicies_TenancyLeftOutWithAllowAnyProject_AllWhenOff(t *testing.T) {
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
	names := admissionPolicyNames(t)
	for _, r := range []struct {
		rendering
		want []string
	}{
		{rendering{"kustomize overlay with --allow-any-project", kustomized}, slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == tenancyPolicyName })},
		{rendering{"helm allowAnyProject=true", renderHelm(t, "allowAnyProject=true")}, slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == tenancyPolicyName })},
		{rendering{"helm admissionPolicy.enabled=false", renderHelm(t, "admissionPolicy.enabled=false")}, nil},
	} {
		for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
			var got []string
			for _, o := range ofKind(r.objs, kind) {
				got = append(got, o.GetName())
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(r.want))
			if !slices.Equal(got, want) {
				t.Errorf("%s: renders %s %v, want %v", r.name, kind, got, want)
			}
		}
	}
}
