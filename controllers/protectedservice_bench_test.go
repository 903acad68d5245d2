package controllers_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
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
	benchmarkNoChange(b, &iapv1alpha1.IAPSettings{
		AccessDeniedPage: &iapv1alpha1.AccessDeniedPage{URI: &deniedPage}, Reauthentication: reauth})
}

func benchmarkNoChange(b *testing.B, settings *iapv1alpha1.IAPSettings) {
	w := newWorld(b)
	ps := w.object("bench",
		group("devs", "user:alice@acme.com", "user:bob@acme.com"),
		group("ops", "user:carol@acme.com"),
		group("finance", "group:finance-analysts@acme.com", "user:cfo@acme.com"))
	ps.Spec.IAP.Settings = settings
	w.create(ps)
	deadline := time.Now().Add(30 * time.Second)
	for !isReady(w, "bench") {
		if time.Now().After(deadline) {
			b.Fatal("object never became Ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	google, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: fake.Endpoint(), IAPEndpoint: fake.Endpoint(), ResourceManagerEndpoint: fake.Endpoint()})
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
	if len(fake.Calls()) == before {
		b.Fatal("the reconciles made no Google calls: they did not get past the first phases")
	}
	b.ReportMetric(float64(len(fake.Calls())-before)/float64(b.N), "googlecalls/op")
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
