package iampolicy

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"
)

// TestPlanAccess_PropertiesHoldOverRandomSequences runs random sequences of
// declare / undeclare / foreign-edit / re-case / removal-only steps for
// three owners sharing one policy (two of them the same object in two
// clusters), the way ProtectedServices and a human with the console would, and checks after every plan that:
//   - the input was not mutated and etag and audit configs survive;
//   - nothing outside the planning owner's unit changed, in order;
//   - the owner's unit is exactly what it declares (full plans);
//   - planning the result again changes nothing;
//   - removal-only plans never add a grant;
//   - re-cased email members are never a change.
func TestPlanAccess_PropertiesHoldOverRandomSequences(t *testing.T) {
	const sequences, stepsPerSequence = 100, 100
	start := time.Now()
	steps := 0
	for seq := range sequences {
		g := newGen(int64(seq))
		policy := g.policy()
		desired := map[Owner]Desired{ownerA: {Owner: ownerA}, ownerB: {Owner: ownerB}, ownerC: {Owner: ownerC}}
		owners := []Owner{ownerA, ownerB, ownerC}
		for step := range stepsPerSequence {
			steps++
			o := owners[g.r.Intn(len(owners))]
			label := fmt.Sprintf("sequence %d step %d", seq, step)
			switch k := g.r.Intn(10); {
			case k < 3: // declare
				desired[o] = g.desired(o)
				policy = applyFull(t, label+" declare", policy, desired[o])
			case k < 4: // undeclare
				d := desired[o]
				d.Groups = nil
				desired[o] = d
				policy = applyFull(t, label+" undeclare", policy, d)
			case k < 7: // someone else edits the policy
				policy = foreignEdit(g, policy)
			case k < 8: // Google hands members back in another case
				converged := applyFull(t, label+" converge", policy, desired[o])
				recased := clonePolicy(converged)
				for _, b := range recased.Bindings {
					for i, m := range b.Members {
						b.Members[i] = g.recase(m)
					}
				}
				if pl := mustPlan(t, recased, desired[o]); pl.Changed {
					t.Fatalf("%s: re-cased members caused a change: %s", label, pl.Diff())
				}
				policy = recased
			default: // removal-only fallback, sometimes with a declaration that no longer compiles
				d := g.desired(o)
				if g.r.Intn(3) == 0 && len(d.Groups) > 0 {
					d.Groups[0].Context.Expression = "request.path.startsWith("
				}
				before := proto.Clone(policy).(*iampb.Policy)
				pl, err := PlanAccessRemovalOnly(policy, d)
				if err != nil {
					t.Fatalf("%s removal-only: %v", label, err)
				}
				checkPlan(t, before, policy, d, pl, true)
				policy = pl.Policy
			}
		}
	}
	t.Logf("%d steps in %s", steps, time.Since(start).Round(time.Millisecond))
}

func applyFull(t *testing.T, label string, current *iampb.Policy, d Desired) *iampb.Policy {
	t.Helper()
	before := proto.Clone(current).(*iampb.Policy)
	pl, err := PlanAccess(current, d)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	checkPlan(t, before, current, d, pl, false)
	return pl.Policy
}

// foreignEdit is what a human, Terraform or another controller might do.
func foreignEdit(g gen, p *iampb.Policy) *iampb.Policy {
	p = clonePolicy(p)
	switch g.r.Intn(7) {
	case 0:
		p.Bindings = append(p.Bindings, g.foreignBinding())
	case 1: // drop any binding, ours included
		if len(p.Bindings) > 0 {
			i := g.r.Intn(len(p.Bindings))
			p.Bindings = append(p.Bindings[:i], p.Bindings[i+1:]...)
		}
	case 2: // add a member to any binding, ours included
		if len(p.Bindings) > 0 {
			b := p.Bindings[g.r.Intn(len(p.Bindings))]
			b.Members = append(b.Members, memberPool[g.r.Intn(len(memberPool))])
		}
	case 3: // remove a member from any binding
		if len(p.Bindings) > 0 {
			b := p.Bindings[g.r.Intn(len(p.Bindings))]
			if len(b.Members) > 0 {
				i := g.r.Intn(len(b.Members))
				b.Members = append(b.Members[:i], b.Members[i+1:]...)
			}
		}
	case 4: // hand-edit the expression of a marked binding
		for _, b := range p.Bindings {
			if _, ok := ParseMarker(b.GetCondition()); ok && g.r.Intn(2) == 0 {
				b.Condition = proto.Clone(b.Condition).(*expr.Expr)
				b.Condition.Expression = `request.time < timestamp("2099-01-01T00:00:00Z")`
				break
			}
		}
	case 5:
		p.Etag = []byte(fmt.Sprintf("etag-%d", g.r.Intn(1000)))
		p.AuditConfigs = append(p.AuditConfigs, &iampb.AuditConfig{Service: fmt.Sprintf("svc-%d.googleapis.com", g.r.Intn(10))})
	default: // shuffle binding order
		g.r.Shuffle(len(p.Bindings), func(i, j int) { p.Bindings[i], p.Bindings[j] = p.Bindings[j], p.Bindings[i] })
	}
	return p
}
