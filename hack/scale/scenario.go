package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The scenarios of issue 27 a run may add to the default measures.
const (
	adoptionRevocation = "adoption-revocation"
	burstEdit          = "burst-edit"
	auditFlood         = "audit-flood"
)

var scenarioNames = []string{adoptionRevocation, burstEdit, auditFlood}

// scenarios are the ones a run was asked for, in the order scenarioNames lists them.
type scenarios []string

func (s scenarios) has(name string) bool { return slices.Contains(s, name) }

func (s scenarios) String() string { return strings.Join(s, ",") }

func parseScenarios(list string) (scenarios, error) {
	var out scenarios
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
		case !slices.Contains(scenarioNames, name):
			return nil, fmt.Errorf("--scenario: %q is none of %s", name, strings.Join(scenarioNames, ", "))
		case !out.has(name):
			out = append(out, name)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(scenarioNames, a) - slices.Index(scenarioNames, b) })
	return out, nil
}

// parseDurations reads "6s,8s,10s" into increasing durations.
func parseDurations(list string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%q is not a duration of at least 0", f)
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

// timedEdit is one edit a scenario made and timed: when, to which object, how far the run had got
// then, and how long until Google reflected it.
type timedEdit struct {
	object         string
	madeAt         time.Duration // since the first create
	created, ready int           // objects created and ever Ready when it was made
	took           time.Duration // update → Google
	watchSaw       time.Duration // update sent → the harness's watch delivered the new generation; 0: not seen
	updated        bool          // the API server took the update
	err            error
}

// scenarioUpdates counts the updates the scenarios' edits made during the converge.
func (res *results) scenarioUpdates() int {
	n := 0
	edits := res.burst
	if a := res.adoption; a != nil {
		edits = append(slices.Clone(edits), a.edits...)
		if a.revocation != nil {
			edits = append(edits, *a.revocation)
		}
	}
	for _, e := range edits {
		if e.updated {
			n++
		}
	}
	return n
}

// printScenarios adds the scenarios' rows to the table, each with issue 27's target where it
// gives one.
func printScenarios(row func(figure, value string, args ...any), cfg config, r *results) {
	n := float64(cfg.n)
	if a := r.adoption; a != nil {
		const figure = "revocation once a quarter of the objects were Ready (update → gone from Google)"
		if a.revocation == nil {
			row(figure, "not made: the adoption ended first")
		} else {
			row(figure, "%s (target ≤ 5 s)", describeEdit(*a.revocation, cfg.n))
		}
		row("edits adding a member to Ready objects during the adoption (update → Google)", "%s (target p99 ≤ 30 s)", describeEdits(a.edits, a.notMade))
		reads, _ := readsAndWrites(r.cold.calls)
		row("passes per object during the adoption", "%s (target ≤ 3)", per(r.cold.reconciles, n))
		row("Google reads per object during the adoption", "%s (target ≤ 5)", per(float64(reads), n))
		if cfg.quota > 0 {
			row("adoption time ÷ quota floor", "%.2f × (%s against %s) (target ≤ 1.1 ×)", r.converge.Seconds()/max(r.quotaFloor.Seconds(), 1e-9), seconds(r.converge), seconds(r.quotaFloor))
		} else {
			row("adoption time ÷ quota floor", "– (no quota: QUOTA=60 makes one) (target ≤ 1.1 ×)")
		}
	}
	if cfg.scenarios.has(burstEdit) {
		var parts []string
		burst := slices.Clone(r.burst)
		slices.SortFunc(burst, func(a, b timedEdit) int { return int(a.madeAt - b.madeAt) })
		for _, e := range burst {
			parts = append(parts, describeEdit(e, cfg.n))
		}
		if r.burstNotMade > 0 {
			parts = append(parts, fmt.Sprintf("%d not made: every object was Ready first", r.burstNotMade))
		}
		row("edit of an already-Ready object during the creation burst (update → Google)", "%s (target ≤ 1 s)", strings.Join(parts, "; "))
	}
	if f := r.flood; f != nil {
		v := fmt.Sprintf("%d entries over %s: %d forged (runguard's own identity, naming each of %d services in turn)", f.published, seconds(f.over), f.forged, cfg.n-1)
		if f.repeated > 0 {
			v += fmt.Sprintf(", %d copies of one real entry (%s)", f.repeated, f.repeatedOf)
		}
		var outcomes []string
		for _, o := range []string{"enqueued", "unmatched", "irrelevant", "malformed"} {
			if f.received[o] > 0 {
				outcomes = append(outcomes, fmt.Sprintf("%.0f %s", f.received[o], o))
			}
		}
		v += fmt.Sprintf("; the manager received %s", strings.Join(outcomes, ", "))
		if f.drained > 0 {
			v += fmt.Sprintf(", the last %s after the first was published (%.0f a second)", seconds(f.drained), float64(f.published+1)/f.drained.Seconds())
		} else {
			v += ", not all within 5 minutes"
		}
		row("audit flood (manager restarted with the subscription, resync 1 h)", "%s", v)
		reads, writes := readsAndWrites(f.delta.calls)
		row("Google reads per flood entry", "%s (%d reads, %d writes, %.0f passes in %s, until Google was quiet for 5 s) (target ≤ 0.05)",
			per(float64(reads), float64(f.published)), reads, writes, f.delta.reconciles, seconds(f.window))
		c := f.change
		const figure = "real change during the flood: a service made public out of band (admin PUT of its IAM policy; no flood entry names it)"
		switch {
		case c.err != nil:
			row(figure, "not measured: %v", c.err)
		case c.received == 0:
			row(figure, "corrected %s after the change (%s, made %s into the flood); its entry was not seen to arrive", seconds(c.corrected), c.object, seconds(c.madeAt))
		default:
			// The harness reads the manager's count every 50 ms and Google every 20 ms.
			v := fmt.Sprintf("**%.2f s** (± 0.05) from its entry's arrival at the manager to Google no longer letting allUsers invoke (%s, made %s into the flood; the entry arrived %s after the change, corrected %s after it)",
				max(c.corrected-c.received, 0).Seconds(), c.object, seconds(c.madeAt), seconds(c.received), seconds(c.corrected))
			if f.corrections > 0 {
				v += fmt.Sprintf("; runguard_audit_event_correction_seconds: %.0f correction(s), mean %.2f s", f.corrections, f.correctionSeconds/f.corrections)
			}
			row(figure, "%s (target ≤ 5 s)", v)
		}
	}
}

// describeEdit is one timed edit for the table.
func describeEdit(e timedEdit, n int) string {
	where := fmt.Sprintf("%s, made %s in", e.object, seconds(e.madeAt))
	if e.created > 0 {
		where += fmt.Sprintf(" with %d of %d created and %d Ready", e.created, n, e.ready)
	}
	if e.watchSaw > 0 {
		where += fmt.Sprintf("; the harness's watch saw it after %.2f s", e.watchSaw.Seconds())
	}
	if e.err != nil {
		return fmt.Sprintf("not measured: %v (%s)", e.err, where)
	}
	return fmt.Sprintf("**%.2f s** (%s)", e.took.Seconds(), where)
}

// describeEdits summarises timed edits for the table.
func describeEdits(edits []timedEdit, notMade int) string {
	var took []time.Duration
	var errs []error
	var first, last time.Duration
	for i, e := range edits {
		if i == 0 || e.madeAt < first {
			first = e.madeAt
		}
		last = max(last, e.madeAt)
		if e.err != nil {
			errs = append(errs, e.err)
			continue
		}
		took = append(took, e.took)
	}
	sorted := sortedCopy(took)
	v := fmt.Sprintf("p50 / p99 / max %.2f / **%.2f** / %.2f s (%d edits made %s to %s in)", quantile(sorted, .5).Seconds(),
		quantile(sorted, .99).Seconds(), quantile(sorted, 1).Seconds(), len(took), seconds(first), seconds(last))
	if len(errs) > 0 {
		v += fmt.Sprintf("; %d not measured, e.g. %v", len(errs), errs[0])
	}
	if notMade > 0 {
		v += fmt.Sprintf("; %d not made: the adoption ended first", notMade)
	}
	return v
}
