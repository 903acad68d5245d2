package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/testenv"
)

// BenchmarkReconcile_NoChange measures one resync pass of a Ready object with 3 access groups
// against the real API server and the fake Google Cloud: latency, allocations, and the Google
// calls and Kubernetes writes each pass makes (both should stay at reads only).
func BenchmarkReconcile_NoChange(b *testing.B) {
	benchmarkNoChange(b, nil)
}

// BenchmarkReconcile_NoChangeWithSettings is the same pass for an object that declares IAP
// settings: one more read (GetIapSettings), still no write.
func BenchmarkReconcile_NoChangeWithSettings(b *testing.B) {
	benchmarkNoChange(b, func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.IAP.Settings = &iapv1alpha1.IAPSettings{
			AccessDeniedPage: &iapv1alpha1.AccessDeniedPage{URI: &deniedPage}, Reauthentication: reauth}
	})
}

// BenchmarkReconcile_NoChangeRequiringAnAccessLevelObject: a group requires an AccessLevel
// object, resolved from the cluster's cache: no more Google calls than without it.
func BenchmarkReconcile_NoChangeRequiringAnAccessLevelObject(b *testing.B) {
	al := &iapv1alpha1.AccessLevel{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-level-%d", names.Add(1))}, Spec: officeLevel("203.0.113.0/24")}
	if err := k8s.Create(context.Background(), al); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = k8s.Delete(context.Background(), al) }()
	benchmarkNoChange(b, func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups[0].Context = &iapv1alpha1.AccessContext{AccessLevels: []iapv1alpha1.AccessLevelRef{iapv1alpha1.AccessLevelRef(al.Name)}}
	})
}

// BenchmarkReconcile_NoChangeRequiringAFullLevelName: a group requires a level by its full
// name, which each pass checks in Access Context Manager: one more read.
func BenchmarkReconcile_NoChangeRequiringAFullLevelName(b *testing.B) {
	benchmarkNoChange(b, func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups[0].Context = &iapv1alpha1.AccessContext{AccessLevels: []iapv1alpha1.AccessLevelRef{"accessPolicies/123456789/accessLevels/corp_managed_device"}}
	})
}

// BenchmarkReconcile_NoChangeWithAccessTests: three access tests evaluated each pass against the
// planned policy and the inherited grants (read once, then remembered): no more Google calls.
func BenchmarkReconcile_NoChangeWithAccessTests(b *testing.B) {
	benchmarkNoChange(b, func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups[0].Context = &iapv1alpha1.AccessContext{PathPrefixes: []iapv1alpha1.PathPrefix{"/reports/"}}
		ps.Spec.AccessTests = []iapv1alpha1.AccessTest{
			{Name: "alice-reports", Member: "user:alice@acme.com", From: &iapv1alpha1.TestContext{Path: "/reports/q3"}, Expect: iapv1alpha1.TestAllow},
			{Name: "alice-admin", Member: "user:alice@acme.com", From: &iapv1alpha1.TestContext{Path: "/admin"}, Expect: iapv1alpha1.TestDeny},
			{Name: "cfo-via-group", Member: "user:dave@acme.com", Groups: []iapv1alpha1.TestGroup{"group:finance-analysts@acme.com"}, Expect: iapv1alpha1.TestAllow},
		}
	})
}

func benchmarkNoChange(b *testing.B, declare func(*iapv1alpha1.ProtectedService)) {
	w := newWorld(b)
	ps := w.object("bench",
		group("devs", "user:alice@acme.com", "user:bob@acme.com"),
		group("ops", "user:carol@acme.com"),
		group("finance", "group:finance-analysts@acme.com", "user:cfo@acme.com"))
	if declare != nil {
		declare(ps)
	}
	w.create(ps)
	deadline := time.Now().Add(30 * time.Second)
	for !isReady(w, "bench") {
		if time.Now().After(deadline) {
			b.Fatal("object never became Ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	google, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: fake.Endpoint(), IAPEndpoint: fake.Endpoint(),
		ResourceManagerEndpoint: fake.Endpoint(), ACMEndpoint: fake.Endpoint(), IAMEndpoint: fake.Endpoint()})
	if err != nil {
		b.Fatal(err)
	}
	defer google.Close()
	// A manager of its own supplies the cache and index the reconciler queries, without a
	// controller: this benchmark drives Reconcile directly.
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{Scheme: testenv.Scheme(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := controllers.RegisterIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		b.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		b.Fatal("cache did not sync")
	}
	var k8sWrites int
	counted := countingClient{Client: mgr.GetClient(), writes: &k8sWrites}
	r := &controllers.ProtectedServiceReconciler{Client: counted, Google: google, Recorder: discardRecorder{},
		Options: testOptions()}
	r.ResyncPeriod = time.Hour
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: w.ns, Name: "bench"}}
	// One pass to settle lastSyncTime under this reconciler's resync period.
	if _, err := r.Reconcile(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	k8sWrites = 0
	before := len(fake.Calls())
	googleWrites := len(w.writes())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Reconcile(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if !isReady(w, "bench") {
		b.Fatalf("the object is not Ready after the benchmark: %s", describeConditions(w.get("bench")))
	}
	calls := passCalls(fake.Calls()[before:])
	if calls == 0 {
		b.Fatal("the reconciles made no Google calls: they did not get past the first phases")
	}
	b.ReportMetric(float64(calls)/float64(b.N), "googlecalls/op")
	b.ReportMetric(float64(len(w.writes())-googleWrites)/float64(b.N), "googlewrites/op")
	b.ReportMetric(float64(k8sWrites)/float64(b.N), "k8swrites/op")
}

// countingClient counts the Kubernetes writes the reconciler makes (it only patches).
type countingClient struct {
	client.Client
	writes *int
}

func (c countingClient) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.PatchOption) error {
	*c.writes++
	return c.Client.Patch(ctx, o, p, opts...)
}

func (c countingClient) Status() client.SubResourceWriter {
	return countingStatusWriter{SubResourceWriter: c.Client.Status(), writes: c.writes}
}

type countingStatusWriter struct {
	client.SubResourceWriter
	writes *int
}

func (c countingStatusWriter) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	*c.writes++
	return c.SubResourceWriter.Patch(ctx, o, p, opts...)
}

// passCalls counts the calls of the benchmarked passes: the suite's own AccessLevel controller
// keeps reading the levels it manages meanwhile, and those reads are not the pass's.
func passCalls(calls []gcpfake.Call) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c.Method, "acm.") && !strings.Contains(c.Resource, "/corp_managed_device") {
			continue
		}
		n++
	}
	return n
}
