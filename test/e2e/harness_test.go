package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
	"github.com/runguard/runguard/internal/testenv"
)

// system is everything one end-to-end run starts: the API server (envtest runs etcd and
// kube-apiserver as processes), the fake Google Cloud and the managers, each a separate process
// with its log in logDir. Each subtest gets its own view (on) so failures land on the right t.
type system struct {
	t *testing.T
	*world
}

type world struct {
	root       string // module root
	binDir     string // freshly built manager and gcpfake
	kubectlBin string
	kubeconfig string
	logDir     string
	env        *envtest.Environment

	fakeGRPC  string
	fakeAdmin string // http://127.0.0.1:PORT
	fakeREST  string // host:port of the REST surface (gcloud's way in)

	mu    sync.Mutex
	procs []*proc
}

// on is the same system reporting to t.
func (s *system) on(t *testing.T) *system { return &system{t: t, world: s.world} }

// step is one step of an end-to-end walk: the steps of a walk share one system and run in order.
type step struct {
	name string
	run  func(s *system)
}

// walk runs the steps in order, each as a subtest reporting to its own t; the first that fails
// ends the walk. It reports whether every step passed.
func (s *system) walk(steps []step) bool {
	for _, st := range steps {
		if !s.t.Run(st.name, func(t *testing.T) { st.run(s.on(t)) }) {
			return false
		}
	}
	return true
}

// proc is one process the test started.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", root, err)
	}
	return root
}

// newSystem checks the prerequisites, builds the binaries and starts the API server. Every
// process it or its callers start is stopped when the test ends; when the test failed, their
// logs are printed and kept.
func newSystem(t *testing.T) *system {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: the end-to-end test needs kube-apiserver, etcd and kubectl. " +
			"Run it with `make test`, which builds them into bin/k8s/ and sets KUBEBUILDER_ASSETS " +
			"(or: KUBEBUILDER_ASSETS=$(./hack/build-k8s-binaries.sh --print-dir) go test ./test/e2e/)")
	}
	for _, b := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			t.Fatalf("KUBEBUILDER_ASSETS=%s has no %s: run ./hack/build-k8s-binaries.sh", assets, b)
		}
	}
	logDir, err := os.MkdirTemp("", "runguard-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	s := &system{t: t, world: &world{root: repoRoot(t), kubectlBin: filepath.Join(assets, "kubectl"), logDir: logDir}}
	t.Cleanup(s.teardown)

	s.build()
	s.startAPIServer(assets)
	return s
}

// build compiles the manager, the fake and the CLI from this checkout, as `make build` does.
func (s *system) build() {
	s.t.Helper()
	s.binDir = filepath.Join(s.logDir, "bin")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", s.binDir+string(filepath.Separator), "./cmd/manager", "./cmd/gcpfake", "./cmd/runguard")
	cmd.Dir = s.root
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("go build ./cmd/manager ./cmd/gcpfake ./cmd/runguard: %v\n%s", err, out)
	}
	s.t.Logf("built bin/manager, bin/gcpfake and bin/runguard in %s", time.Since(start).Round(100*time.Millisecond))
}

func (s *system) startAPIServer(assets string) {
	s.t.Helper()
	// envtest logs through controller-runtime's logger; its errors are returned to us anyway.
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	apiLog, err := os.Create(filepath.Join(s.logDir, "kube-apiserver.log"))
	if err != nil {
		s.t.Fatal(err)
	}
	etcdLog, err := os.Create(filepath.Join(s.logDir, "etcd.log"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.env = &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	s.env.ControlPlane.APIServer = &envtest.APIServer{Out: apiLog, Err: apiLog}
	s.env.ControlPlane.Etcd = &envtest.Etcd{Out: etcdLog, Err: etcdLog}
	start := time.Now()
	if _, err := s.env.Start(); err != nil {
		s.t.Fatalf("start etcd and kube-apiserver: %v", err)
	}
	user, err := s.env.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		s.t.Fatal(err)
	}
	s.kubeconfig = filepath.Join(s.logDir, "kubeconfig")
	if err := os.WriteFile(s.kubeconfig, raw, 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("API server up at %s in %s", s.env.Config.Host, time.Since(start).Round(100*time.Millisecond))
}

// startFake starts gcpfake seeded with the demo's world, with extra flags.
func (s *system) startFake(seed string, extra ...string) {
	s.t.Helper()
	ports := freePorts(s.t, 3)
	s.fakeGRPC = "127.0.0.1:" + ports[0]
	s.fakeAdmin = "http://127.0.0.1:" + ports[1]
	s.fakeREST = "127.0.0.1:" + ports[2]
	s.start("gcpfake", filepath.Join(s.binDir, "gcpfake"), append([]string{"--listen", s.fakeGRPC,
		"--admin-listen", "127.0.0.1:" + ports[1], "--http-listen", s.fakeREST, "--seed", seed}, extra...)...)
	s.waitHTTP("gcpfake", s.fakeAdmin+adminapi.HealthPath)
}

// startEventedFake starts gcpfake seeded with the demo's world, publishing an audit entry for
// every change to Google's in-memory Pub/Sub server; it returns that server's address.
func (s *system) startEventedFake() string {
	s.t.Helper()
	pubsubAddr := "127.0.0.1:" + freePorts(s.t, 1)[0]
	s.startFake(filepath.Join(s.root, "hack", "demo", "seed.yaml"), "--pubsub-listen", pubsubAddr)
	return pubsubAddr
}

// startEventedManager installs the CRDs, starts a manager that reads the fake's audit entries
// with an hourly resync, so whatever follows a change within seconds is the work of its entry,
// waits until it leads, and applies the demo's namespaces.
func (s *system) startEventedManager(name, pubsubAddr string) {
	s.t.Helper()
	s.installCRDs()
	m := s.startManager(name, "--resync-period=1h",
		"--audit-log-subscription", adminapi.DefaultAuditSubscription, "--pubsub-endpoint", pubsubAddr)
	s.waitForLease(m)
	s.mustKubectl("apply", "-f", "hack/demo/namespaces.yaml")
}

// installCRDs applies every CRD with kubectl and waits until the API server serves them.
func (s *system) installCRDs() {
	s.t.Helper()
	s.mustKubectl("apply", "-f", "config/crd/bases/")
	s.mustKubectl("wait", "--for=condition=Established", "--timeout=30s", "crd/protectedservices.iap.runguard.dev", "crd/accesslevels.iap.runguard.dev")
}

// managerFlags are the flags every replica runs with: leader election with a short lease, and a
// short resync so drift in Google Cloud is corrected within seconds.
var managerFlags = []string{
	"--leader-elect",
	"--lease-duration=4s", "--renew-deadline=3s", "--retry-period=1s",
	"--resync-period=3s",
	"--cluster-name=e2e",
	// The fake has no quota; runguard's own pacing (55 Cloud Run writes a minute per project
	// and region by default) is measured by make bench-scale, not by waiting here.
	"--run-writes-per-minute=6000", "--run-reads-per-minute=60000",
	"--metrics-bind-address=0",
	// V(5) makes controller-runtime log every reconcile, so the logs show which replica worked.
	"--zap-log-level=5",
}

const (
	leaseDuration = 4 * time.Second
	retryPeriod   = time.Second
)

// startManager starts one manager replica and waits until its probes answer; it may still be
// waiting for the lease. Extra flags come last, so they override managerFlags.
func (s *system) startManager(name string, extra ...string) *proc {
	s.t.Helper()
	probe := "127.0.0.1:" + freePorts(s.t, 1)[0]
	args := append([]string{
		"--kubeconfig", s.kubeconfig,
		"--health-probe-bind-address", probe,
		"--run-endpoint", s.fakeGRPC, "--iap-endpoint", s.fakeGRPC, "--resourcemanager-endpoint", s.fakeGRPC,
		"--iamcredentials-endpoint", s.fakeREST, "--acm-endpoint", s.fakeGRPC, "--access-policy", accessPolicy,
		// Custom roles granted above the services are read with IAM's roles.get: without this it
		// would dial Google, and InheritedAccess would never be reported.
		"--iam-endpoint", s.fakeGRPC,
	}, managerFlags...)
	p := s.start(name, filepath.Join(s.binDir, "manager"), append(args, extra...)...)
	s.waitHTTP(name, "http://"+probe+"/healthz")
	return p
}

func (s *system) start(name, bin string, args ...string) *proc {
	s.t.Helper()
	logPath := filepath.Join(s.logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(f, "### %s %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.root
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		s.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p
}

// kill sends sig and waits for the process to exit.
func (p *proc) kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not exit within 30s of %s; killed it", p.name, sig)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logText is everything the process wrote so far.
func (p *proc) logText(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func (s *system) waitHTTP(name, url string) {
	s.t.Helper()
	client := &http.Client{Timeout: time.Second}
	eventually(s.t, 30*time.Second, name+" answers "+url, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
}

// teardown stops every process (managers first, the API server last) and, when the test
// failed, prints every log.
func (s *system) teardown() {
	s.mu.Lock()
	procs := slices.Clone(s.procs)
	s.mu.Unlock()
	slices.Reverse(procs)
	for _, p := range procs {
		if !p.exited() {
			p.kill(s.t, syscall.SIGTERM)
		}
	}
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			s.t.Errorf("stop the API server: %v", err)
		}
	}
	if !s.t.Failed() {
		_ = os.RemoveAll(s.logDir)
		return
	}
	s.t.Logf("logs of every process are kept in %s", s.logDir)
	entries, _ := os.ReadDir(s.logDir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(s.logDir, e.Name()))
		if err != nil {
			continue
		}
		n := 150
		if e.Name() == "kube-apiserver.log" || e.Name() == "etcd.log" {
			n = 40
		}
		s.t.Logf("===== %s (last %d lines) =====\n%s", e.Name(), n, lastLines(string(raw), n))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... %d lines before ...", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// kubectl runs the kubectl built with the control plane against the test's API server.
func (s *system) kubectl(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.kubectlBin, append([]string{"--kubeconfig", s.kubeconfig}, args...)...)
	cmd.Dir = s.root
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func (s *system) mustKubectl(args ...string) string {
	s.t.Helper()
	out, err := s.kubectl("", args...)
	if err != nil {
		s.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *system) apply(manifest string) {
	s.t.Helper()
	if out, err := s.kubectl(manifest, "apply", "-f", "-"); err != nil {
		s.t.Fatalf("kubectl apply: %v\n%s\n---\n%s", err, out, manifest)
	}
}

// waitCondition waits with kubectl wait for a ProtectedService condition to be True.
func (s *system) waitCondition(ns, name, condition string) {
	s.t.Helper()
	out, err := s.kubectl("", "wait", "--for=condition="+condition, "--timeout=60s", "-n", ns, "protectedservice/"+name)
	if err != nil {
		conds, _ := s.kubectl("", "get", "protectedservice", "-n", ns, name, "-o",
			`jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}`)
		s.t.Fatalf("%s/%s did not become %s: %v\n%s\nconditions:\n%s", ns, name, condition, err, out, conds)
	}
}

// waitConverged waits until the object is Ready for its current generation: kubectl wait on
// Ready alone could see the Ready of the previous spec.
func (s *system) waitConverged(ns, name string) {
	s.t.Helper()
	eventually(s.t, 60*time.Second, ns+"/"+name+" Ready for its current generation", func() error {
		out, err := s.kubectl("", "get", "protectedservice", "-n", ns, name, "-o",
			`jsonpath={.metadata.generation} {.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].observedGeneration}`)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		f := strings.Fields(out)
		if len(f) != 4 || f[0] != f[1] || f[2] != "True" || f[3] != f[0] {
			return fmt.Errorf("generation, observedGeneration, Ready, Ready's observedGeneration = %q", out)
		}
		return nil
	})
}

// eventually waits for an outcome (see testenv.Eventually).
var eventually = testenv.Eventually

func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return out
}

func (s *system) admin(method, path string, body any) []byte {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.fakeAdmin+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		s.t.Fatalf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	return raw
}

func (s *system) state() adminapi.State {
	s.t.Helper()
	var st adminapi.State
	if err := json.Unmarshal(s.admin(http.MethodGet, adminapi.StatePath, nil), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// service is one Cloud Run service's state, named project/location/name.
func (s *system) service(ref string) adminapi.ServiceState {
	s.t.Helper()
	parts := strings.Split(ref, "/")
	name := fmt.Sprintf("projects/%s/locations/%s/services/%s", parts[0], parts[1], parts[2])
	for _, svc := range s.state().Services {
		if svc.Name == name {
			return svc
		}
	}
	s.t.Fatalf("the fake has no service %s", name)
	return adminapi.ServiceState{}
}

func (s *system) calls() []adminapi.Call {
	s.t.Helper()
	var out []adminapi.Call
	if err := json.Unmarshal(s.admin(http.MethodGet, adminapi.CallsPath, nil), &out); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// boundMembers lists the members of the role's bindings in p whose condition title is title (""
// for unconditional bindings), and how many such bindings there are.
func boundMembers(p adminapi.Policy, role, title string) (members []string, bindings int) {
	for _, b := range p.Bindings {
		t := ""
		if b.Condition != nil {
			t = b.Condition.Title
		}
		if b.Role == role && t == title {
			members = append(members, b.Members...)
			bindings++
		}
	}
	slices.Sort(members)
	return members, bindings
}

// grants reports whether p gives member the role, under any condition.
func grants(p adminapi.Policy, role, member string) bool {
	for _, b := range p.Bindings {
		if b.Role == role && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// runguardTitles counts p's bindings per runguard condition title.
func runguardTitles(p adminapi.Policy) map[string]int {
	out := map[string]int{}
	for _, b := range p.Bindings {
		if b.Condition != nil && strings.HasPrefix(b.Condition.Title, "runguard:") {
			out[b.Condition.Title]++
		}
	}
	return out
}

// without returns p without the bindings whose condition title is title.
func without(p adminapi.Policy, title string) adminapi.Policy {
	out := adminapi.Policy{Version: p.Version}
	for _, b := range p.Bindings {
		if b.Condition == nil || b.Condition.Title != title {
			out.Bindings = append(out.Bindings, b)
		}
	}
	return out
}

// bindingsText shows p's bindings in a failure message.
func bindingsText(p adminapi.Policy) string {
	raw, _ := json.MarshalIndent(p.Bindings, "", "  ")
	return string(raw)
}
