package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestHelmLint_ChartPassesStrictLint(t *testing.T) {
	for name, set := range map[string][]string{
		"defaults": nil,
		"everything on": {"metrics.serviceMonitor.enabled=true", "serviceAccount.gcpServiceAccount=runguard@acme-ops.iam.gserviceaccount.com",
			"clusterName=prod-eu", "allowAnyProject=true", "extraArgs={--zap-log-level=debug}",
			"metrics.prometheusRule.enabled=true", "metrics.grafanaDashboard.enabled=true", "metrics.podMonitoring.enabled=true"},
		"metrics and leader election off": {"metrics.enabled=false", "leaderElection.enabled=false", "replicaCount=1", "rbac.tenantRoles=false"},
		"admission policy off":            {"admissionPolicy.enabled=false"},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"lint", "--strict", repoPath("charts", "runguard")}
			for _, s := range set {
				args = append(args, "--set", s)
			}
			mustRun(t, helmBin(t), args...)
		})
	}
}

func TestHelmValuesSchema_RejectsNonsense(t *testing.T) {
	for _, set := range []string{"resyncPeriod=soon", "maxConcurrentReconciles=0", "clusterName=Prod_EU", "serviceAccount.gcpServiceAccount=runguard@gmail.com", "auditLogSubscription=runguard-audit", "admissionPolicy.enabled=maybe",
		"leaderElection.leaseDuration=soon", "leaderElection.renewDeadline=10", "leaderElection.retryPeriod=2 seconds", "podDisruptionBudget.minAvailable=0", "metrics.podMonitoring.interval=often",
		"metrics.prometheusRule.enabled=yes"} {
		t.Run(set, func(t *testing.T) {
			if _, err := runTool(t, helmBin(t), "template", "runguard", repoPath("charts", "runguard"), "--set", set); err == nil {
				t.Errorf("helm template accepted --set %s", set)
			}
		})
	}
}

// The chart carries copies of generated files and of config/admission; `make chart-sync`
// refreshes them.
func TestChart_CopiesOfGeneratedFilesAreCurrent(t *testing.T) {
	copies := map[string]string{
		repoPath("config", "crd", "bases", "iap.runguard.dev_protectedservices.yaml"): repoPath("charts", "runguard", "crds", "iap.runguard.dev_protectedservices.yaml"),
		repoPath("config", "rbac", "role.yaml"):                                       repoPath("charts", "runguard", "files", "manager-role.yaml"),
		repoPath("config", "monitoring", "prometheus-rule.yaml"):                      repoPath("charts", "runguard", "files", "prometheus-rule.yaml"),
		repoPath("config", "monitoring", "runguard-dashboard.json"):                   repoPath("charts", "runguard", "files", "runguard-dashboard.json"),
	}
	admission := kustomizationResources(t, repoPath("config", "admission"))
	for _, r := range admission {
		copies[repoPath("config", "admission", r)] = repoPath("charts", "runguard", "files", "admission", r)
	}
	for generated, copied := range copies {
		want, err := os.ReadFile(generated)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(copied)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s: run `make chart-sync`", copied, generated)
		}
	}
	crds, _ := filepath.Glob(repoPath("config", "crd", "bases", "*.yaml"))
	crdCopies, _ := filepath.Glob(repoPath("charts", "runguard", "crds", "*.yaml"))
	if len(crds) != len(crdCopies) {
		t.Errorf("config/crd/bases has %d CRDs, the chart %d: run `make chart-sync`", len(crds), len(crdCopies))
	}
	if admissionCopies, _ := filepath.Glob(repoPath("charts", "runguard", "files", "admission", "*")); len(admissionCopies) != len(admission) {
		t.Errorf("config/admission installs %d files, the chart's files/admission holds %d: run `make chart-sync`", len(admission), len(admissionCopies))
	}
}

// A manifest in config/admission or config/rbac that its kustomization does not list would be
// installed by neither kustomize nor (through the comparisons here) Helm.
func TestConfig_EveryManifestIsInstalled(t *testing.T) {
	for _, dir := range []string{"admission", "rbac"} {
		listed := kustomizationResources(t, repoPath("config", dir))
		files, _ := filepath.Glob(repoPath("config", dir, "*.yaml"))
		for _, f := range files {
			if name := filepath.Base(f); name != "kustomization.yaml" && !slices.Contains(listed, name) {
				t.Errorf("config/%s/%s is not a resource of config/%s/kustomization.yaml", dir, name, dir)
			}
		}
	}
}

func TestRenders_InstallTheSameObjects(t *testing.T) {
	names := func(objs []*unstructured.Unstructured) []string {
		var out []string
		for _, o := range objs {
			if o.GetKind() == "Namespace" { // Helm installs into a namespace that exists (or --create-namespace)
				continue
			}
			out = append(out, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
		}
		slices.Sort(out)
		return out
	}
	r := installs(t)
	k, h := names(r[0].objs), names(r[1].objs)
	if !slices.Equal(k, h) {
		t.Errorf("kustomize and Helm install different objects:\nkustomize: %v\nhelm:      %v", k, h)
	}
	if find(r[0].objs, "Namespace", installNamespace) == nil {
		t.Errorf("kustomize render does not create namespace %s", installNamespace)
	}
}

func deploymentOf(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(mustFind(t, objs, "Deployment", "runguard-controller-manager").Object, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func TestDeployment_IsLockedDownAndHighlyAvailable(t *testing.T) {
	for _, r := range installs(t) {
		t.Run(r.name, func(t *testing.T) {
			d := deploymentOf(t, r.objs)
			if d.Namespace != installNamespace {
				t.Errorf("namespace %q, want %s", d.Namespace, installNamespace)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
				t.Errorf("replicas %v, want 2", d.Spec.Replicas)
			}
			pod := d.Spec.Template.Spec
			if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
				psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", psc)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want only the manager", len(pod.Containers))
			}
			c := pod.Containers[0]
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
				t.Errorf("container securityContext %+v: want read-only root, no privilege escalation, all capabilities dropped", sc)
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					t.Errorf("no %s request", res)
				}
				if _, ok := c.Resources.Limits[res]; !ok {
					t.Errorf("no %s limit", res)
				}
			}
			// GOMEMLIMIT follows the memory limit, so the Go runtime collects harder near it
			// instead of the container being OOM-killed.
			if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
				return e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
					e.ValueFrom.ResourceFieldRef.Resource == "limits.memory"
			}) {
				t.Errorf("env %+v: want GOMEMLIMIT from limits.memory", c.Env)
			}
			probe := func(p *corev1.Probe, path string) {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromInt32(8081) {
					t.Errorf("probe %+v, want GET %s on 8081", p, path)
				}
			}
			probe(c.LivenessProbe, "/healthz")
			probe(c.ReadinessProbe, "/readyz")
			if !slices.Equal(c.Command, []string{"/manager"}) {
				t.Errorf("command %v, want [/manager]", c.Command)
			}
			for _, want := range []string{"--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"} {
				if !slices.Contains(c.Args, want) {
					t.Errorf("args %v lack %s", c.Args, want)
				}
			}
			if !slices.Contains(c.Args, "--leader-elect") && !slices.Contains(c.Args, "--leader-elect=true") {
				t.Errorf("args %v do not turn leader election on", c.Args)
			}
			if !strings.HasPrefix(c.Image, "ghcr.io/runguard/runguard:") {
				t.Errorf("image %q", c.Image)
			}
			if sa := find(r.objs, "ServiceAccount", pod.ServiceAccountName); sa == nil {
				t.Errorf("pod runs as service account %q, which is not rendered", pod.ServiceAccountName)
			}
		})
	}
}

// Every flag the renders pass must exist in the manager, or the pod would crash-loop.
func TestRenderedArgs_AreFlagsTheManagerKnows(t *testing.T) {
	// The flag package prints usage to stderr; the exit code differs between -h handling paths.
	out, _ := exec.Command(managerBinary(t), "-help").CombinedOutput()
	help := string(out)
	if !strings.Contains(help, "-leader-elect") {
		t.Fatalf("manager -help printed no flags:\n%s", help)
	}
	renders := append(installs(t), rendering{"helm template with every value set", renderHelm(t,
		"clusterName=prod-eu", "allowAnyProject=true", "resyncPeriod=5m", "maxConcurrentReconciles=8", "extraArgs={--zap-log-level=debug}",
		"leaderElection.leaseDuration=30s", "leaderElection.renewDeadline=20s", "leaderElection.retryPeriod=4s")})
	for _, r := range renders {
		for _, arg := range deploymentOf(t, r.objs).Spec.Template.Spec.Containers[0].Args {
			name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
			if !strings.Contains(help, "-"+name+" ") && !strings.Contains(help, "-"+name+"\n") {
				t.Errorf("%s: %s is not a flag of the manager", r.name, arg)
			}
		}
	}
}

func TestHelmValues_ReachTheManagerFlags(t *testing.T) {
	args := deploymentOf(t, renderHelm(t, "clusterName=prod-eu", "allowAnyProject=true", "resyncPeriod=5m",
		"maxConcurrentReconciles=8", "extraArgs={--zap-log-level=debug}", "replicaCount=3",
		"auditLogSubscription=projects/ops-project/subscriptions/runguard-audit")).Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{"--cluster-name=prod-eu", "--allow-any-project=true", "--resync-period=5m", "--max-concurrent-reconciles=8", "--zap-log-level=debug",
		"--audit-log-subscription=projects/ops-project/subscriptions/runguard-audit"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	defaults := deploymentOf(t, renderHelm(t)).Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{"--cluster-name=default", "--allow-any-project=false", "--require-namespace-identity=false", "--resync-period=10m", "--max-concurrent-reconciles=64"} {
		if !slices.Contains(defaults, want) {
			t.Errorf("default args %v lack %s", defaults, want)
		}
	}
}

const gsaAnnotation = "iam.gke.io/gcp-service-account"

func TestWorkloadIdentityAnnotation_IsOptionalAndSetInOnePlace(t *testing.T) {
	const gsa = "runguard@acme-ops.iam.gserviceaccount.com"
	for _, r := range installs(t) {
		if a := mustFind(t, r.objs, "ServiceAccount", "runguard-controller-manager").GetAnnotations()[gsaAnnotation]; a != "" {
			t.Errorf("%s: annotation %s=%q by default; it must be opt-in", r.name, gsaAnnotation, a)
		}
	}
	helm := mustFind(t, renderHelm(t, "serviceAccount.gcpServiceAccount="+gsa), "ServiceAccount", "runguard-controller-manager")
	if got := helm.GetAnnotations()[gsaAnnotation]; got != gsa {
		t.Errorf("helm: annotation %q, want %q", got, gsa)
	}

	// The overlay `make build-installer IMG=... GCP_SERVICE_ACCOUNT=...` generates (hack/packaging.mk).
	overlay := t.TempDir()
	rel, err := filepath.Rel(overlay, repoPath("config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(overlay, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- "+rel+"\n")
	writeFile(t, filepath.Join(overlay, "workload-identity.yaml"), "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: runguard-controller-manager\n  namespace: runguard-system\n  annotations:\n    "+gsaAnnotation+": \""+gsa+"\"\n")
	runIn := func(args ...string) {
		t.Helper()
		cmd := append([]string{}, args...)
		if _, err := runToolIn(t, overlay, kustomizeBin(t), cmd...); err != nil {
			t.Fatal(err)
		}
	}
	runIn("edit", "set", "image", "ghcr.io/runguard/runguard=registry.example.com/platform/runguard:v1.2.3")
	runIn("edit", "add", "patch", "--path", "workload-identity.yaml")
	objs := renderKustomize(t, overlay)
	if got := mustFind(t, objs, "ServiceAccount", "runguard-controller-manager").GetAnnotations()[gsaAnnotation]; got != gsa {
		t.Errorf("build-installer overlay: annotation %q, want %q", got, gsa)
	}
	if img := deploymentOf(t, objs).Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/platform/runguard:v1.2.3" {
		t.Errorf("build-installer overlay: image %q", img)
	}
}

func TestServiceMonitor_ScrapesTheMetricsServiceWhenEnabled(t *testing.T) {
	overlay := t.TempDir()
	rel, err := filepath.Rel(overlay, repoPath("config"))
	if err != nil {
		t.Fatal(err)
	}
	// config/default with its [PROMETHEUS] line uncommented.
	writeFile(t, filepath.Join(overlay, "kustomization.yaml"), "namespace: runguard-system\nnamePrefix: runguard-\nresources:\n- "+rel+"/prometheus\n")
	kustomized := append(renderKustomize(t, repoPath("config", "default")), renderKustomize(t, overlay)...)
	if find(renderHelm(t), "ServiceMonitor", "runguard-controller-manager-metrics-monitor") != nil {
		t.Error("helm renders a ServiceMonitor by default; it needs the Prometheus Operator's CRDs and must be opt-in")
	}
	for _, r := range []rendering{{"kustomize", kustomized}, {"helm", renderHelm(t, "metrics.serviceMonitor.enabled=true")}} {
		t.Run(r.name, func(t *testing.T) {
			sm := mustFind(t, r.objs, "ServiceMonitor", "runguard-controller-manager-metrics-monitor")
			svc := mustFind(t, r.objs, "Service", "runguard-controller-manager-metrics-service")
			if sm.GetNamespace() != svc.GetNamespace() {
				t.Errorf("ServiceMonitor in %q, Service in %q", sm.GetNamespace(), svc.GetNamespace())
			}
			selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
			if len(selector) == 0 {
				t.Fatal("ServiceMonitor selects nothing")
			}
			for k, v := range selector {
				if svc.GetLabels()[k] != v {
					t.Errorf("ServiceMonitor selects %s=%s; the metrics Service's labels are %v", k, v, svc.GetLabels())
				}
			}
			endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
			if len(endpoints) != 1 {
				t.Fatalf("%d endpoints, want 1", len(endpoints))
			}
			ep := endpoints[0].(map[string]any)
			if ep["port"] != "https" || ep["scheme"] != "https" || ep["bearerTokenFile"] == nil {
				t.Errorf("endpoint %v: want port https, scheme https, a bearer token", ep)
			}
			ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
			if len(ports) != 1 || ports[0].(map[string]any)["name"] != "https" {
				t.Errorf("metrics Service ports %v: want one named https", ports)
			}
		})
	}
}

func TestNetworkPolicy_AdmitsOnlyMetricsScrapesFromLabelledNamespaces(t *testing.T) {
	for _, r := range installs(t) {
		t.Run(r.name, func(t *testing.T) {
			var np networkingv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(mustFind(t, r.objs, "NetworkPolicy", "runguard-allow-metrics-traffic").Object, &np); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
				t.Errorf("policyTypes %v, want only Ingress (egress to the API server and Google must stay open)", np.Spec.PolicyTypes)
			}
			podLabels := deploymentOf(t, r.objs).Spec.Template.Labels
			for k, v := range np.Spec.PodSelector.MatchLabels {
				if podLabels[k] != v {
					t.Errorf("policy selects pods with %s=%s; the manager's pods have %v", k, v, podLabels)
				}
			}
			if len(np.Spec.PodSelector.MatchLabels) == 0 {
				t.Error("policy selects every pod in the namespace")
			}
			if len(np.Spec.Ingress) != 1 {
				t.Fatalf("%d ingress rules, want 1", len(np.Spec.Ingress))
			}
			rule := np.Spec.Ingress[0]
			if len(rule.Ports) != 1 || rule.Ports[0].Port == nil || *rule.Ports[0].Port != intstr.FromInt32(8443) {
				t.Errorf("ports %v, want only 8443", rule.Ports)
			}
			if len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil || rule.From[0].NamespaceSelector.MatchLabels["metrics"] != "enabled" || rule.From[0].IPBlock != nil {
				t.Errorf("from %v, want namespaces labelled metrics=enabled", rule.From)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
