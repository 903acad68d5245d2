// Package admission tests the ValidatingAdmissionPolicies of config/admission in a real API server.
// Tenancy: every case of internal/tenancy/tenancycases, created with server-side dry-run, is
// admitted or refused with the expected message, as the controller decides it. Grants: users
// impersonated under the shipped requester and approver roles create AccessGrants and approvals.
package admission

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/tenancy/tenancycases"
	"github.com/runguard/runguard/internal/testenv"
)

var env *testenv.Env

// tenancyPolicy is the ProtectedService policy's name in config/admission.
const tenancyPolicy = "tenancy"

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, func(e *testenv.Env) { env = e })) }

// configObjects reads every object config/admission installs (its kustomization's resources), the
// files kustomize and the chart install.
func configObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "config", "admission")
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
	var objs []*unstructured.Unstructured
	for _, r := range k.Resources {
		objs = append(objs, readObjects(t, filepath.Join(dir, r))...)
	}
	return objs
}

// readObjects decodes every object in a YAML file.
func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// policyObjects is one policy of config/admission and its binding.
func policyObjects(t *testing.T, policy string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	kinds := map[string]int{}
	for _, o := range configObjects(t) {
		name := o.GetName()
		if o.GetKind() == "ValidatingAdmissionPolicyBinding" {
			name, _, _ = unstructured.NestedString(o.Object, "spec", "policyName")
		}
		if name == policy {
			objs = append(objs, o)
			kinds[o.GetKind()]++
		}
	}
	if kinds["ValidatingAdmissionPolicy"] != 1 || kinds["ValidatingAdmissionPolicyBinding"] != 1 {
		t.Fatalf("config/admission holds %v for policy %s, want one policy and one binding", kinds, policy)
	}
	return objs
}

// probeCase is a case the policy refuses: while its refusal comes back, the policy is enforced.
func probeCase() tenancycases.Case {
	for _, c := range tenancycases.Cases {
		if c.WantRule == tenancycases.RuleProject {
			return c
		}
	}
	panic("tenancycases has no case the project rule refuses")
}

func probe() error {
	c := probeCase()
	return dryRunCreate(c.Namespace, c.Spec)
}

// installPolicy applies the policy and its binding and waits until the API server enforces them:
// a binding takes effect a moment after it is stored.
func installPolicy(t *testing.T) {
	t.Helper()
	c := probeCase()
	ensureNamespace(t, c.Namespace, c.Annotations)
	for _, o := range policyObjects(t, tenancyPolicy) {
		apply(t, o)
	}
	testenv.Eventually(t, 60*time.Second, "the tenancy policy refuses the probe", func() error {
		err := probe()
		if err == nil {
			return errors.New("admitted")
		}
		if !refusedWith(err, c.WantMessage) {
			return err
		}
		return nil
	})
}

// removePolicy deletes the policy and its binding and waits until the probe is admitted.
func removePolicy(t *testing.T) {
	t.Helper()
	for _, o := range policyObjects(t, tenancyPolicy) {
		if err := env.Client.Delete(context.Background(), o); client.IgnoreNotFound(err) != nil {
			t.Fatalf("delete %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	testenv.Eventually(t, 60*time.Second, "the probe is admitted without the policy", probe)
}

// apply applies an object as the test's admin, as `kubectl apply --server-side` would.
func apply(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	if err := env.Client.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
		client.FieldOwner("runguard-admission-test"), client.ForceOwnership); err != nil {
		t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

func ensureNamespace(t *testing.T, name string, annotations map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	if err := env.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func object(namespace, name string, spec iapv1alpha1.ProtectedServiceSpec) *iapv1alpha1.ProtectedService {
	return &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: *spec.DeepCopy()}
}

func dryRunCreate(namespace string, spec iapv1alpha1.ProtectedServiceSpec) error {
	return env.Client.Create(context.Background(), object(namespace, "app", spec), client.DryRunAll)
}

// refusedWith reports whether err is the policy's refusal with exactly message.
func refusedWith(err error, message string) bool {
	return apierrors.IsForbidden(err) && strings.HasSuffix(err.Error(), "denied request: "+message)
}

func describe(err error) string {
	if err == nil {
		return "admitted"
	}
	return fmt.Sprintf("refused: %v", err)
}
