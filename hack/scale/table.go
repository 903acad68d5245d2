package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// writeMethods are the calls Google counts as writes (the fake's Call.Write).
var writeMethods = []string{"run.CreateService", "run.UpdateService", "run.DeleteService", "run.SetIamPolicy", "iap.SetIamPolicy", "iap.UpdateIapSettings"}

// readsAndWrites sums calls by kind.
func readsAndWrites(calls map[string]int) (reads, writes int) {
	for m, n := range calls {
		if slices.Contains(writeMethods, m) {
			writes += n
		} else {
			reads += n
		}
	}
	return reads, writes
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func per(n, d float64) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", n/d)
}

// printTable prints the run's figures as one Markdown table.
func printTable(w io.Writer, cfg config, r *results) {
	row := func(figure, value string, args ...any) {
		fmt.Fprintf(w, "| %s | %s |\n", figure, fmt.Sprintf(value, args...))
	}
	n := float64(cfg.n)
	fmt.Fprintln(w, "| figure | value |")
	fmt.Fprintln(w, "|---|---|")
	public, hand := 0, 0
	for _, d := range r.world.objects {
		if d.public {
			public++
		}
		if d.handGranted {
			hand++
		}
	}
	row("objects", "%d over %d project(s) × %d region(s): %d public, %d with IAP on and an accessor granted by hand", cfg.n, cfg.projects, cfg.regions, public, hand)
	if !r.converged {
		row("cold converge", "did not converge: %d of %d Ready", len(r.readiness.toReady), cfg.n)
		return
	}
	row("cold converge (first create → all Ready)", "%s (%.1f objects/s)", seconds(r.converge), n/r.converge.Seconds())
	sorted := sortedCopy(r.readiness.toReady)
	row("time to Ready p50 / p90 / p99 / max", "%.1f / %.1f / %.1f / %.1f s", quantile(sorted, .5).Seconds(), quantile(sorted, .9).Seconds(),
		quantile(sorted, .99).Seconds(), quantile(sorted, 1).Seconds())
	first := 0
	for _, k := range r.readiness.writesToReady {
		if k <= 1 {
			first++
		}
	}
	row("reconciles per object, cold", "%s (Ready on their first status write: %d of %d objects)", per(r.cold.reconciles, n), first, len(r.readiness.writesToReady))
	if r.editErr != nil {
		row("one edit applied to Google while the rest converge", "not measured: %v", r.editErr)
	} else {
		row("one edit applied to Google while the rest converge", "%s", seconds(r.edit))
	}

	reads, writes := readsAndWrites(r.cold.calls)
	steadyCalls := map[string]int{}
	var passes float64
	if r.steady != nil {
		steadyCalls, passes = r.steady.delta.calls, r.steady.delta.reconciles
	}
	row("Google calls per object, cold", "%s reads, %s writes", per(float64(reads), n), per(float64(writes), n))
	if r.steady != nil {
		sr, sw := readsAndWrites(steadyCalls)
		row(fmt.Sprintf("Google calls per quiet pass (resync %s; %.0f passes in %s)", r.steady.period, passes, seconds(r.steady.window)),
			"%s reads, %s writes", per(float64(sr), passes), per(float64(sw), passes))
	}
	var methods []string
	for m := range r.cold.calls {
		methods = append(methods, m)
	}
	for m := range steadyCalls {
		if !slices.Contains(methods, m) {
			methods = append(methods, m)
		}
	}
	slices.Sort(methods)
	for _, m := range methods {
		v := per(float64(r.cold.calls[m]), n) + " per object cold"
		if r.steady != nil {
			v += ", " + per(float64(steadyCalls[m]), passes) + " per quiet pass"
		}
		row("&nbsp;&nbsp;`"+m+"`", "%s", v)
	}
	exhausted, calls := total(r.cold.exhausted), total(r.cold.calls)
	row("RESOURCE_EXHAUSTED, cold", "%d of %d calls (%.1f %%)", exhausted, calls, 100*float64(exhausted)/float64(max(calls, 1)))
	if cfg.quota > 0 {
		row("quota floor (busiest bucket's writes ÷ quota)", "%s (%s); converge ÷ floor = %.2f", seconds(r.quotaFloor), r.busiestBucket,
			r.converge.Seconds()/max(r.quotaFloor.Seconds(), 1e-9))
	}
	// The harness's own edits are updates of objects.
	cw := r.cold.kube
	cw.metadata -= float64(r.coldEdits)
	row("Kubernetes writes per object, cold (API server's count)", "%s: %s metadata (finalizer), %s status; %s refused 409 Conflict; %s Event writes (%s Events stored)",
		per(cw.metadata+cw.status, n), per(cw.metadata, n), per(cw.status, n), per(cw.conflicts, n), per(cw.events, n), per(float64(r.events), n))
	if r.steady != nil {
		sw := r.steady.delta.kube
		row("Kubernetes writes per quiet pass", "%s status, %s metadata, %s Event writes", per(sw.status, passes), per(sw.metadata, passes), per(sw.events, passes))
	}
	if m := r.cold.metrics; len(m) > 0 {
		v := fmt.Sprintf("%.0f requests (%s per object)", m["rest_client_requests_total"], per(m["rest_client_requests_total"], n))
		if wait, ok := m["runguard_google_throttle_wait_seconds_sum"]; ok {
			v += fmt.Sprintf("; %.1f s of waits for Google pacing (summed)", wait)
		}
		row("manager's Kubernetes requests, cold", "%s", v)
	}
	row("manager RSS after converge (peak)", "%.0f MiB (%.0f MiB)", r.rss, r.peak)
	row("CPU seconds, cold", "%s", cpuLine(r.cold.cpu, 1))
	if r.steady != nil {
		row("manager RSS at the end of the resync phase", "%.0f MiB", r.steady.rss)
		row(fmt.Sprintf("CPU seconds per resync of all %d objects", cfg.n), "%s", cpuLine(r.steady.delta.cpu, n/max(passes, 1)))
	}
	if len(r.edits) > 0 || len(r.editErrs) > 0 {
		sorted := sortedCopy(r.edits)
		v := fmt.Sprintf("p50 / p90 / p99 / max %.2f / %.2f / %.2f / %.2f s (%d edits over %s)", quantile(sorted, .5).Seconds(), quantile(sorted, .9).Seconds(),
			quantile(sorted, .99).Seconds(), quantile(sorted, 1).Seconds(), len(r.edits), r.steady.period)
		if len(r.editErrs) > 0 {
			v += fmt.Sprintf("; %d not applied, e.g. %v", len(r.editErrs), r.editErrs[0])
		}
		row("edits applied to Google while every object resyncs (update → Google)", "%s", v)
	}
	printScenarios(row, cfg, r)
	if r.readiness.gaps > 0 {
		row("objects the harness's watch missed changes of (their status writes to Ready undercounted)", "%d", r.readiness.gaps)
	}
	switch {
	case !r.checked:
		row("Google state", "not checked")
	case len(r.problems) == 0:
		row("Google state", "PASS: every service as declared")
	default:
		row("Google state", "FAIL: %d problem(s), e.g. %s", len(r.problems), strings.Join(r.problems[:min(3, len(r.problems))], "; "))
	}
}

func cpuLine(cpu map[string]float64, scale float64) string {
	var parts []string
	for _, name := range []string{"manager", "kube-apiserver", "etcd", "gcpfake"} {
		if v, ok := cpu[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f", name, v*scale))
		}
	}
	return strings.Join(parts, ", ")
}
