package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// createDryRun sends every AccessLevel of a YAML stream to a real API server (dry run), as
// kubectl apply --dry-run=server would: the CRD's schema and rules accept it.
func createDryRun(t *testing.T, stream string) {
	t.Helper()
	env := apiServer(t)
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatalf("the export is not a YAML stream: %v", err)
		}
		if u.GetKind() != "AccessLevel" {
			continue
		}
		if err := env.Client.Create(context.Background(), &u, client.DryRunAll); err != nil {
			t.Errorf("the API server refuses AccessLevel %s: %v", u.GetName(), err)
		}
	}
}

func mustYAMLToJSON(t *testing.T, doc string) string {
	t.Helper()
	raw, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// ensureNamespace creates a namespace with these annotations unless it exists.
func ensureNamespace(t *testing.T, c client.Client, name string, annotations map[string]string) {
	t.Helper()
	err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// With a cluster, plan resolves an object reference against the cluster's AccessLevels too, and
// a level naming no policy takes the manager's --access-policy, read from its Deployment.
func TestPlan_ObjectReferenceResolvesAgainstTheClustersAccessLevelAndTheManagersPolicy(t *testing.T) {
	env := apiServer(t)
	installManager(t, env)
	ensureNamespace(t, env.Client, "adoption", map[string]string{
		iapv1alpha1.AnnotationAllowedProjects: "acme-prod", iapv1alpha1.AnnotationAllowPublic: "true"})
	inCluster := &iapv1alpha1.AccessLevel{ObjectMeta: metav1.ObjectMeta{Name: "cli-office"}, Spec: iapv1alpha1.AccessLevelSpec{
		LevelName: "office", Basic: &iapv1alpha1.BasicLevel{Conditions: []iapv1alpha1.LevelCondition{{IPSubnetworks: []iapv1alpha1.IPSubnetwork{"203.0.113.0/24"}}}}}}
	if err := env.Client.Create(context.Background(), inCluster); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), inCluster) })
	fake := startFakeWithLevels(t)
	wikiRequiringLevels(t, fake)
	// corp names no policy: the manager's --access-policy is levelPolicy.
	manifest := strings.Replace(strings.Replace(wikiWithObjectReference, "  accessPolicy: "+levelPolicy+"\n", "", 1), office, "cli-office", 1)
	r := runguard(t, fake, manifest, "plan", "-f", "-", "--kubeconfig", writeKubeconfig(t, env))
	if r.code != exitOK || !strings.Contains(r.stdout, "legacy-wiki): no changes") {
		t.Errorf("plan exited %d, want %d and no changes:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "--access-policy "+levelPolicy+", as Deployment runguard-system/runguard-controller-manager runs the manager") ||
		!strings.Contains(r.stdout, "AccessLevel corp ("+corpNet+"): not planned") {
		t.Errorf("plan does not say it took the manager's --access-policy:\n%s%s", r.stdout, r.stderr)
	}
	// A policy given on the command line wins over the manager's.
	r = runguard(t, fake, manifest, "plan", "-f", "-", "--kubeconfig", writeKubeconfig(t, env), "--access-policy", deniedPolicy)
	if r.code != exitChanges || !strings.Contains(r.stdout, "AccessLevel corp ("+deniedPolicy+"/accessLevels/corp_net)") {
		t.Errorf("plan with --access-policy %s exited %d, want the level in that policy and changes:\n%s%s", deniedPolicy, r.code, r.stdout, r.stderr)
	}
}
