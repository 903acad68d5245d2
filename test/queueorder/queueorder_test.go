// Package queueorder proves, on a real API server and the fake Google Cloud through the official
// clients, the order in which the manager serves passes when more are waiting than it can serve:
// revocations first of all, then users' other changes, then new objects, then resyncs. Each test
// runs its own manager (few workers, paced as in production) in its own namespace and project.
package queueorder

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/testenv"
)

const location = "us-central1"

var (
	env   *testenv.Env
	fake  *gcpfake.Server
	count atomic.Int64
)

var principals = []string{"user:alice@acme.com", "user:bob@acme.com", "user:carol@acme.com"}

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(nopWriter{})))
	os.Exit(testenv.Run(m, func(e *testenv.Env) {
		env = e
		var err error
		if fake, err = gcpfake.Start(gcpfake.Options{}); err != nil {
			panic(err)
		}
	}))
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// tenant is one test's namespace and project.
type tenant struct {
	t       *testing.T
	ns      string
	project string
	number  int64
}

func newTenant(t *testing.T) *tenant {
	n := count.Add(1)
	tn := &tenant{t: t, ns: fmt.Sprintf("order-%d", n), project: fmt.Sprintf("order-project-%d", n), number: 700000000000 + n}
	if err := fake.AddProject(gcpfake.Project{ID: tn.project, Number: tn.number, Principals: principals}); err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tn.ns, Annotations: map[string]string{iapv1alpha1.AnnotationAllowedProjects: tn.project}}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return tn
}

// startManager runs a manager as cmd/manager does, with workers workers and runguard's pace at
// runWrites Cloud Run writes a minute per project and region, until the test ends (or stop).
func (tn *tenant) startManager(workers int, runWrites float64, resync time.Duration) (stop func()) {
	tn.t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0", Controller: config.Controller{SkipNameValidation: ptr(true)}, Cache: cache.Options{DefaultTransform: controllers.CacheTransform(),
			DefaultNamespaces: map[string]cache.Config{tn.ns: {}}}})
	if err != nil {
		tn.t.Fatal(err)
	}
	google, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: fake.Endpoint(), IAPEndpoint: fake.Endpoint(),
		ResourceManagerEndpoint: fake.Endpoint(), ACMEndpoint: fake.Endpoint(), IAMEndpoint: fake.Endpoint(),
		Rates: gcp.Rates{RunWritesPerMinute: runWrites, RunReadsPerMinute: 6000}})
	if err != nil {
		tn.t.Fatal(err)
	}
	opts := controllers.DefaultOptions()
	opts.ClusterName, opts.MaxConcurrentReconciles, opts.ResyncPeriod, opts.IAMPropagationDelay = "order", workers, resync, 0
	r := &controllers.ProtectedServiceReconciler{Client: mgr.GetClient(), Google: google, Recorder: mgr.GetEventRecorder("runguard"), Options: opts}
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		tn.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			tn.t.Errorf("manager: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			google.Close()
		})
	}
	tn.t.Cleanup(stop)
	return stop
}

// create makes n services and objects named prefix-i, all in one project and region; the
// objects bind alice and bob.
func (tn *tenant) create(prefix string, n int) []string {
	tn.t.Helper()
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("%s-%d", prefix, i))
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, name := range names {
		if err := fake.AddService(gcpfake.Service{Project: tn.project, Location: location, Name: name}); err != nil {
			tn.t.Fatal(err)
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ps := &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: tn.ns, Name: name},
				Spec: iapv1alpha1.ProtectedServiceSpec{Service: iapv1alpha1.ServiceRef{Project: tn.project, Location: location, Name: name},
					AccessGroups: []iapv1alpha1.AccessGroup{{Name: "devs", Members: []iapv1alpha1.Member{"user:alice@acme.com", "user:bob@acme.com"}}}}}
			if err := env.Client.Create(context.Background(), ps); err != nil {
				tn.t.Errorf("create %s: %v", name, err)
			}
		})
	}
	wg.Wait()
	return names
}

// ready counts the objects whose Ready condition is True for their generation.
func (tn *tenant) ready() map[string]bool {
	var list iapv1alpha1.ProtectedServiceList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(tn.ns)); err != nil {
		tn.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, ps := range list.Items {
		c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady)
		if c != nil && c.Status == metav1.ConditionTrue && ps.Status.ObservedGeneration == ps.Generation {
			out[ps.Name] = true
		}
	}
	return out
}

func (tn *tenant) waitReady(names []string, within time.Duration) {
	tn.t.Helper()
	testenv.Eventually(tn.t, within, "objects Ready", func() error {
		ready := tn.ready()
		for _, n := range names {
			if !ready[n] {
				return fmt.Errorf("%d of %d Ready; %s is not", len(ready), len(names), n)
			}
		}
		return nil
	})
}

// setMembers changes the members of an object's group devs.
func (tn *tenant) setMembers(name string, members ...iapv1alpha1.Member) {
	tn.t.Helper()
	ps := &iapv1alpha1.ProtectedService{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: tn.ns, Name: name}, ps); err != nil {
		tn.t.Fatal(err)
	}
	before := ps.DeepCopy()
	ps.Spec.AccessGroups[0].Members = members
	if err := env.Client.Patch(context.Background(), ps, client.MergeFrom(before)); err != nil {
		tn.t.Fatal(err)
	}
}

func (tn *tenant) iapResource(name string) string {
	return fmt.Sprintf("projects/%d/iap_web/cloud_run-%s/services/%s", tn.number, location, name)
}

// bound reports whether the object's IAP policy binds member.
func (tn *tenant) bound(name, member string) bool {
	p, _ := fake.IAPPolicy(tn.iapResource(name))
	for _, b := range p.GetBindings() {
		if slices.Contains(b.GetMembers(), member) {
			return true
		}
	}
	return false
}

// readsAfter lists, in order, the objects of names whose passes read their Cloud Run service
// after since: one entry per pass.
func (tn *tenant) readsAfter(since time.Time, names []string) []string {
	var out []string
	for _, c := range fake.Calls() {
		if c.Time.Before(since) || c.Method != "run.GetService" {
			continue
		}
		for _, n := range names {
			if strings.HasSuffix(c.Resource, "/services/"+n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// An edit made while 200 new objects wait for their turn at the write rate is served ahead of
// them: at 120 writes a minute they need more than three minutes, the edit is in Google while
// nearly all of them are still waiting — and they wait without reading.
func TestOrder_AnEditGoesAheadOfTwoHundredNewObjects(t *testing.T) {
	tn := newTenant(t)
	tn.startManager(2, 120, time.Hour)
	edited := tn.create("edited", 1)
	tn.waitReady(edited, 30*time.Second)

	herd := tn.create("new", 200)
	since := time.Now()
	tn.setMembers("edited-0", "user:alice@acme.com", "user:bob@acme.com", "user:carol@acme.com")
	testenv.Eventually(t, 30*time.Second, "the edit in Google", func() error {
		if !tn.bound("edited-0", "user:carol@acme.com") {
			return fmt.Errorf("carol not bound yet")
		}
		return nil
	})
	readyNew := 0
	for n := range tn.ready() {
		if strings.HasPrefix(n, "new-") {
			readyNew++
		}
	}
	t.Logf("the edit reached Google %s after it was made; %d of 200 new objects were Ready then, and they had read their services %d times",
		time.Since(since).Round(time.Millisecond), readyNew, len(tn.readsAfter(since, herd)))
	if readyNew > 50 {
		t.Errorf("%d of the 200 new objects were served before the edit", readyNew)
	}
	if reads := tn.readsAfter(since, herd); len(reads) > 2*readyNew+20 {
		t.Errorf("the new objects read their services %d times while %d of them became Ready: passes waiting for their turn read Google", len(reads), readyNew)
	}
}

// A revocation made while 50 resyncs of one project and region are queued is served before
// them.
func TestOrder_ARevocationGoesAheadOfFiftyQueuedResyncs(t *testing.T) {
	tn := newTenant(t)
	slow := fake.AddFault(gcpfake.FaultRule{Method: "run.GetService", Latency: 100 * time.Millisecond})
	defer fake.RemoveFault(slow)
	stop := tn.startManager(1, 6000, time.Hour)
	names := tn.create("svc", 50)
	tn.waitReady(names, 2*time.Minute)
	stop()

	// A new manager lists all 50 alike (the initial listing, at resync priority) and then the
	// revocation arrives: it is served next, not 50th.
	tn.startManager(1, 6000, time.Hour)
	time.Sleep(500 * time.Millisecond)
	since := time.Now()
	tn.setMembers("svc-49", "user:alice@acme.com")
	testenv.Eventually(t, 30*time.Second, "bob revoked", func() error {
		if tn.bound("svc-49", "user:bob@acme.com") {
			return fmt.Errorf("bob still bound")
		}
		return nil
	})
	before := tn.readsAfter(since, names)
	if i := slices.Index(before, "svc-49"); i < 0 || i > 2 {
		t.Errorf("the revoked object's pass was the %dth to read after the edit: %v", i+1, before)
	}
}

// A manager that has just become leader serves a revocation made while no manager ran before
// every other object it lists.
func TestOrder_ANewLeaderServesAPendingRevocationFirst(t *testing.T) {
	tn := newTenant(t)
	stop := tn.startManager(1, 6000, time.Hour)
	names := tn.create("obj", 40)
	tn.waitReady(names, 2*time.Minute)
	stop()

	tn.setMembers("obj-39", "user:alice@acme.com")
	since := time.Now()
	tn.startManager(1, 6000, time.Hour)
	testenv.Eventually(t, 30*time.Second, "bob revoked", func() error {
		if tn.bound("obj-39", "user:bob@acme.com") {
			return fmt.Errorf("bob still bound")
		}
		return nil
	})
	if reads := tn.readsAfter(since, names); len(reads) == 0 || reads[0] != "obj-39" {
		t.Errorf("the new leader's first pass was not the revocation's: passes read %v", reads[:min(len(reads), 5)])
	}
}

func ptr[T any](v T) *T { return &v }
