package iampolicy

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// Property: for every context the compiler accepts, decompiling its expression gives back the
// same context — exactly, when it has no raw expression; and one that compiles to the very same
// text when it has (a raw expression may itself look like typed clauses).
func TestDecompileCondition_InvertsTheCompiler(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	levels := []string{"accessPolicies/1/accessLevels/corp", "accessPolicies/123456789/accessLevels/managed_device", "accessPolicies/7/accessLevels/A_b9"}
	prefixes := []string{"/", "/admin/", "/reports/", `/we"ird\path`, "/ünïcode/", "/tab\there", "/new\nline"}
	hosts := []string{"billing.acme.com", "a.b", "host-with-dash.example", `quo"te.example`}
	expressions := []string{"", `request.time.getHours("Europe/Berlin") < 20`, `request.path == "/x" || request.host == "y"`,
		`request.host == "billing.acme.com"`, `request.path.startsWith("/admin/")`, `has(request.auth.claims.email) && request.auth.claims.email.endsWith("@acme.com")`,
		`!(request.path.startsWith("/private/"))`, `"accessPolicies/1/accessLevels/corp" in request.auth.access_levels`}
	pick := func(from []string, max int) []string {
		var out []string
		for range r.IntN(max + 1) {
			out = append(out, from[r.IntN(len(from))])
		}
		return out
	}
	tried, exact := 0, 0
	for range 3000 {
		c := Context{AccessLevels: pick(levels, 2), PathPrefixes: pick(prefixes, 3), Hosts: pick(hosts, 3), Expression: expressions[r.IntN(len(expressions))]}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if r.IntN(2) == 0 {
			nb := base.Add(time.Duration(r.IntN(1000)) * time.Hour)
			c.NotBefore = &nb
		}
		if r.IntN(2) == 0 {
			na := base.Add(time.Duration(1000+r.IntN(1000))*time.Hour + time.Duration(r.IntN(1e9)))
			c.NotAfter = &na
		}
		compiled, _, err := compileExpression(AccessGroup{Name: "g", Context: c})
		if err != nil {
			continue // too many operators: the compiler refuses it, so nothing to invert
		}
		tried++
		got, ok := DecompileCondition(compiled)
		if !ok {
			t.Fatalf("could not decompile %q (from %+v)", compiled, c)
		}
		again, _, err := compileExpression(AccessGroup{Name: "g", Context: got})
		if err != nil || again != compiled {
			t.Fatalf("decompiled %q into %+v, which compiles to %q (%v)", compiled, got, again, err)
		}
		if c.Expression == "" {
			want := Context{AccessLevels: dedupe(c.AccessLevels), PathPrefixes: dedupe(c.PathPrefixes), Hosts: dedupe(c.Hosts), NotBefore: c.NotBefore, NotAfter: c.NotAfter}
			if !sameContext(got, want) {
				t.Fatalf("decompiled %q into %+v, want %+v", compiled, got, want)
			}
			exact++
		}
	}
	if tried < 1000 || exact < 100 {
		t.Fatalf("only %d contexts compiled (%d without a raw expression): the generator is off", tried, exact)
	}
}

func sameContext(a, b Context) bool {
	times := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return reflect.DeepEqual(a.AccessLevels, b.AccessLevels) && reflect.DeepEqual(a.PathPrefixes, b.PathPrefixes) &&
		reflect.DeepEqual(a.Hosts, b.Hosts) && times(a.NotBefore, b.NotBefore) && times(a.NotAfter, b.NotAfter) && a.Expression == b.Expression
}

func TestDecompileCondition_HandWrittenConditions(t *testing.T) {
	if c, ok := DecompileCondition(alwaysTrueExpression); !ok || !sameContext(c, Context{}) {
		t.Errorf("the always-true condition decompiled to %+v, %v; want no context", c, ok)
	}
	for _, expression := range []string{
		`request.time < timestamp("2027-01-01T00:00:00Z")`,                                                 // a window end as gcloud users write it
		`request.host == 'billing.acme.com'`,                                                               // single quotes: not the compiler's text
		`request.path.startsWith("/a") && "accessPolicies/1/accessLevels/x" in request.auth.access_levels`, // typed clauses out of order
		`not CEL at all (`,
	} {
		c, ok := DecompileCondition(expression)
		if expression == `request.time < timestamp("2027-01-01T00:00:00Z")` {
			if !ok || c.NotAfter == nil || !c.NotAfter.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("%q: %+v, %v; want notAfter 2027-01-01", expression, c, ok)
			}
			continue
		}
		if ok {
			t.Errorf("%q decompiled to %+v, but the compiler writes it otherwise", expression, c)
		}
	}
}
