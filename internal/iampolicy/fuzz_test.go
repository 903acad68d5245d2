package iampolicy

import (
	"errors"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/proto"
)

// fuzzState builds a policy that already holds bindings of ownerA and
// ownerB (from earlier random declarations), foreign bindings, and one
// foreign binding carrying an arbitrary member string.
func fuzzState(t *testing.T, seed int64, foreignMember string) (gen, *iampb.Policy) {
	g := newGen(seed)
	p := g.policy()
	for _, o := range []Owner{ownerA, ownerB, ownerC, ownerA} {
		if g.r.Intn(3) == 0 {
			continue
		}
		d := g.desired(o)
		pl, err := PlanAccess(p, d)
		if err != nil {
			t.Fatalf("building state: %v", err)
		}
		p = pl.Policy
		if g.r.Intn(2) == 0 {
			p.Bindings = append(p.Bindings, g.foreignBinding())
		}
	}
	if foreignMember != "" {
		p.Bindings = append(p.Bindings, bind(AccessorRole, nil, foreignMember))
	}
	return g, p
}

// FuzzPlanAccess checks, for arbitrary policies and declarations, that a
// plan never changes anything outside the owner's unit (its marked
// bindings; in Exclusive also unmarked bindings of the role), that the
// result converges to exactly what is declared, that applying the result
// again changes nothing, and that re-cased members are no change.
func FuzzPlanAccess(f *testing.F) {
	f.Add(int64(1), "user:x@example.com", "user:Alice@Example.com", false)
	f.Add(int64(2), "", "group:OPS@example.com", true)
	f.Add(int64(3), "principal://iam.googleapis.com/x/subject/Bob", "principal://iam.googleapis.com/x/subject/bob", false)
	f.Add(int64(4), "deleted:user:dave@example.com?uid=123", "domain:Example.com", true)
	f.Add(int64(5), "allUsers", "serviceAccount:CI@proj.iam.gserviceaccount.com", false)
	f.Add(int64(6), "user:ALICE@EXAMPLE.COM", "", true)
	f.Add(int64(42), " ", "user:\u00e9@example.com", false)
	for seed := int64(100); seed < 140; seed++ {
		f.Add(seed, "", "", seed%2 == 0)
	}
	f.Fuzz(func(t *testing.T, seed int64, foreignMember, declaredMember string, exclusive bool) {
		g, current := fuzzState(t, seed, foreignMember)
		d := g.desired(ownerA)
		d.Mode = Merge
		if exclusive {
			d.Mode = Exclusive
		}
		if declaredMember != "" && len(d.Groups) > 0 {
			d.Groups[0].Members = append(d.Groups[0].Members, declaredMember)
		}
		before := proto.Clone(current).(*iampb.Policy)

		pl, err := PlanAccess(current, d)
		if err != nil {
			var ice *InvalidConditionError
			if errors.As(err, &ice) {
				return // e.g. an empty or allUsers member
			}
			t.Fatalf("PlanAccess: %v", err)
		}
		checkPlan(t, before, current, d, pl, false)

		recased := clonePolicy(pl.Policy)
		for _, b := range recased.Bindings {
			for i, m := range b.Members {
				b.Members[i] = g.recase(m)
			}
		}
		again := mustPlan(t, recased, d)
		if again.Changed {
			t.Fatalf("re-cased members caused a change: %s", again.Diff())
		}
	})
}

// FuzzPlanAccessRemovalOnly checks that the removal-only plan never adds
// a grant, whatever is declared, including groups that do not compile.
func FuzzPlanAccessRemovalOnly(f *testing.F) {
	f.Add(int64(1), "request.path.startsWith(", "admins", "allUsers")
	f.Add(int64(2), "", "devs", "user:new@example.com")
	f.Add(int64(3), `request.host == "a"`, "viewers", "")
	f.Add(int64(4), "a && b && c && d && e && f && g && h && i && j && k && l && m && n", "ops", "group:X@example.com")
	f.Add(int64(5), "", "", "")
	for seed := int64(200); seed < 230; seed++ {
		f.Add(seed, "", "admins", "user:alice@example.com")
	}
	f.Fuzz(func(t *testing.T, seed int64, rawExpression, groupName, member string) {
		g, current := fuzzState(t, seed, "")
		d := g.desired(ownerA)
		d.Groups = append(d.Groups, AccessGroup{Name: groupName, Members: []string{member}, Context: Context{Expression: rawExpression}})
		before := proto.Clone(current).(*iampb.Policy)

		pl, err := PlanAccessRemovalOnly(current, d)
		if err != nil {
			t.Fatalf("PlanAccessRemovalOnly: %v", err)
		}
		if len(pl.Added) != 0 {
			t.Fatalf("removal-only plan added %v", pl.Added)
		}
		checkPlan(t, before, current, d, pl, true)
	})
}

// FuzzCompileCondition checks that compilation is deterministic, that
// only *InvalidConditionError comes back, that no host, path or raw
// expression can change the structure of the compiled expression, and
// that the raw expression is written as its canonical form, one
// parenthesised operand, never as the user's text.
func FuzzCompileCondition(f *testing.F) {
	for _, h := range hostileStrings {
		f.Add("g", h, h, "")
	}
	f.Add("admins", "a.example.com", "admin/", `request.path.endsWith(".json")`)
	f.Add("g", "h", "p", `true) || (true`)
	f.Add("g", "h", "p", `true // ) || true`)
	f.Add("g", "h", "p", "x\n) || (true")
	f.Add("g", "h", "p", `"a" + "b" == "ab" // "`)
	f.Add("g", "h", "p", "false // note\r) || (true")
	f.Add("g", "h", "p", "false // note\u2028) || (true")
	f.Add("g", "h", "p", "false // note\n) || (true")
	f.Add("g", "h", "p", "// note\nfalse // note\n")
	f.Add("g", "h", "p", `(!a).b`)
	f.Add("g", "h", "p", `request.path == '\u2028' + r'\d' + """x"""`)
	f.Add("runguard:g", "h", "p", `!a || !b`)
	f.Add("", "h", "p", "")
	f.Add("g", "", "p", "")
	f.Fuzz(func(t *testing.T, name, host, path, raw string) {
		g := AccessGroup{Name: name, Context: Context{Hosts: []string{host}, PathPrefixes: []string{"/" + path}, Expression: raw}}
		c1, err1 := CompileCondition(ownerA, g)
		c2, err2 := CompileCondition(ownerA, g)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && !proto.Equal(c1, c2)) {
			t.Fatalf("not deterministic: %v/%v vs %v/%v", c1, err1, c2, err2)
		}
		if err1 != nil {
			var ice *InvalidConditionError
			if !errors.As(err1, &ice) {
				t.Fatalf("want *InvalidConditionError, got %T %v", err1, err1)
			}
			return
		}
		if r, _, found := ambiguousExpressionRune(raw); found {
			t.Fatalf("expression with %U was accepted", r)
		}
		if m, ok := ParseMarker(c1); !ok || m.Group != name || m.Owner != ownerA {
			t.Fatalf("marker does not round-trip: %+v %v", m, ok)
		}
		if n := countLogicalOperators(mustParseCEL(t, c1.Expression).Expr()); n > MaxLogicalOperators {
			t.Fatalf("%d logical operators passed validation", n)
		}
		typedOnly := g
		typedOnly.Context.Expression = ""
		typed, _, err := compileExpression(typedOnly)
		if err != nil {
			t.Fatalf("typed clauses alone failed: %v", err)
		}
		assertTypedStructure(t, typed, typedOnly)
		if c1.Expression != typed {
			assertRawStructure(t, c1.Expression, typed, raw)
		}
	})
}
