package packaging

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	gmpCollector   = "system:serviceaccount:gmp-system:collector"
	scraperAccount = "runguard-metrics-scraper"
	scraperToken   = "runguard-metrics-scraper-token"
)

// The PodMonitoring scrapes the manager's authenticated HTTPS endpoint with the token of a
// service account bound to the metrics-reader role, kept in a Secret of that account, and the
// NetworkPolicy lets Managed Prometheus' collectors in.
func TestPodMonitoring_ScrapesTheAuthenticatedEndpointWithAReaderToken(t *testing.T) {
	for _, r := range []rendering{{"kustomize with config/managed-prometheus", monitoringOverlay(t)}, {"helm", renderHelm(t, monitoringValues...)}} {
		t.Run(r.name, func(t *testing.T) {
			pm := mustFind(t, r.objs, "PodMonitoring", "runguard-controller-manager-metrics-monitor")
			d := deploymentOf(t, r.objs)
			if pm.GetNamespace() != d.Namespace {
				t.Errorf("PodMonitoring in %q, the manager in %q: a PodMonitoring selects pods of its own namespace", pm.GetNamespace(), d.Namespace)
			}
			selector, _, _ := unstructured.NestedStringMap(pm.Object, "spec", "selector", "matchLabels")
			if len(selector) == 0 {
				t.Error("PodMonitoring selects every pod")
			}
			for k, v := range selector {
				if d.Spec.Template.Labels[k] != v {
					t.Errorf("PodMonitoring selects %s=%s; the manager's pods have %v", k, v, d.Spec.Template.Labels)
				}
			}
			endpoints, _, _ := unstructured.NestedSlice(pm.Object, "spec", "endpoints")
			if len(endpoints) != 1 {
				t.Fatalf("%d endpoints, want 1", len(endpoints))
			}
			ep := endpoints[0].(map[string]any)
			port := slices.IndexFunc(d.Spec.Template.Spec.Containers[0].Ports, func(p corev1.ContainerPort) bool { return p.Name == ep["port"] })
			if port < 0 || ep["scheme"] != "https" {
				t.Fatalf("endpoint %v: want scheme https on a port the manager names", ep)
			}
			metricsPort := d.Spec.Template.Spec.Containers[0].Ports[port].ContainerPort
			secret, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "secret", "name")
			key, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "secret", "key")
			if secret != scraperToken || key != "token" {
				t.Fatalf("endpoint authorization %v: want the token of Secret %s", ep["authorization"], scraperToken)
			}
			s := mustFind(t, r.objs, "Secret", secret)
			if s.GetNamespace() != pm.GetNamespace() || s.Object["type"] != "kubernetes.io/service-account-token" ||
				s.GetAnnotations()["kubernetes.io/service-account.name"] != scraperAccount {
				t.Errorf("Secret %s/%s (%v, %v): want a token of %s in the PodMonitoring's namespace", s.GetNamespace(), s.GetName(), s.Object["type"], s.GetAnnotations(), scraperAccount)
			}
			mustFind(t, r.objs, "ServiceAccount", scraperAccount)

			var np networkingv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(mustFind(t, r.objs, "NetworkPolicy", "runguard-allow-metrics-traffic").Object, &np); err != nil {
				t.Fatal(err)
			}
			admitted := false
			for _, rule := range np.Spec.Ingress {
				onPort := slices.ContainsFunc(rule.Ports, func(p networkingv1.NetworkPolicyPort) bool {
					return p.Port != nil && *p.Port == intstr.FromInt32(metricsPort)
				})
				for _, from := range rule.From {
					if onPort && from.PodSelector == nil && from.NamespaceSelector != nil &&
						from.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "gmp-system" {
						admitted = true
					}
				}
			}
			if !admitted {
				t.Errorf("NetworkPolicy ingress %+v does not admit namespace gmp-system on %d", np.Spec.Ingress, metricsPort)
			}
		})
	}
}

// Asked of the real API server with the component's RBAC applied: the collectors may read the
// scraper's token and no other Secret; the scraper may read /metrics and nothing else.
func TestPodMonitoring_GrantsOnlyTheTokenAndTheMetrics(t *testing.T) {
	ctx := context.Background()
	installRBAC(t)
	for _, o := range monitoringOverlay(t) {
		switch o.GetKind() {
		case "ServiceAccount", "Secret", "ClusterRoleBinding", "Role", "RoleBinding":
		default:
			continue
		}
		if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
			client.FieldOwner("runguard-packaging-test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	allowed := func(user string, groups []string, res *authorizationv1.ResourceAttributes, nonRes *authorizationv1.NonResourceAttributes) bool {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: groups, ResourceAttributes: res, NonResourceAttributes: nonRes,
		}}
		if err := env.Client.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		return sar.Status.Allowed
	}
	collectorGroups := []string{"system:serviceaccounts", "system:serviceaccounts:gmp-system", "system:authenticated"}
	scraper := "system:serviceaccount:" + installNamespace + ":" + scraperAccount
	scraperGroups := []string{"system:serviceaccounts", "system:serviceaccounts:" + installNamespace, "system:authenticated"}
	secret := func(verb, name string) *authorizationv1.ResourceAttributes {
		return &authorizationv1.ResourceAttributes{Resource: "secrets", Verb: verb, Namespace: installNamespace, Name: name}
	}
	for _, c := range []struct {
		what    string
		user    string
		groups  []string
		res     *authorizationv1.ResourceAttributes
		nonRes  *authorizationv1.NonResourceAttributes
		allowed bool
	}{
		{"collectors get the scraper's token", gmpCollector, collectorGroups, secret("get", scraperToken), nil, true},
		{"collectors watch the scraper's token", gmpCollector, collectorGroups, secret("watch", scraperToken), nil, true},
		{"collectors get another Secret", gmpCollector, collectorGroups, secret("get", "runguard-webhook-cert"), nil, false},
		{"collectors list every Secret", gmpCollector, collectorGroups, secret("list", ""), nil, false},
		{"the scraper reads /metrics", scraper, scraperGroups, nil, &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}, true},
		{"the scraper reads its own token", scraper, scraperGroups, secret("get", scraperToken), nil, false},
		{"the scraper lists ProtectedServices", scraper, scraperGroups,
			&authorizationv1.ResourceAttributes{Group: "iap.runguard.dev", Resource: "protectedservices", Verb: "list"}, nil, false},
	} {
		if got := allowed(c.user, c.groups, c.res, c.nonRes); got != c.allowed {
			t.Errorf("%s: allowed %v, want %v", c.what, got, c.allowed)
		}
	}
	// The binding names the role the chart and config/rbac create for scrapers.
	var crb rbacv1.ClusterRoleBinding
	if err := env.Client.Get(ctx, client.ObjectKey{Name: scraperAccount}, &crb); err != nil {
		t.Fatal(err)
	}
	if crb.RoleRef.Name != "runguard-metrics-reader" {
		t.Errorf("%s binds %s, want runguard-metrics-reader", crb.Name, crb.RoleRef.Name)
	}
}

// installMonitoringCRDs installs the Prometheus Operator's and Managed Prometheus' CRDs
// (testdata/crds) and waits until the API server serves them.
func installMonitoringCRDs(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("testdata", "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in testdata/crds: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, crd := range decodeObjects(t, data) {
			if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(crd),
				client.FieldOwner("runguard-packaging-test"), client.ForceOwnership); err != nil {
				t.Fatalf("install %s: %v", crd.GetName(), err)
			}
			eventually(t, 30*time.Second, crd.GetName()+" established", func() error {
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(crd.GroupVersionKind())
				if err := env.Client.Get(ctx, client.ObjectKey{Name: crd.GetName()}, got); err != nil {
					return err
				}
				conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
				for _, c := range conditions {
					if c := c.(map[string]any); c["type"] == "Established" && c["status"] == "True" {
						return nil
					}
				}
				return fmt.Errorf("conditions %v", conditions)
			})
		}
	}
}

// The API server, with the monitoring stacks' CRDs installed, accepts every monitoring object
// both renders produce, without a warning (an unknown field would be one).
func TestMonitoring_APIServerAcceptsEveryObject(t *testing.T) {
	ctx := context.Background()
	installRBAC(t) // the namespace
	installMonitoringCRDs(t)
	for _, r := range []rendering{
		{"kustomize with both components", monitoringOverlay(t)},
		{"helm with every monitoring value", renderHelm(t, append([]string{"metrics.serviceMonitor.enabled=true"}, monitoringValues...)...)},
	} {
		t.Run(r.name, func(t *testing.T) {
			c, warnings := newWarningClient(t)
			applied := 0
			for _, o := range r.objs {
				monitoring := slices.ContainsFunc(monitoringObjects, func(m struct{ kind, name string }) bool {
					return m.kind == o.GetKind() && m.name == o.GetName()
				})
				if !monitoring && !slices.Contains([]string{"ServiceMonitor", "NetworkPolicy"}, o.GetKind()) {
					continue
				}
				applied++
				if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
					client.FieldOwner("runguard-packaging-dry-run"), client.ForceOwnership, client.DryRunAll); err != nil {
					t.Errorf("%s %s rejected: %v", o.GetKind(), o.GetName(), err)
				}
			}
			if applied < len(monitoringObjects)+1 {
				t.Errorf("applied only %d objects", applied)
			}
			for _, w := range warnings.warnings {
				t.Errorf("API server warning: %s", w)
			}
		})
	}
}
