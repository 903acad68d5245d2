// Command scale measures runguard at scale from outside, against the built binaries: it starts
// a local control plane (bin/localcluster), the fake Google Cloud seeded with N generated
// services (bin/gcpfake) and the manager (bin/manager) as separate processes, creates N
// ProtectedServices, and prints one table — cold converge, time to Ready, Google calls and
// Kubernetes writes per object (cold and per quiet resync pass), quota refusals, the manager's
// memory and CPU — then checks that Google holds exactly what was declared (PASS or FAIL, exit
// status 1 on FAIL). Every process it started is stopped, whatever happens.
//
//	make bench-scale N=1000 LATENCY=100ms QUOTA=60 PROJECTS=10 REGIONS=2 WORKERS=16 MANAGER_FLAGS=...
//
// SCENARIO adds issue 27's measures to that run (a comma-separated list; none by default):
// adoption-revocation (a revocation and edits during the adoption), burst-edit (an edit of a
// Ready object during the creation burst) and audit-flood (forged and repeated audit entries,
// then a real out-of-band change). Figures are recorded in docs/benchmarks.md.
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	n, projects, regions int
	latency              time.Duration
	quota                int
	workers              int
	managerFlags         []string
	resync               time.Duration // the steady phase's resync period; 0 skips that phase
	resyncPeriods        int
	edits                int
	timeout              time.Duration
	createConcurrency    int
	assets, bin, runDir  string
	scenarios            scenarios
	adoptionEdits        int
	burstEditAt          []time.Duration
	auditFlood           int
	auditFloodOver       time.Duration
}

func main() {
	os.Exit(run())
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scale: "+format+"\n", args...)
}

func parseFlags() (config, error) {
	var c config
	var managerFlags, scenario, burstEditAt string
	flag.IntVar(&c.n, "n", 1000, "ProtectedServices (and Cloud Run services) to create")
	flag.IntVar(&c.projects, "projects", 10, "Google Cloud projects the services are spread over (one namespace each)")
	flag.IntVar(&c.regions, "regions", 2, "regions per project the services are spread over (at most 20)")
	flag.DurationVar(&c.latency, "latency", 0, "latency the fake adds to every Google call (a fault rule)")
	flag.IntVar(&c.quota, "quota", 0, "the fake's Cloud Run and IAP write quotas, per minute per project and region; 0: none")
	flag.IntVar(&c.workers, "workers", 0, "the manager's --max-concurrent-reconciles; 0: its default")
	flag.StringVar(&managerFlags, "manager-flags", "", "more manager flags, space-separated; they come last and win")
	flag.DurationVar(&c.resync, "resync", 30*time.Second, "resync period of the steady phase, after the cold converge; 0 skips it")
	flag.IntVar(&c.resyncPeriods, "resync-periods", 2, "how many resync periods the steady phase measures")
	flag.IntVar(&c.edits, "edits", 50, "objects edited, spread over one resync period, after the steady phase (each timed to Google); 0: none")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "how long the cold converge may take")
	flag.IntVar(&c.createConcurrency, "create-concurrency", 16, "objects created in parallel")
	flag.StringVar(&c.assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory of kube-apiserver and etcd (./hack/build-k8s-binaries.sh --print-dir)")
	flag.StringVar(&c.bin, "bin", "bin", "directory of manager, gcpfake and localcluster")
	flag.StringVar(&c.runDir, "run-dir", filepath.Join("bin", "scale"), "directory for the seed, the kubeconfig and every process's log")
	flag.StringVar(&scenario, "scenario", "", "issue 27's scenarios to add, comma-separated: "+strings.Join(scenarioNames, ", ")+" (docs/benchmarks.md)")
	flag.IntVar(&c.adoptionEdits, "adoption-edits", 20, "adoption-revocation: Ready objects gaining a member, spread over the adoption by how many objects are Ready")
	flag.StringVar(&burstEditAt, "burst-edit-at", "6s,8s,10s", "burst-edit: when, after the first create, each edit of a Ready object is made (comma-separated)")
	flag.IntVar(&c.auditFlood, "audit-flood", 5000, "audit-flood: forged and repeated audit entries to publish")
	flag.DurationVar(&c.auditFloodOver, "audit-flood-over", 10*time.Second, "audit-flood: how long publishing them takes; the real change is made halfway")
	flag.Parse()
	c.managerFlags = strings.Fields(managerFlags)
	var err error
	if c.scenarios, err = parseScenarios(scenario); err != nil {
		return c, err
	}
	if c.burstEditAt, err = parseDurations(burstEditAt); err != nil {
		return c, fmt.Errorf("--burst-edit-at: %w", err)
	}
	switch {
	case c.n < 1:
		return c, errors.New("--n must be at least 1")
	case c.projects < 1 || c.projects > 99:
		return c, errors.New("--projects must be 1 to 99")
	case c.regions < 1 || c.regions > len(regions):
		return c, fmt.Errorf("--regions must be 1 to %d", len(regions))
	case c.latency < 0 || c.quota < 0 || c.workers < 0 || c.resync < 0 || c.resyncPeriods < 1 || c.createConcurrency < 1 || c.edits < 0:
		return c, errors.New("--latency, --quota, --workers and --resync cannot be negative; --resync-periods and --create-concurrency are at least 1")
	case c.adoptionEdits < 0 || c.auditFlood < 1 || c.auditFloodOver < 0:
		return c, errors.New("--adoption-edits and --audit-flood-over cannot be negative; --audit-flood is at least 1")
	case c.assets == "":
		return c, errors.New("--assets (or KUBEBUILDER_ASSETS) must name the directory of kube-apiserver and etcd")
	}
	return c, nil
}

func run() int {
	cfg, err := parseFlags()
	if err != nil {
		logf("%v", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("runguard scale harness: %s\n", describeRun(cfg))
	fmt.Printf("machine: %s\n", machine())
	fmt.Printf("manager %s, %s\n\n", builtFrom(filepath.Join(cfg.bin, "manager")), runtime.Version())

	h := &harness{cfg: cfg}
	defer h.stopAll()
	res, err := h.measure(ctx)
	if res != nil {
		printTable(os.Stdout, cfg, res)
	}
	switch {
	case err != nil:
		fmt.Printf("\nFAIL: %v\n", err)
		fmt.Printf("logs: %s\n", h.logDir)
		return 1
	case len(res.problems) > 0:
		fmt.Printf("\nFAIL: Google's state differs from what was declared for %d service(s); logs: %s\n", len(res.problems), h.logDir)
		return 1
	}
	fmt.Printf("\nPASS: %d services exactly as declared in Google; logs: %s\n", cfg.n, h.logDir)
	return 0
}

func describeRun(c config) string {
	s := fmt.Sprintf("N=%d over %d project(s) × %d region(s), latency %s per Google call", c.n, c.projects, c.regions, c.latency)
	if c.quota > 0 {
		s += fmt.Sprintf(", write quota %d/min per project and region (Cloud Run and IAP each)", c.quota)
	} else {
		s += ", no quota"
	}
	if c.workers > 0 {
		s += fmt.Sprintf(", --max-concurrent-reconciles=%d", c.workers)
	}
	if len(c.managerFlags) > 0 {
		s += ", manager flags " + strings.Join(c.managerFlags, " ")
	}
	if len(c.scenarios) > 0 {
		s += ", scenarios " + c.scenarios.String()
	}
	return s
}

// builtFrom names the commit a binary was built from, as Go recorded it, and whether that
// checkout had uncommitted changes.
func builtFrom(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return checkout()
	}
	rev, modified := "", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(7, len(s.Value))]
		case "vcs.modified":
			modified = s.Value
		}
	}
	switch {
	case rev == "":
		return checkout()
	case modified == "true":
		return "built from commit " + rev + " with uncommitted changes"
	}
	return "built from commit " + rev + " (clean tree)"
}

// checkout describes the git checkout the harness runs in, for a binary built without version
// control information (-buildvcs=false), as make bench-scale builds it there.
func checkout() string {
	s := "built without version information (make bench-scale builds it from this checkout"
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return s + ")"
	}
	s += ", commit " + strings.TrimSpace(string(out))
	if status, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(status) > 0 {
		s += fmt.Sprintf(", with uncommitted changes in %d file(s)", strings.Count(string(status), "\n"))
	}
	return s + ")"
}

func itoa(i int) string { return strconv.Itoa(i) }
