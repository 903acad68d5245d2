package packaging

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/health"
	"github.com/runguard/runguard/internal/testenv"
)

const (
	demoProject       = "demo-project"
	demoProjectNumber = 123456789012
	demoLocation      = "us-central1"
)

// runningManager is the real manager binary, run with the rendered Deployment's arguments and
// the rendered ServiceAccount's token: no admin credentials anywhere in its process.
type runningManager struct {
	cmd        *exec.Cmd
	logs       *syncBuffer
	probeAddr  string
	metricsURL string
	done       chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serviceAccountToken asks the API server for a token of the ServiceAccount, as the kubelet
// does for the manager's pod.
func serviceAccountToken(t *testing.T, namespace, name string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

func writeKubeconfig(t *testing.T, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: env.Config.Host, CertificateAuthorityData: env.Config.CAData}
	cfg.AuthInfos["manager"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["manager"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "manager"}
	cfg.CurrentContext = "manager"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func startManager(t *testing.T, objs []*unstructured.Unstructured, fake *gcpfake.Server) *runningManager {
	t.Helper()
	d := deploymentOf(t, objs)
	pod := d.Spec.Template.Spec
	kubeconfig := writeKubeconfig(t, serviceAccountToken(t, d.Namespace, pod.ServiceAccountName))
	m := &runningManager{logs: &syncBuffer{}, probeAddr: freeAddr(t), done: make(chan error, 1)}
	metricsAddr := freeAddr(t)
	m.metricsURL = "https://" + metricsAddr + "/metrics"
	// The Deployment's own arguments first; later flags win, and only these differ from a pod:
	// loopback ports, the Lease namespace a pod reads from its service account mount, the fake
	// Google Cloud instead of Google's endpoints, and a short wait for a just-created IAP agent
	// (the fake's missing agent never appears).
	args := append(slices.Clone(pod.Containers[0].Args),
		"--metrics-bind-address="+metricsAddr,
		"--health-probe-bind-address="+m.probeAddr,
		"--leader-election-namespace="+d.Namespace,
		"--cluster-name=packaging-test",
		"--run-endpoint="+fake.Endpoint(),
		"--iap-endpoint="+fake.Endpoint(),
		"--resourcemanager-endpoint="+fake.Endpoint(),
		"--resync-period=1m",
		"--iap-agent-propagation-timeout=3s",
	)
	m.cmd = exec.Command(managerBinary(t), args...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "KUBERNETES_SERVICE_HOST=", "KUBERNETES_SERVICE_PORT=")
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	t.Cleanup(func() {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(15 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.done
		}
		if t.Failed() {
			t.Logf("manager logs:\n%s", m.logs.String())
		}
	})
	eventually(t, 60*time.Second, "manager ready", func() error {
		select {
		case err := <-m.done:
			m.done <- err
			return fmt.Errorf("manager exited: %v\n%s", err, m.logs.String())
		default:
		}
		resp, err := http.Get("http://" + m.probeAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	})
	return m
}

// eventually waits for an outcome (see testenv.Eventually).
var eventually = testenv.Eventually

func startFake(t *testing.T) *gcpfake.Server {
	t.Helper()
	principals := []string{"user:alice@example.com", "group:engineering@example.com"}
	fake, err := gcpfake.Start(gcpfake.Options{Seed: gcpfake.Seed{
		Projects: []gcpfake.Project{
			{ID: demoProject, Number: demoProjectNumber, Principals: principals},
			{ID: "iap-off-project", Number: 222222222222, IAPAPIDisabled: true, Principals: principals},
			{ID: "no-agent-project", Number: 333333333333, NoIAPServiceAgent: true, Principals: principals},
		},
		Services: []gcpfake.Service{
			{Project: demoProject, Location: demoLocation, Name: "hello", Public: true},
			{Project: demoProject, Location: demoLocation, Name: "deleting", Public: true},
			{Project: "iap-off-project", Location: demoLocation, Name: "app"},
			{Project: "no-agent-project", Location: demoLocation, Name: "app"},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	return fake
}

func tenantNamespace(t *testing.T, name string, annotations map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

func removeAnnotation(t *testing.T, namespace, key string) {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: namespace}, ns); err != nil {
		t.Fatal(err)
	}
	delete(ns.Annotations, key)
	if err := env.Client.Update(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

func protect(t *testing.T, namespace, name, project, service string) *iapv1alpha1.ProtectedService {
	t.Helper()
	ps := &iapv1alpha1.ProtectedService{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: iapv1alpha1.ProtectedServiceSpec{
			Service: iapv1alpha1.ServiceRef{Project: project, Location: demoLocation, Name: service},
			AccessGroups: []iapv1alpha1.AccessGroup{{Name: "engineering",
				Members: []iapv1alpha1.Member{"group:engineering@example.com", "user:alice@example.com"}}},
		},
	}
	if err := env.Client.Create(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

// liveObject reads the object the way Argo CD and Flux see it.
func liveObject(t *testing.T, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(iapv1alpha1.GroupVersion.WithKind("ProtectedService"))
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	return u
}

type gitopsView struct {
	argo    health.ArgoCDHealth
	kstatus status.Status
}

func gitopsViewOf(t *testing.T, u *unstructured.Unstructured) gitopsView {
	t.Helper()
	argo, err := health.EvaluateArgoCD(health.ArgoCDLua, u.Object)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	return gitopsView{argo: argo, kstatus: ks.Status}
}

// waitForGitOps waits until the live object shows the wanted Argo CD health and kstatus.
func waitForGitOps(t *testing.T, namespace, name, argo string, ks status.Status, message string) *unstructured.Unstructured {
	t.Helper()
	var u *unstructured.Unstructured
	eventually(t, 90*time.Second, fmt.Sprintf("%s/%s %s and %s", namespace, name, argo, ks), func() error {
		u = liveObject(t, namespace, name)
		v := gitopsViewOf(t, u)
		if v.argo.Status != argo || v.kstatus != ks || !strings.Contains(v.argo.Message, message) {
			return fmt.Errorf("Argo CD %s %q, kstatus %s", v.argo.Status, v.argo.Message, v.kstatus)
		}
		return nil
	})
	return u
}

// The proof of least privilege: the manager, holding nothing but the rendered
// ServiceAccount's token, protects a sample end to end, elects a leader in its namespace and
// serves authenticated metrics; and the objects it produces read correctly in Argo CD and Flux.
func TestManager_AsItsRenderedServiceAccount_ProtectsASample(t *testing.T) {
	ctx := context.Background()
	objs := installRBAC(t)
	fake := startFake(t)
	m := startManager(t, objs, fake)

	tenantNamespace(t, "team-a", map[string]string{
		"iap.runguard.dev/allowed-projects": demoProject + ",iap-off-project,no-agent-project",
	})
	protect(t, "team-a", "hello", demoProject, "hello")

	t.Run("the sample becomes Ready and the service IAP-protected", func(t *testing.T) {
		u := waitForGitOps(t, "team-a", "hello", health.Healthy, status.CurrentStatus, "is behind IAP")
		ready := meta.FindStatusCondition(conditionsOf(t, u), iapv1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue {
			t.Fatalf("Ready = %+v", ready)
		}
		svc, ok := fake.GetService(fmt.Sprintf("projects/%s/locations/%s/services/hello", demoProject, demoLocation))
		if !ok || !svc.GetIapEnabled() {
			t.Errorf("fake service: found=%v iapEnabled=%v", ok, svc.GetIapEnabled())
		}
	})

	t.Run("leader election holds a Lease in the manager's namespace", func(t *testing.T) {
		var lease coordinationv1.Lease
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: "runguard.iap.runguard.dev"}, &lease); err != nil {
			t.Fatal(err)
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			t.Errorf("lease has no holder: %+v", lease.Spec)
		}
	})

	t.Run("metrics need a token authorized for /metrics", func(t *testing.T) {
		metricsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			// The manager serves a self-signed certificate, as in a cluster.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
		}}
		scrape := func(token string) int {
			req, _ := http.NewRequest(http.MethodGet, m.metricsURL, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := metricsClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		// A Prometheus-like scraper bound to the rendered metrics-reader ClusterRole.
		tenantNamespace(t, "monitoring", nil)
		scraper := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "prometheus"}}
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "prometheus-runguard-metrics"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "runguard-metrics-reader"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "monitoring", Name: "prometheus"}},
		}
		for _, o := range []client.Object{scraper, binding} {
			if err := env.Client.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		if code := scrape(""); code != http.StatusUnauthorized {
			t.Errorf("anonymous scrape: %d, want 401", code)
		}
		if code := scrape(serviceAccountToken(t, installNamespace, managerServiceAccount)); code != http.StatusForbidden {
			t.Errorf("scrape with a token not granted metrics-reader: %d, want 403", code)
		}
		promToken := serviceAccountToken(t, "monitoring", "prometheus")
		eventually(t, 30*time.Second, "authorized scrape", func() error {
			if code := scrape(promToken); code != http.StatusOK {
				return fmt.Errorf("status %d", code)
			}
			return nil
		})
	})

	t.Run("it serves every metric the shipped alerts and dashboard query", func(t *testing.T) {
		checkServed(t, metricFamilies(t, scrapeManager(t, m, serviceAccountToken(t, "monitoring", "prometheus"))))
	})

	t.Run("stalled and waiting objects read as Degraded/Failed and Progressing/InProgress", func(t *testing.T) {
		// The admission policy refuses an object whose namespace may not target its project, so
		// team-b may until the object is stored; then a cluster admin takes that back.
		tenantNamespace(t, "team-b", map[string]string{"iap.runguard.dev/allowed-projects": demoProject})
		protect(t, "team-b", "hello", demoProject, "hello")
		removeAnnotation(t, "team-b", "iap.runguard.dev/allowed-projects")
		protect(t, "team-a", "not-deployed", demoProject, "not-deployed-yet")
		protect(t, "team-a", "iap-off", "iap-off-project", "app")
		protect(t, "team-a", "no-agent", "no-agent-project", "app")
		for _, c := range []struct {
			ns, name, argo string
			ks             status.Status
			message        string
		}{
			{"team-b", "hello", health.Degraded, status.FailedStatus, "ProjectNotAllowed: "},
			{"team-a", "not-deployed", health.Progressing, status.InProgressStatus, "ServiceNotFound: "},
			{"team-a", "iap-off", health.Degraded, status.FailedStatus, "APIDisabled: "},
			{"team-a", "no-agent", health.Degraded, status.FailedStatus, "IAPServiceAgentMissing: "},
		} {
			u := waitForGitOps(t, c.ns, c.name, c.argo, c.ks, c.message)
			capture(t, c.ns+"-"+c.name, u)
		}
	})

	t.Run("the installed admission policy refuses what a namespace does not allow", func(t *testing.T) {
		tenantNamespace(t, "team-c", nil) // no allowed-projects annotation
		ps := &iapv1alpha1.ProtectedService{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-c", Name: "hello"},
			Spec:       iapv1alpha1.ProtectedServiceSpec{Service: iapv1alpha1.ServiceRef{Project: demoProject, Location: demoLocation, Name: "hello"}},
		}
		// A binding takes effect a moment after it is stored.
		eventually(t, 60*time.Second, "create refused by runguard-tenancy", func() error {
			err := env.Client.Create(ctx, ps.DeepCopy())
			if err == nil {
				return fmt.Errorf("admitted")
			}
			if !strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'runguard-tenancy'") ||
				!strings.Contains(err.Error(), "Namespace team-c may not target Cloud Run service "+demoProject+"/"+demoLocation+"/hello") {
				return err
			}
			return nil
		})
	})

	t.Run("an object being deleted reads as Progressing/Terminating", func(t *testing.T) {
		protect(t, "team-a", "deleting", demoProject, "deleting")
		waitForGitOps(t, "team-a", "deleting", health.Healthy, status.CurrentStatus, "")
		// Hold the cleanup: IAP's IAM API is unavailable, so the finalizer stays.
		id := fake.AddFault(gcpfake.FaultRule{Method: "iap.*", Code: codes.Unavailable})
		ps := &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "deleting"}}
		if err := env.Client.Delete(ctx, ps); err != nil {
			t.Fatal(err)
		}
		capture(t, "team-a-deleting", waitForGitOps(t, "team-a", "deleting", health.Progressing, status.TerminatingStatus, "Being deleted"))
		fake.RemoveFault(id)
		eventually(t, 90*time.Second, "finalizer released", func() error {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(ps), ps)
			if client.IgnoreNotFound(err) != nil {
				return err
			}
			if err == nil {
				return fmt.Errorf("still there, finalizers %v", ps.Finalizers)
			}
			return nil
		})
	})

	capture(t, "team-a-hello", liveObject(t, "team-a", "hello"))

	if logs := m.logs.String(); strings.Contains(strings.ToLower(logs), "forbidden") {
		t.Errorf("the manager was refused something by the API server:\n%s", grepLines(logs, "forbidden"))
	}
}

func conditionsOf(t *testing.T, u *unstructured.Unstructured) []metav1.Condition {
	t.Helper()
	var ps iapv1alpha1.ProtectedService
	if err := env.Scheme.Convert(u, &ps, nil); err != nil {
		t.Fatal(err)
	}
	return ps.Status.Conditions
}

func grepLines(s, substr string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(line), substr) {
			if len(line) > 400 {
				line = line[:400] + "..."
			}
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
