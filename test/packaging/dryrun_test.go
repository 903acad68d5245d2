package packaging

import (
	"context"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type warningCollector struct {
	mu       sync.Mutex
	warnings []string
}

func (w *warningCollector) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

// newWarningClient is a client of the test's API server that keeps the warnings it answers with.
func newWarningClient(t *testing.T) (client.Client, *warningCollector) {
	t.Helper()
	warnings := &warningCollector{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = warnings
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, warnings
}

// Both renders, applied server-side with dryRun=All: the API server validates every object
// against its schema (the CRD's included) and admission, including Pod Security "restricted"
// on the manager's namespace, whose violations arrive as warnings.
func TestServerSideDryRun_AcceptsEveryRenderedObject(t *testing.T) {
	ctx := context.Background()
	// Namespaced objects can be dry-run only into a namespace that exists: apply the rendered one
	// for real (it asks Pod Security to enforce and warn at "restricted").
	kustomized := renderKustomize(t, repoPath("config", "default"))
	ns := mustFind(t, kustomized, "Namespace", installNamespace)
	if ns.GetLabels()["pod-security.kubernetes.io/warn"] != "restricted" {
		t.Fatalf("namespace %s labels %v: want Pod Security warn=restricted", installNamespace, ns.GetLabels())
	}
	if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(ns.DeepCopy()),
		client.FieldOwner("runguard-packaging-test"), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	// The warnings below would be empty for the wrong reason if Pod Security did not look.
	t.Run("a privileged variant draws a warning", func(t *testing.T) {
		c, warnings := newWarningClient(t)
		d := mustFind(t, kustomized, "Deployment", "runguard-controller-manager").DeepCopy()
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		_ = unstructured.SetNestedField(containers[0].(map[string]any), true, "securityContext", "allowPrivilegeEscalation")
		_ = unstructured.SetNestedSlice(d.Object, containers, "spec", "template", "spec", "containers")
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(d), client.FieldOwner("runguard-packaging-dry-run"), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		if len(warnings.warnings) == 0 {
			t.Fatal("no Pod Security warning for allowPrivilegeEscalation=true; the check below proves nothing")
		}
	})
	for _, r := range installs(t) {
		t.Run(r.name, func(t *testing.T) {
			c, warnings := newWarningClient(t)
			kinds := map[string]int{}
			for _, o := range r.objs {
				kinds[o.GetKind()]++
				if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
					client.FieldOwner("runguard-packaging-dry-run"), client.ForceOwnership, client.DryRunAll); err != nil {
					t.Errorf("%s %s/%s rejected: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
				}
			}
			for _, w := range warnings.warnings {
				t.Errorf("API server warning: %s", w)
			}
			for _, kind := range []string{"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "PodDisruptionBudget", "Service", "NetworkPolicy",
				"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
				if kinds[kind] == 0 {
					t.Errorf("no %s rendered", kind)
				}
			}
			t.Logf("applied with dryRun=All: %v", kinds)
		})
	}
}
