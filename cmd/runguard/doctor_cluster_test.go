package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/testenv"
)

// With --from-cluster, doctor checks the projects and regions the namespaces may target, and
// reports the manager's Workload Identity binding, from a real API server.
func TestDoctor_FromClusterReadsNamespacesAndTheManager(t *testing.T) {
	env := apiServer(t)
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "finance", Annotations: map[string]string{
		iapv1alpha1.AnnotationAllowedProjects: "acme-prod/us-central1/billing-*"}}}); err != nil {
		t.Fatal(err)
	}
	installManager(t, env)
	kubeconfig := writeKubeconfig(t, env)
	fake := startFake(t)
	r := runguard(t, fake, "", "doctor", "--from-cluster", "--kubeconfig", kubeconfig, "--service", "billing-dashboard")
	if r.code != exitOK {
		t.Fatalf("doctor exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"namespace finance may target acme-prod/us-central1/billing-*",
		"bound by Workload Identity to runguard@acme-ops.iam.gserviceaccount.com",
		"no --audit-log-subscription",
		"ok    projects/acme-prod/locations/us-central1/services/billing-dashboard: every permission runguard uses",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor does not say %q:\n%s", want, r.stdout)
		}
	}
}

// installManager puts the manager's Deployment (as the demo's: --cluster-name demo, and
// levelPolicy as its --access-policy) and its
// Workload-Identity-bound service account in the shared API server, once.
func installManager(t *testing.T, env *testenv.Env) {
	t.Helper()
	installing.Do(func() {
		for _, o := range []client.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "runguard-system"}},
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "runguard-system", Name: "runguard-manager",
				Annotations: map[string]string{workloadIdentityAnnotation: "runguard@acme-ops.iam.gserviceaccount.com"}}},
			managerDeployment("--leader-elect", "--cluster-name=demo", "--access-policy="+levelPolicy),
		} {
			if installErr = env.Client.Create(context.Background(), o); installErr != nil {
				return
			}
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
}

var (
	installing sync.Once
	installErr error
)

func managerDeployment(args ...string) *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "runguard"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "runguard-system", Name: "runguard-controller-manager", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{ServiceAccountName: "runguard-manager", Containers: []corev1.Container{
					{Name: "manager", Image: "runguard:dev", Args: args}}},
			},
		},
	}
}

// writeKubeconfig writes a kubeconfig for the envtest API server, as its admin.
func writeKubeconfig(t *testing.T, env *testenv.Env) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: env.Config.Host, CertificateAuthorityData: env.Config.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: env.Config.CertData, ClientKeyData: env.Config.KeyData}
	cfg.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	cfg.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	startAPIServer sync.Once
	sharedEnv      *testenv.Env
	sharedEnvErr   error
)

// apiServer is a real API server shared by this package's tests (stopped by TestMain); each test
// works in namespaces of its own.
func apiServer(t *testing.T) *testenv.Env {
	t.Helper()
	startAPIServer.Do(func() { sharedEnv, sharedEnvErr = testenv.Start() })
	if sharedEnvErr != nil {
		t.Fatal(sharedEnvErr)
	}
	return sharedEnv
}

// With a cluster in the kubeconfig and no --cluster-name, export and plan take the manager's
// --cluster-name from its Deployment, and plan takes each namespace's annotations from the
// cluster: the export of the demo project plans no change, with no flag about the cluster.
func TestExportThenPlan_ReadTheClusterNameAndAnnotationsFromTheCluster(t *testing.T) {
	env := apiServer(t)
	installManager(t, env)
	ensureNamespace(t, env.Client, "adoption", map[string]string{
		iapv1alpha1.AnnotationAllowedProjects: "acme-prod", iapv1alpha1.AnnotationAllowPublic: "true"})
	kubeconfig := writeKubeconfig(t, env)
	fake := startFake(t)
	google := []string{"--run-endpoint", fake.Endpoint(), "--iap-endpoint", fake.Endpoint(), "--resourcemanager-endpoint", fake.Endpoint(), "--iam-endpoint", fake.Endpoint(),
		"--iamcredentials-endpoint", fake.HTTPEndpoint(), "--impersonate-service-account", adoption, "--kubeconfig", kubeconfig}
	exported := runCLI(t, "", append([]string{"export", "--project", "acme-prod", "--location", "us-central1,europe-west1", "-n", "adoption"}, google...)...)
	if exported.code != exitOK || !strings.Contains(exported.stderr, "--cluster-name demo, as Deployment runguard-system/runguard-controller-manager runs the manager") {
		t.Fatalf("export exited %d; stderr:\n%s", exported.code, exported.stderr)
	}
	planned := runCLI(t, exported.stdout, append([]string{"plan", "-f", "-"}, google...)...)
	if planned.code != exitOK || strings.Count(planned.stdout, ": no changes") != 4 {
		t.Fatalf("plan exited %d, want 0 and no changes for the 4 services:\n%s%s", planned.code, planned.stdout, planned.stderr)
	}
	if !strings.Contains(planned.stderr, "namespace annotations are read from the cluster") || strings.Contains(planned.stderr, "checks are skipped") {
		t.Errorf("plan does not say it read the namespace's annotations from the cluster:\n%s", planned.stderr)
	}
}
