package main

import (
	"context"
	"path/filepath"
	"strings"
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
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "finance", Annotations: map[string]string{
			iapv1alpha1.AnnotationAllowedProjects: "acme-prod/us-central1/billing-*"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "runguard-system"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "runguard-system", Name: "runguard-manager",
			Annotations: map[string]string{workloadIdentityAnnotation: "runguard@acme-ops.iam.gserviceaccount.com"}}},
		managerDeployment(),
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
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

func managerDeployment() *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "runguard"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "runguard-system", Name: "runguard-controller-manager", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{ServiceAccountName: "runguard-manager", Containers: []corev1.Container{
					{Name: "manager", Image: "runguard:dev", Args: []string{"--leader-elect", "--cluster-name=prod"}}}},
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
