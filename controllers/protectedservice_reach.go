package controllers

import (
	"context"
	"fmt"
	"strings"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iam/apiv1/iampb"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/reach"
)

// testResult is one access test as this pass evaluated it.
type testResult struct {
	name   string
	expect iapv1alpha1.TestOutcome
	answer reach.Answer
}

// passed: the verdict is the one expected; DEPENDS never passes, since the test gave every fact
// the answer could need except what it left out on purpose.
func (t testResult) passed() bool {
	return t.expect == iapv1alpha1.TestAllow && t.answer.Verdict == reach.Allow ||
		t.expect == iapv1alpha1.TestDeny && t.answer.Verdict == reach.Deny
}

// checkAccessTests evaluates spec.accessTests against the IAP policy this pass would write (what
// other tools hold on it included) and the grants inherited from above, before any IAM write: a
// declaration that would lock the on-call team out, or let a contractor in, stalls the object
// with nothing written but the lockdown.
func (r *ProtectedServiceReconciler) checkAccessTests(ctx context.Context, s *scope) *outcome {
	tests := s.ps.Spec.AccessTests
	if len(tests) == 0 {
		return nil
	}
	if u := s.facts.inherited.unreadable; u != nil {
		// A test that expects a denial would pass while a grant runguard cannot see lets the
		// member in: tests are judged only on everything IAP decides on.
		return stall(iapv1alpha1.ReasonPermissionDenied, unreadableError(u, "access tests"))
	}
	current := s.accessPolicy
	if current == nil {
		p, err := s.google.AccessPolicies().Get(ctx, s.facts.resolved)
		if err != nil {
			return googleFailure(err)
		}
		s.accessPolicy, current = p, p
	}
	planned, err := iampolicy.PlanAccess(current, declaredAccess(s))
	if err != nil {
		// A policy that cannot be planned (too large, say) cannot be written either: bindAccess
		// reports it with its own reason and applies only the removals.
		return nil
	}
	bindings := append(serviceBindings(s.facts.resolved.IAPResource(), planned.Policy), s.facts.inherited.bindings...)
	carries := reach.RoleCarrier(s.facts.inherited.customRoles)
	levels, out := r.enforcedLevels(ctx, s.facts.levels)
	if out != nil {
		return out
	}
	s.facts.tests = make([]testResult, 0, len(tests))
	failed := false
	for _, t := range tests {
		res := testResult{name: t.Name, expect: t.Expect, answer: reach.Evaluate(bindings, carries, levels, testRequest(t, s))}
		failed = failed || !res.passed()
		s.facts.tests = append(s.facts.tests, res)
	}
	if failed {
		return stall(iapv1alpha1.ReasonAccessTestFailed, nil)
	}
	return nil
}

// serviceBindings are the bindings of the service's own IAP policy, as reach takes them.
func serviceBindings(resource string, p *iampb.Policy) []reach.Binding {
	out := make([]reach.Binding, 0, len(p.GetBindings()))
	for _, b := range p.GetBindings() {
		out = append(out, reach.Binding{Where: reach.Where{Kind: reach.Service, Resource: resource}, Role: b.GetRole(),
			Members: b.GetMembers(), Condition: b.GetCondition().GetExpression(), Title: b.GetCondition().GetTitle()})
	}
	return out
}

// testRequest is the request an access test describes. Groups not listed are not held.
func testRequest(t iapv1alpha1.AccessTest, s *scope) reach.Request {
	req := reach.Request{Member: t.Member, Groups: strs(t.Groups), GroupsKnown: true, Time: s.facts.now}
	if c := t.From; c != nil {
		req.IP, req.RegionCode, req.Path, req.Host, req.Device = c.IP, string(c.Region), string(c.Path), string(c.Host), c.Device
		if c.At != nil {
			req.Time = c.At.UTC()
		}
	}
	return req
}

// maxTestLevels bounds the levels read for one object's access tests.
const maxTestLevels = 20

// enforcedLevels are the levels the groups require and, transitively, the levels those require,
// as Google holds them (an AccessLevel in Observe mode may differ from its spec, and IAP decides on
// what Google holds); a level not in Google yet (runguard plan of a new AccessLevel) is taken as
// it would be created.
func (r *ProtectedServiceReconciler) enforcedLevels(ctx context.Context, f levelsFact) (map[string]*acmpb.AccessLevel, *outcome) {
	out := map[string]*acmpb.AccessLevel{}
	var queue []string
	held, planned := map[string]*acmpb.AccessLevel{}, map[string]*acmpb.AccessLevel{}
	for _, l := range f.resolved {
		queue = append(queue, l.name)
		if l.planned {
			planned[l.name] = l.definition
		} else if l.definition != nil {
			held[l.name] = l.definition // read from Google by this pass already
		}
	}
	for len(queue) > 0 && len(out) < maxTestLevels {
		name := queue[0]
		queue = queue[1:]
		if _, seen := out[name]; seen {
			continue
		}
		level, err := held[name], error(nil)
		if level == nil {
			level, err = r.Google.AccessLevels().Get(ctx, name)
		}
		switch {
		case isNotFound(err) && planned[name] != nil:
			level = planned[name]
		case isNotFound(err):
			continue // reach takes a level it is not given as not satisfied, as IAP does
		case err != nil:
			return nil, googleFailure(err)
		}
		out[name] = level
		for _, c := range level.GetBasic().GetConditions() {
			queue = append(queue, c.GetRequiredAccessLevels()...)
		}
	}
	return out, nil
}

// testResults are status.accessTests.
func testResults(f *facts) []iapv1alpha1.AccessTestResult {
	out := make([]iapv1alpha1.AccessTestResult, 0, len(f.tests))
	for _, t := range f.tests {
		out = append(out, iapv1alpha1.AccessTestResult{Name: t.name, Result: string(t.answer.Verdict), Passed: t.passed(), Message: answerWords(t.answer)})
	}
	return out
}

// answerWords says what decided an answer.
func answerWords(a reach.Answer) string {
	switch {
	case a.Verdict == reach.Allow:
		return "allowed by " + bindingWords(a.Binding)
	case a.Verdict == reach.Depends:
		return "depends on: " + strings.Join(a.Depends, "; ")
	case a.Binding != nil:
		return fmt.Sprintf("denied: the closest binding, %s, fails on %s", bindingWords(a.Binding), a.Failed)
	}
	return "denied: " + a.Failed
}

func bindingWords(b *reach.Binding) string {
	if b == nil {
		return "no binding"
	}
	title := ""
	if b.Title != "" {
		title = " (" + b.Title + ")"
	}
	return fmt.Sprintf("%s on %s%s", b.Role, b.Where.Resource, title)
}

// failedTestsMessage names the failing tests, the first few with what decided them.
func failedTestsMessage(f *facts) string {
	var parts []string
	for _, t := range f.tests {
		if !t.passed() && len(parts) < 3 {
			parts = append(parts, fmt.Sprintf("%s expects %s, got %s (%s)", t.name, t.expect, t.answer.Verdict, answerWords(t.answer)))
		}
	}
	return fmt.Sprintf("Access tests fail: %s. Nothing was written to the IAP policy (the lockdown still runs); fix the access groups or the test.", strings.Join(parts, "; "))
}
