package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/testenv"
)

// The suite runs the real controller in a manager against a real API server (envtest) and the
// fake Google Cloud through the official Google clients. Each test works in its own namespace on
// its own Cloud Run service, so tests never see each other's state.
const (
	project       = "acme-prod"
	projectNumber = 123456789012
	location      = "us-central1"
	resync        = 2 * time.Second
	// accessPolicy is the organization's access policy, the manager's --access-policy;
	// scopedPolicy one scoped to acme-prod, which IAP does not honour.
	accessPolicy = "accessPolicies/555555555555"
	scopedPolicy = "accessPolicies/666666666666"
)

var (
	restConfig *rest.Config
	k8s        client.Client
	fake       *gcpfake.Server
	names      atomic.Int64
)

var knownPrincipals = []string{
	"group:finance-analysts@acme.com", "user:cfo@acme.com", "group:auditors@acme.com",
	"user:alice@acme.com", "user:bob@acme.com", "user:carol@acme.com", "user:dave@acme.com",
	"user:mallory@acme.com", "group:eng@acme.com", "serviceAccount:ci@acme-prod.iam.gserviceaccount.com",
}

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.UseDevMode(os.Getenv("RUNGUARD_TEST_LOG") != ""), zap.WriteTo(testLogOutput())))
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	fake, err = gcpfake.Start(gcpfake.Options{Seed: gcpfake.Seed{Projects: []gcpfake.Project{
		{ID: project, Number: projectNumber, Principals: knownPrincipals},
		{ID: "iap-off-project", Number: 222222222222, IAPAPIDisabled: true, Principals: knownPrincipals},
		{ID: "no-agent-project", Number: 333333333333, NoIAPServiceAgent: true, Principals: knownPrincipals},
		// late-agent-project's IAP agent is created by the test that needs it.
		{ID: "late-agent-project", Number: 444444444444, NoIAPServiceAgent: true, Principals: knownPrincipals},
	}, AccessPolicies: []gcpfake.AccessPolicy{
		{Name: accessPolicy, Parent: "organizations/987654321098", Title: "acme"},
		{Name: scopedPolicy, Parent: "organizations/987654321098", Title: "acme-prod only", Scopes: []string{"projects/123456789012"}},
		// The sample's level, made with another tool.
		{Name: "accessPolicies/123456789", Parent: "organizations/123123123123", Title: "sample", AccessLevels: []json.RawMessage{
			json.RawMessage(`{"name": "corp_managed_device", "title": "Corp managed device", "basic": {"conditions": [{"devicePolicy": {"requireScreenlock": true}}]}}`)}},
	}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer fake.Stop()
	k8s = env.Client
	restConfig = env.Config
	stop, err := startManager(env)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The manager stops before the API server, whose shutdown otherwise waits on its watches.
	defer stop()
	return m.Run()
}

// startManager runs the controller as the manager binary does and returns how to stop it.
func startManager(env *testenv.Env) (stop func(), err error) {
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// As the manager binary caches (cmd/manager).
		Cache: cache.Options{DefaultTransform: controllers.CacheTransform()},
	})
	if err != nil {
		return nil, err
	}
	google, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: fake.Endpoint(), IAPEndpoint: fake.Endpoint(),
		ResourceManagerEndpoint: fake.Endpoint(), ACMEndpoint: fake.Endpoint(), IAMEndpoint: fake.Endpoint()})
	if err != nil {
		return nil, err
	}
	r := &controllers.ProtectedServiceReconciler{
		Client:   mgr.GetClient(),
		Google:   google,
		Recorder: mgr.GetEventRecorder("runguard"),
		Options:  testOptions(),
	}
	levels := &controllers.AccessLevelReconciler{Client: mgr.GetClient(), Google: google, Recorder: r.Recorder, Options: testOptions()}
	r.Levels = levels
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		cancel()
		return nil, err
	}
	if err := levels.SetupWithManager(mgr); err != nil {
		cancel()
		return nil, err
	}
	grants := &controllers.AccessGrantReconciler{Client: mgr.GetClient(), Recorder: r.Recorder}
	if err := grants.SetupWithManager(mgr); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
		google.Close()
	}, nil
}

// testOptions are the manager's defaults with periods short enough for tests.
func testOptions() controllers.Options {
	o := controllers.DefaultOptions()
	o.ClusterName, o.ResyncPeriod, o.StalledRecheck, o.IAMPropagationDelay = "test", resync, 2*time.Second, time.Second
	o.IAPAgentPropagation = 8 * time.Second
	o.AccessPolicy = accessPolicy
	return o
}

// world is one test's namespace and Cloud Run service.
type world struct {
	t         testing.TB
	ns        string
	service   string // short name
	project   string
	fullName  string
	iapTarget string
}

type worldOption func(*corev1.Namespace, *gcpfake.Service)

func withAnnotation(k, v string) worldOption {
	return func(ns *corev1.Namespace, _ *gcpfake.Service) { ns.Annotations[k] = v }
}

func withService(f func(*gcpfake.Service)) worldOption {
	return func(_ *corev1.Namespace, s *gcpfake.Service) { f(s) }
}

func newWorld(t testing.TB, opts ...worldOption) *world {
	t.Helper()
	n := names.Add(1)
	w := &world{t: t, ns: fmt.Sprintf("tenant-%d", n), service: fmt.Sprintf("svc-%d", n)}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.ns, Annotations: map[string]string{
		iapv1alpha1.AnnotationAllowedProjects: project + ",no-agent-project,iap-off-project,late-agent-project",
	}}}
	svc := gcpfake.Service{Project: project, Location: location, Name: w.service}
	for _, o := range opts {
		o(ns, &svc)
	}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	w.service, w.project = svc.Name, svc.Project
	if svc.Name != "" {
		if err := fake.AddService(svc); err != nil {
			t.Fatal(err)
		}
	}
	w.fullName = fmt.Sprintf("projects/%s/locations/%s/services/%s", svc.Project, location, w.service)
	w.iapTarget = fmt.Sprintf("projects/%d/iap_web/cloud_run-%s/services/%s", numberOf(svc.Project), location, w.service)
	return w
}

func numberOf(p string) int64 {
	n, _ := fake.ProjectNumber(p)
	return n
}

// inProject puts the world's Cloud Run service in another project, which its namespace may
// target; objects made with w.object target it there.
func inProject(p string) worldOption {
	return func(ns *corev1.Namespace, s *gcpfake.Service) {
		s.Project = p
		ns.Annotations[iapv1alpha1.AnnotationAllowedProjects] += "," + p
	}
}

// newProject adds a project of the test's own to the fake. The permission preflight is
// remembered per project, so a test about what it asks needs a project where no other object
// (of another test, or of an earlier run with -count) passed it first.
func newProject(t testing.TB) string {
	t.Helper()
	n := names.Add(1)
	id := fmt.Sprintf("own-project-%d", n)
	if err := fake.AddProject(gcpfake.Project{ID: id, Number: 500000000000 + n, Principals: knownPrincipals}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (w *world) object(name string, groups ...iapv1alpha1.AccessGroup) *iapv1alpha1.ProtectedService {
	return &iapv1alpha1.ProtectedService{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: name},
		Spec: iapv1alpha1.ProtectedServiceSpec{
			Service:      iapv1alpha1.ServiceRef{Project: w.project, Location: location, Name: w.service},
			AccessGroups: groups,
		},
	}
}

func group(name string, members ...string) iapv1alpha1.AccessGroup {
	g := iapv1alpha1.AccessGroup{Name: name}
	for _, m := range members {
		g.Members = append(g.Members, iapv1alpha1.Member(m))
	}
	return g
}

func (w *world) create(ps *iapv1alpha1.ProtectedService) {
	w.t.Helper()
	if err := k8s.Create(context.Background(), ps); err != nil {
		w.t.Fatalf("create %s: %v", ps.Name, err)
	}
}

// update re-reads the object, applies change and writes it, retrying on conflicts.
func (w *world) update(name string, change func(*iapv1alpha1.ProtectedService)) {
	w.t.Helper()
	eventually(w.t, 10*time.Second, "update "+name, func() error {
		ps := w.get(name)
		change(ps)
		return k8s.Update(context.Background(), ps)
	})
}

func (w *world) get(name string) *iapv1alpha1.ProtectedService {
	w.t.Helper()
	ps := &iapv1alpha1.ProtectedService{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, ps); err != nil {
		w.t.Fatalf("get %s: %v", name, err)
	}
	return ps
}

// waitFor waits until the object's condition has the status (and reason, when given) for its
// current generation, and returns the object.
func (w *world) waitFor(name, conditionType string, status metav1.ConditionStatus, reason string) *iapv1alpha1.ProtectedService {
	w.t.Helper()
	var ps *iapv1alpha1.ProtectedService
	eventually(w.t, 30*time.Second, fmt.Sprintf("%s %s=%s %s", name, conditionType, status, reason), func() error {
		ps = w.get(name)
		c := meta.FindStatusCondition(ps.Status.Conditions, conditionType)
		switch {
		case c == nil:
			return fmt.Errorf("no %s condition; conditions: %s", conditionType, describeConditions(ps))
		case c.Status != status || (reason != "" && c.Reason != reason) || ps.Status.ObservedGeneration != ps.Generation:
			return fmt.Errorf("generation %d observed %d; %s", ps.Generation, ps.Status.ObservedGeneration, describeConditions(ps))
		}
		return nil
	})
	return ps
}

func (w *world) waitReady(name string) *iapv1alpha1.ProtectedService {
	w.t.Helper()
	return w.waitFor(name, iapv1alpha1.ConditionReady, metav1.ConditionTrue, "")
}

func (w *world) waitStalled(name, reason string) *iapv1alpha1.ProtectedService {
	w.t.Helper()
	return w.waitFor(name, iapv1alpha1.ConditionStalled, metav1.ConditionTrue, reason)
}

func describeConditions(ps *iapv1alpha1.ProtectedService) string {
	var parts []string
	for _, c := range ps.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, "; ")
}

func (w *world) iapPolicy() *iampb.Policy {
	w.t.Helper()
	p, ok := fake.IAPPolicy(w.iapTarget)
	if !ok {
		w.t.Fatalf("no IAP policy for %s", w.iapTarget)
	}
	return p
}

func (w *world) servicePolicy() *iampb.Policy {
	w.t.Helper()
	p, ok := fake.ServicePolicy(w.fullName)
	if !ok {
		w.t.Fatalf("no policy for %s", w.fullName)
	}
	return p
}

func (w *world) cloudRun() *runpb.Service {
	w.t.Helper()
	s, ok := fake.GetService(w.fullName)
	if !ok {
		w.t.Fatalf("no service %s", w.fullName)
	}
	return s
}

// writes lists the Google writes made on this world's service and IAP resource, in order.
func (w *world) writes() []string {
	var out []string
	for _, c := range fake.Calls() {
		if c.Write && (c.Resource == w.fullName || c.Resource == w.iapTarget) {
			out = append(out, c.Method)
		}
	}
	return out
}

// eventually waits for an outcome (see testenv.Eventually).
var eventually = testenv.Eventually

// members returns "role|conditionTitle" → sorted members, the policy's content in a form that
// is easy to compare.
func bindingsOf(p *iampb.Policy) map[string][]string {
	out := map[string][]string{}
	for _, b := range p.GetBindings() {
		k := b.GetRole() + "|" + b.GetCondition().GetTitle()
		out[k] = append(out[k], b.GetMembers()...)
	}
	return out
}

// testLogOutput keeps the manager quiet unless RUNGUARD_TEST_LOG is set.
func testLogOutput() *os.File {
	if os.Getenv("RUNGUARD_TEST_LOG") != "" {
		return os.Stderr
	}
	f, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	return f
}
