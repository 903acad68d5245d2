package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// TestFigures_AuditEvents measures the figures docs/benchmarks.md records for drift corrected by
// audit events, over the built binaries. It logs measurements and asserts only outcomes (every
// change corrected); it takes several minutes, so it runs only on request.
func TestFigures_AuditEvents(t *testing.T) {
	if os.Getenv("RUNGUARD_FIGURES") == "" {
		t.Skip("a measurement run for docs/benchmarks.md that takes minutes; run it with RUNGUARD_FIGURES=1")
	}
	sys := newSystem(t)
	pubsubAddr := "127.0.0.1:" + freePorts(t, 1)[0]
	sys.startFake(filepath.Join(sys.root, "hack", "demo", "seed.yaml"), "--pubsub-listen", pubsubAddr)
	ps := newPubSub(t, pubsubAddr)
	s := sys.on(t)
	s.installCRDs()
	m := s.startManager("manager-figures", "--resync-period=1h", "--max-concurrent-reconciles=16",
		"--audit-log-subscription", adminapi.DefaultAuditSubscription, "--pubsub-endpoint", pubsubAddr)
	s.waitForLease(m)
	s.mustKubectl("apply", "-f", "hack/demo/namespaces.yaml")
	s.mustKubectl("apply", "-f", "config/samples/iap_v1alpha1_protectedservice.yaml")
	s.waitCondition("finance", "billing-dashboard", "Ready")

	t.Run("ReactionOver100Trials", func(t *testing.T) {
		s := sys.on(t)
		var took []time.Duration
		callsBefore := callsOn(s, billing)
		for range 100 {
			d, err := grantAllUsersAndWait(s, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			took = append(took, d)
		}
		slices.Sort(took)
		t.Logf("FIGURE out-of-band allUsers grant → revoked, 100 trials, zero delivery delay, resync 1h: p50 %s, p90 %s, p99 %s, max %s",
			took[49].Round(time.Millisecond), took[89].Round(time.Millisecond), took[98].Round(time.Millisecond), took[99].Round(time.Millisecond))
		// Each correction is a write the audit log reports too: runguard's own entry costs a
		// quiet pass. Calls per trial show what that costs.
		time.Sleep(2 * time.Second)
		t.Logf("FIGURE Google calls per corrected grant, runguard's own entries included: %.1f", float64(callsOn(s, billing)-callsBefore)/100)
	})

	t.Run("QuietObjectCostsNoReads", func(t *testing.T) {
		s := sys.on(t)
		before := callsOn(s, billing)
		time.Sleep(60 * time.Second)
		t.Logf("FIGURE Google calls on a quiet object in 60 s with events on and a 1-hour resync: %d (its resync adds 3 reads an hour)", callsOn(s, billing)-before)
	})

	t.Run("ThousandObjectsAndTenThousandEntries", func(t *testing.T) {
		s := sys.on(t)
		const n = 1000
		s.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: burst\n  annotations:\n    iap.runguard.dev/allowed-projects: acme-prod\n")
		var manifest strings.Builder
		for i := range n {
			s.admin(http.MethodPost, adminapi.ServicesPath, adminapi.Service{Project: "acme-prod", Location: "us-central1", Name: burstName(i)})
			fmt.Fprintf(&manifest, "---\napiVersion: iap.runguard.dev/v1alpha1\nkind: ProtectedService\nmetadata:\n  name: %s\n  namespace: burst\nspec:\n  service: {project: acme-prod, location: us-central1, name: %s}\n  accessGroups:\n  - name: devs\n    members: [\"group:auditors@acme.com\"]\n", burstName(i), burstName(i))
		}
		start := time.Now()
		s.apply(manifest.String())
		eventually(t, 10*time.Minute, "1,000 objects Ready", func() error {
			time.Sleep(2 * time.Second)
			if ready := readyIn(s, "burst"); ready < n {
				return fmt.Errorf("%d of %d Ready", ready, n)
			}
			return nil
		})
		t.Logf("FIGURE 1,000 objects cold converge with events on: %s; manager RSS %s", time.Since(start).Round(100*time.Millisecond), rss(t, m))

		// 100 services made public out of band (the fake logs each), buried in 10,000 entries
		// naming all 1,000 services (duplicates of what a sink would send for LRO starts and ends).
		var public []string
		for i := 0; i < n; i += 10 {
			ref := "acme-prod/us-central1/" + burstName(i)
			p := s.service(ref).ServicePolicy
			p.Etag = nil
			p.Bindings = append(p.Bindings, adminapi.Binding{Role: invokerRole, Members: []string{"allUsers"}})
			s.admin(http.MethodPut, adminapi.ServicePolicyPath+"/"+ref, p)
			public = append(public, ref)
		}
		burstStart := time.Now()
		for batch := range 10 {
			var msgs [][]byte
			for i := range 1000 {
				msgs = append(msgs, auditEntry("google.cloud.run.v2.Services.UpdateService",
					"projects/acme-prod/locations/us-central1/services/"+burstName((batch*1000+i)%n)))
			}
			ps.publish(t, msgs...)
		}
		eventually(t, 10*time.Minute, "every public service revoked", func() error {
			time.Sleep(500 * time.Millisecond)
			st := s.state()
			left := 0
			for _, svc := range st.Services {
				if strings.Contains(svc.Name, "/burst-") && grants(svc.ServicePolicy, invokerRole, "allUsers") {
					left++
				}
			}
			if left > 0 {
				return fmt.Errorf("%d still public", left)
			}
			return nil
		})
		t.Logf("FIGURE 100 out-of-band grants among 10,000 entries over 1,000 objects: all revoked %s after the burst; manager RSS %s; manager alive: %v",
			time.Since(burstStart).Round(100*time.Millisecond), rss(t, m), !m.exited())
	})
}

func burstName(i int) string { return fmt.Sprintf("burst-%04d", i) }

// callsOn counts the fake's calls (reads and writes) on one service and its IAP resource.
func callsOn(s *system, ref string) int {
	parts := strings.Split(ref, "/")
	full := fmt.Sprintf("projects/%s/locations/%s/services/%s", parts[0], parts[1], parts[2])
	n := 0
	for _, c := range s.calls() {
		if c.Resource == full || strings.HasSuffix(c.Resource, "/iap_web/cloud_run-"+parts[1]+"/services/"+parts[2]) {
			n++
		}
	}
	return n
}

// readyIn counts the Ready objects of a namespace.
func readyIn(s *system, ns string) int {
	out, err := s.kubectl("", "get", "protectedservices", "-n", ns, "-o", "json")
	if err != nil {
		return 0
	}
	var list struct {
		Items []struct {
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
	}
	if json.Unmarshal([]byte(out), &list) != nil {
		return 0
	}
	n := 0
	for _, it := range list.Items {
		for _, c := range it.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				n++
			}
		}
	}
	return n
}

// rss is a process's resident memory, from /proc.
func rss(t *testing.T, p *proc) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return fmt.Sprintf("%d MiB", kb/1024)
		}
	}
	return "unknown"
}
