package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
	"github.com/runguard/runguard/internal/scheme"
)

// harness owns the processes of one run.
type harness struct {
	cfg                  config
	root, logDir         string
	kubeconfig           string
	cluster, fakeProc    *proc
	mgr                  *proc
	ports                []int
	fakeGRPC             string
	pubsubAddr           string // the fake's Pub/Sub, where audit entries go; "" without audit-flood
	fake                 admin
	metricsURL, probeURL string
	managerArgs          []string
	kube                 kubernetes.Interface
}

// snapshot is what the processes have done up to a moment.
type snapshot struct {
	at         time.Time
	calls      map[string]int
	exhausted  map[string]int
	reconciles float64
	kube       kubeWrites
	cpu        map[string]float64 // by process: manager, kube-apiserver, etcd, gcpfake
	metrics    map[string]float64 // the manager's, of managerMetrics
}

// managerMetrics are the manager's metrics the table reports: its Kubernetes requests and, where
// it paces its Google calls, how long they waited.
var managerMetrics = []string{"rest_client_requests_total", "runguard_google_throttle_wait_seconds_sum"}

// results are a run's figures; a field is zero where the run did not get that far.
type results struct {
	world     world
	converge  time.Duration
	converged bool
	readiness readiness
	edit      time.Duration // 0: not applied
	editErr   error
	// edits are the times of the edits made while every object resyncs (editsDuringResync).
	edits         []time.Duration
	editErrs      []error
	memberEdits   memberEdits // of every edit but object 0's during the converge
	coldEdits     int         // updates the harness made from the first create to all Ready
	cold          snapshot    // from the first create to all Ready
	events        int
	rss, peak     float64
	quotaFloor    time.Duration
	busiestBucket string
	steady        *steadyPhase
	problems      []string
	checked       bool

	// Issue 27's scenarios, where asked for.
	adoption     *adoptionFigures
	burst        []timedEdit
	burstNotMade int
	flood        *floodFigures
	takenMu      sync.Mutex
	taken        map[string]bool // objects a scenario edit took
}

type steadyPhase struct {
	period, window time.Duration
	delta          snapshot
	rss            float64
}

func (h *harness) stopAll() {
	for _, p := range []*proc{h.mgr, h.fakeProc, h.cluster} {
		if p != nil {
			p.stop()
		}
	}
	var left []string
	for _, port := range h.ports {
		if portInUse(port) {
			left = append(left, itoa(port))
		}
	}
	if len(left) > 0 {
		logf("WARNING: something still listens on 127.0.0.1 port(s) %s", strings.Join(left, " "))
	} else if len(h.ports) > 0 {
		logf("every process stopped; no port left open")
	}
}

func (h *harness) measure(ctx context.Context) (*results, error) {
	var err error
	if h.root, err = os.Getwd(); err != nil {
		return nil, err
	}
	runDir, _ := filepath.Abs(h.cfg.runDir)
	h.logDir = filepath.Join(runDir, "logs")
	_ = os.RemoveAll(h.logDir)
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		return nil, err
	}
	for _, b := range []string{"manager", "gcpfake", "localcluster"} {
		if _, err := os.Stat(filepath.Join(h.cfg.bin, b)); err != nil {
			return nil, fmt.Errorf("%s/%s is missing: run make build and go build -o bin/localcluster ./hack/localcluster (make bench-scale does)", h.cfg.bin, b)
		}
	}
	res := &results{world: generate(h.cfg.n, h.cfg.projects, h.cfg.regions)}
	if err := h.startCluster(runDir); err != nil {
		return nil, err
	}
	if err := h.startFake(runDir, res.world); err != nil {
		return nil, err
	}
	c, watcher, err := h.clients()
	if err != nil {
		return nil, err
	}
	for _, ns := range res.world.namespaceObjects() {
		if err := c.Create(ctx, ns); err != nil {
			return nil, fmt.Errorf("create namespace %s: %w", ns.Name, err)
		}
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	rec := newRecorder(h.cfg.n)
	go func() { _ = rec.run(watchCtx, watcher) }()

	// Nothing resyncs during the cold converge: its figures are the adoption's alone.
	if err := h.startManager("manager-cold", time.Hour); err != nil {
		return nil, err
	}
	if err := h.fake.do("DELETE", adminapi.CallsPath, nil, nil); err != nil {
		return nil, err
	}
	before := h.snapshot()
	if err := h.converge(ctx, c, watcher, rec, res, before); err != nil {
		return res, err
	}
	if h.cfg.resync > 0 {
		if err := h.steady(ctx, rec, res); err != nil {
			return res, err
		}
		h.editsDuringResync(ctx, c, res)
	}
	if h.cfg.scenarios.has(auditFlood) {
		if err := h.auditFloodPhase(ctx, res); err != nil {
			return res, err
		}
	}
	var st adminapi.State
	if err := h.fake.do("GET", adminapi.StatePath, nil, &st); err != nil {
		return res, err
	}
	res.problems = verifyGoogle(st, res.world.objects, func(d declared) map[string][]string { return declaredMembers(d, res) })
	res.checked = true
	return res, nil
}

func (h *harness) startCluster(runDir string) error {
	h.kubeconfig = filepath.Join(runDir, "kubeconfig")
	_ = os.Remove(h.kubeconfig)
	p, err := startProc(h.root, h.logDir, "localcluster", filepath.Join(h.cfg.bin, "localcluster"), "start",
		"--assets", h.cfg.assets, "--kubeconfig", h.kubeconfig, "--crds", filepath.Join("config", "crd", "bases"), "--log-dir", h.logDir)
	if err != nil {
		return err
	}
	h.cluster = p
	if err := p.waitLogLine("ready", 3*time.Minute); err != nil {
		return fmt.Errorf("the control plane did not start: %w", err)
	}
	raw, _ := os.ReadFile(p.logPath)
	for _, line := range strings.Split(string(raw), "\n") {
		for _, prefix := range []string{"api server: ", "etcd: "} {
			if u, ok := strings.CutPrefix(line, prefix); ok {
				if port, err := portOfURL(u); err == nil {
					h.ports = append(h.ports, port)
				}
			}
		}
	}
	return nil
}

func (h *harness) startFake(runDir string, w world) error {
	seed := filepath.Join(runDir, "seed.json")
	if err := w.writeSeed(seed); err != nil {
		return err
	}
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	h.fakeGRPC = fmt.Sprintf("127.0.0.1:%d", ports[0])
	h.fake = admin(fmt.Sprintf("http://127.0.0.1:%d", ports[1]))
	h.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2])
	h.probeURL = fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[3])
	args := []string{"--listen", h.fakeGRPC, "--admin-listen", strings.TrimPrefix(string(h.fake), "http://"), "--seed", seed}
	// Audit entries only where a scenario reads them: each of runguard's writes would come back as
	// an entry and cost the other figures a pass.
	if h.cfg.scenarios.has(auditFlood) {
		h.pubsubAddr = fmt.Sprintf("127.0.0.1:%d", ports[4])
		args = append(args, "--pubsub-listen", h.pubsubAddr)
	} else {
		ports = ports[:4]
	}
	h.ports = append(h.ports, ports...)
	if h.cfg.quota > 0 {
		args = append(args, "--quota-run-writes-per-minute", itoa(h.cfg.quota), "--quota-iap-writes-per-minute", itoa(h.cfg.quota))
	}
	if h.fakeProc, err = startProc(h.root, h.logDir, "gcpfake", filepath.Join(h.cfg.bin, "gcpfake"), args...); err != nil {
		return err
	}
	if err := h.fakeProc.waitHTTP(string(h.fake)+adminapi.HealthPath, time.Minute); err != nil {
		return err
	}
	if h.cfg.latency > 0 {
		return h.fake.do("POST", adminapi.FaultsPath, adminapi.FaultRule{Method: "*", Latency: h.cfg.latency.String()}, nil)
	}
	return nil
}

// startManager starts a manager whose every object is re-checked each resync; extra flags come
// before cfg.managerFlags.
func (h *harness) startManager(name string, resync time.Duration, extra ...string) error {
	args := []string{"--kubeconfig", h.kubeconfig,
		"--run-endpoint", h.fakeGRPC, "--iap-endpoint", h.fakeGRPC, "--resourcemanager-endpoint", h.fakeGRPC,
		"--metrics-bind-address", strings.TrimSuffix(strings.TrimPrefix(h.metricsURL, "http://"), "/metrics"), "--metrics-secure=false",
		"--health-probe-bind-address", strings.TrimSuffix(strings.TrimPrefix(h.probeURL, "http://"), "/readyz"),
		"--cluster-name", clusterName, "--resync-period", resync.String()}
	if h.cfg.workers > 0 {
		args = append(args, "--max-concurrent-reconciles", itoa(h.cfg.workers))
	}
	args = append(args, extra...)
	args = append(args, h.cfg.managerFlags...)
	h.managerArgs = args
	p, err := startProc(h.root, h.logDir, name, filepath.Join(h.cfg.bin, "manager"), args...)
	if err != nil {
		return err
	}
	h.mgr = p
	return p.waitHTTP(h.probeURL, time.Minute)
}

// clients connects to the API server: one client for creating and editing, one of its own
// connection for the watch (a Dial of its own keeps client-go from sharing the transport), and
// one for the API server's metrics.
func (h *harness) clients() (c, watcher client.WithWatch, err error) {
	rc, err := clientcmd.BuildConfigFromFlags("", h.kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	// The harness stands for many users applying at once, not one rate-limited controller.
	rc.QPS, rc.Burst = 1000, 2000
	if h.kube, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, nil, err
	}
	if c, err = client.NewWithWatch(rc, client.Options{Scheme: scheme.New()}); err != nil {
		return nil, nil, err
	}
	wc := rest.CopyConfig(rc)
	wc.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	watcher, err = client.NewWithWatch(wc, client.Options{Scheme: scheme.New()})
	return c, watcher, err
}

// apiServerMetrics reads the API server's own metrics.
func (h *harness) apiServerMetrics() (samples, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := h.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	return readMetrics(bytes.NewReader(raw))
}

// kubeWrites are the writes the API server answered, from its apiserver_request_total.
type kubeWrites struct {
	metadata  float64 // ProtectedService updates and patches: finalizers (and the harness's edit)
	status    float64 // of the status subresource
	conflicts float64 // ProtectedService writes refused 409 Conflict
	events    float64 // Events created or updated (a repeated Event is a patch of its count)
}

func kubeWritesFrom(m samples) kubeWrites {
	var w kubeWrites
	const requests, ps = "apiserver_request_total", `resource="protectedservices"`
	for _, verb := range []string{`verb="PUT"`, `verb="PATCH"`, `verb="APPLY"`} {
		w.metadata += m.sum(requests, ps, `subresource=""`, verb, `code="200"`)
		w.status += m.sum(requests, ps, `subresource="status"`, verb, `code="200"`)
		w.conflicts += m.sum(requests, ps, verb, `code="409"`)
	}
	for _, verb := range []string{`verb="POST"`, `verb="PUT"`, `verb="PATCH"`} {
		w.events += m.sum(requests, `resource="events"`, verb, `code="201"`) + m.sum(requests, `resource="events"`, verb, `code="200"`)
	}
	return w
}

func (a kubeWrites) minus(b kubeWrites) kubeWrites {
	return kubeWrites{metadata: a.metadata - b.metadata, status: a.status - b.status, conflicts: a.conflicts - b.conflicts, events: a.events - b.events}
}

// snapshot reads what every process has done so far.
func (h *harness) snapshot() snapshot {
	s := snapshot{at: time.Now(), calls: map[string]int{}, exhausted: map[string]int{}, cpu: map[string]float64{}}
	_ = h.fake.do("GET", adminapi.CallCountsPath, nil, &s.calls)
	_ = h.fake.do("GET", adminapi.CallCountsPath+"?code=RESOURCE_EXHAUSTED", nil, &s.exhausted)
	s.metrics = map[string]float64{}
	if m, err := scrape(h.metricsURL); err == nil {
		s.reconciles = m.sum("controller_runtime_reconcile_total", `controller="protectedservice"`)
		for _, name := range managerMetrics {
			if m.has(name) {
				s.metrics[name] = m.sum(name)
			}
		}
	}
	if m, err := h.apiServerMetrics(); err == nil {
		s.kube = kubeWritesFrom(m)
	}
	s.cpu["manager"] = cpuSeconds(h.mgr.pid())
	s.cpu["gcpfake"] = cpuSeconds(h.fakeProc.pid())
	for name, pid := range childrenByName(h.cluster.pid()) {
		s.cpu[name] = cpuSeconds(pid)
	}
	return s
}

func (a snapshot) minus(b snapshot) snapshot {
	out := snapshot{at: a.at, calls: map[string]int{}, exhausted: map[string]int{}, cpu: map[string]float64{}, metrics: map[string]float64{},
		reconciles: a.reconciles - b.reconciles, kube: a.kube.minus(b.kube)}
	for k, v := range a.metrics {
		out.metrics[k] = v - b.metrics[k]
	}
	for k, v := range a.calls {
		out.calls[k] = v - b.calls[k]
	}
	for k, v := range a.exhausted {
		out.exhausted[k] = v - b.exhausted[k]
	}
	for k, v := range a.cpu {
		out.cpu[k] = v - b.cpu[k]
	}
	return out
}

// converge creates every object, edits one while the rest converge, and waits until all are
// Ready; the scenarios asked for make their edits meanwhile.
func (h *harness) converge(ctx context.Context, c, watcher client.WithWatch, rec *recorder, res *results, before snapshot) error {
	start := time.Now()
	adopted := make(chan struct{})
	defer func() {
		select {
		case <-adopted:
		default:
			close(adopted)
		}
	}()
	var scenariosDone sync.WaitGroup
	if h.cfg.scenarios.has(burstEdit) {
		scenariosDone.Add(1)
		go func() {
			defer scenariosDone.Done()
			h.burstEdits(ctx, c, rec, res, start, adopted)
		}()
	}
	if err := createAll(ctx, c, rec, res.world.objects, h.cfg.createConcurrency); err != nil {
		return err
	}
	editDone := make(chan struct{})
	go func() {
		defer close(editDone)
		res.edit, res.editErr = h.editOne(ctx, c, res.world.objects[0])
	}()
	if h.cfg.scenarios.has(adoptionRevocation) {
		scenariosDone.Add(1)
		go func() {
			defer scenariosDone.Done()
			h.editsDuringAdoption(ctx, c, rec, res, start, adopted)
		}()
	}
	timeout := time.NewTimer(h.cfg.timeout)
	defer timeout.Stop()
	ticker := time.NewTicker(10 * time.Second)
	defer ticker.Stop()
	lastReady := -1
	for done := false; !done; {
		select {
		case <-rec.allReady:
			done = true
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			res.readiness = rec.snapshot()
			return fmt.Errorf("%d of %d objects Ready after %s", rec.readyCount(), h.cfg.n, h.cfg.timeout)
		case <-h.mgr.done:
			return fmt.Errorf("the manager exited: %v\n%s", h.mgr.err, h.mgr.lastLines(20))
		case <-ticker.C:
			ready := rec.readyCount()
			logf("%d of %d Ready after %s", ready, h.cfg.n, time.Since(start).Round(time.Second))
			// A watch can stall without closing; a list tells.
			if ready == lastReady {
				rec.catchUp(ctx, watcher, "")
			}
			lastReady = ready
		}
	}
	res.converge, res.converged = time.Since(start), true
	close(adopted)
	// The scenarios' passes and calls are the adoption's: their edits are waited for before the
	// figures are taken. Each edit gives up after cfg.timeout.
	if h.cfg.scenarios.has(burstEdit) || h.cfg.scenarios.has(adoptionRevocation) {
		logf("waiting for the scenarios' edits to reach Google")
	}
	scenariosDone.Wait()
	res.coldEdits = 1 + res.scenarioUpdates()
	res.cold = h.snapshot().minus(before)
	res.rss, res.peak = memoryMiB(h.mgr.pid())
	res.readiness = rec.snapshot()
	var events corev1.EventList
	if err := c.List(ctx, &events); err == nil {
		for _, e := range events.Items {
			res.events += max(int(e.Count), 1)
			if e.Series != nil {
				res.events += int(e.Series.Count) - 1
			}
		}
	}
	if h.cfg.quota > 0 {
		res.quotaFloor, res.busiestBucket = h.quotaFloor()
	}
	select {
	case <-editDone:
	case <-time.After(2 * time.Minute):
		res.editErr = errors.New("not applied 2 minutes after all were Ready")
	}
	return nil
}

// createAll creates the objects, a few at a time, noting when each was created.
func createAll(ctx context.Context, c client.Client, rec *recorder, objects []declared, concurrency int) error {
	work := make(chan declared)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				rec.created(d.namespace, d.name, time.Now())
				if err := c.Create(ctx, d.object()); err != nil {
					errs <- fmt.Errorf("create %s/%s: %w", d.namespace, d.name, err)
					return
				}
			}
		}()
	}
	var err error
feed:
	for _, d := range objects {
		select {
		case work <- d:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// editOne adds a member to an object's first group and times until Google holds it.
func (h *harness) editOne(ctx context.Context, c client.Client, d declared) (time.Duration, error) {
	return h.addMember(ctx, c, d, editedMember)
}

func holds(p adminapi.Policy, title, member string) bool {
	for _, b := range p.Bindings {
		if b.Condition != nil && b.Condition.Title == title && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// declaredMembers is each group's members, with the edits the harness made.
func declaredMembers(d declared, res *results) map[string][]string {
	out := map[string][]string{}
	added, removed := res.memberEdits.of(key(d.namespace, d.name))
	for i, g := range d.groups {
		for _, m := range g.Members {
			if i != 0 || !slices.Contains(removed, string(m)) {
				out[g.Name] = append(out[g.Name], string(m))
			}
		}
		if i == 0 && d.name == res.world.objects[0].name && d.namespace == res.world.objects[0].namespace {
			out[g.Name] = append(out[g.Name], editedMember)
		}
		if i == 0 {
			out[g.Name] = append(out[g.Name], added...)
		}
	}
	return out
}

// steady restarts the manager with a short resync and measures its quiet passes over
// resyncPeriods periods, after its start-up pass over every object.
func (h *harness) steady(ctx context.Context, rec *recorder, res *results) error {
	h.mgr.stop()
	if err := h.startManager("manager-resync", h.cfg.resync); err != nil {
		return err
	}
	if err := h.waitStartupPass(ctx); err != nil {
		return err
	}
	from := h.snapshot()
	window := time.Duration(h.cfg.resyncPeriods) * h.cfg.resync
	logf("measuring quiet resync passes for %s", window)
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return ctx.Err()
	}
	to := h.snapshot()
	rss, _ := memoryMiB(h.mgr.pid())
	res.steady = &steadyPhase{period: h.cfg.resync, window: to.at.Sub(from.at), delta: to.minus(from), rss: rss}
	return nil
}

// waitStartupPass waits until a restarted manager has passed over every object once.
func (h *harness) waitStartupPass(ctx context.Context) error {
	deadline := time.Now().Add(h.cfg.timeout)
	for {
		m, err := scrape(h.metricsURL)
		if err == nil && m.sum("controller_runtime_reconcile_total", `controller="protectedservice"`) >= float64(h.cfg.n) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil || h.mgr.exited() {
			return fmt.Errorf("the restarted manager did not pass over every object within %s", h.cfg.timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// quotaFloor is how long the writes of the busiest quota bucket take at the quota's rate.
func (h *harness) quotaFloor() (time.Duration, string) {
	var calls []adminapi.Call
	if err := h.fake.do("GET", adminapi.CallsPath, nil, &calls); err != nil {
		return 0, ""
	}
	perBucket := map[string]int{}
	for _, c := range calls {
		if c.Write && c.Code == "OK" {
			perBucket[bucketOf(c.Method, c.Resource)]++
		}
	}
	busiest, most := "", 0
	for b, n := range perBucket {
		if n > most {
			busiest, most = b, n
		}
	}
	return time.Duration(float64(most) / float64(h.cfg.quota) * float64(time.Minute)), fmt.Sprintf("%s: %d writes", busiest, most)
}

// bucketOf names a write's quota bucket: API, project and region.
func bucketOf(method, resource string) string {
	api, _, _ := strings.Cut(method, ".")
	p := strings.Split(resource, "/")
	if len(p) >= 4 {
		return api + " " + p[1] + " " + strings.TrimPrefix(p[3], "cloud_run-")
	}
	return api + " " + resource
}
