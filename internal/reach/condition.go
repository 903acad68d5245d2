package reach

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/parser"
)

// maxOpenLevels bounds the enumeration over undecided access levels: each
// one doubles the evaluations, so past this many the answer is DEPENDS.
const maxOpenLevels = 8

// condition decides binding b's condition for the request. An empty
// condition holds. IAM grants through a conditional binding only when its
// condition evaluates to true (Binding.condition, policy.proto).
func (e *evaluator) condition(b Binding) judgement {
	if strings.TrimSpace(b.Condition) == "" {
		return certain(true, "")
	}
	name := conditionName(b)
	clauses, err := conjuncts(b.Condition, !e.req.Time.IsZero())
	if err != nil {
		return certain(false, fmt.Sprintf("condition %s does not parse: %v", name, err))
	}
	if len(clauses) == 0 {
		return certain(true, "")
	}
	out := e.expression(joinClauses(clauses), name)
	if out.truth == isFalse && out.failed == "" {
		out.failed = e.failedClause(clauses, name)
	}
	return out
}

// expression decides one IAM condition expression. Levels it names are
// decided from their definitions; when some stay undecided, the expression
// is evaluated for every combination of them being satisfied or not, and
// holds for sure only if it holds under all.
func (e *evaluator) expression(text, name string) judgement {
	env, err := iamEnv()
	if err != nil {
		return undecided(cannotEvaluate(name, err))
	}
	tree, prg, err := program(env, text)
	switch {
	case tree == nil:
		return certain(false, fmt.Sprintf("condition %s does not parse: %v", name, err))
	case prg == nil:
		return undecided(cannotEvaluate(name, err))
	}
	unknown := iamUnknowns(selectChains(tree.NativeRep()), e.req)
	named := namedLevels(tree.NativeRep())
	if missing := e.missingLevels(named); len(missing) > 0 {
		return e.blockedByMissing(name, missing)
	}
	var granted, open, assumed []string
	for _, l := range named {
		j := e.level(l)
		assumed = appendNew(assumed, j.assumed...)
		switch j.truth {
		case isTrue:
			granted = append(granted, l)
		case isUnknown:
			open = append(open, l)
		}
	}
	if len(open) > maxOpenLevels {
		out := undecided(fmt.Sprintf("which of %d undecided access levels the request satisfies (condition %s): %s",
			len(open), name, strings.Join(open, ", ")))
		out.assumed = assumed
		return out
	}
	results, evalErr := e.everyCombination(prg, granted, open, unknown)
	out := judgement{truth: fold(results), assumed: assumed}
	if out.truth != isUnknown {
		return out
	}
	if evalErr != nil {
		out.depends = append(out.depends, cannotEvaluate(name, evalErr))
	}
	for _, d := range unknown.depends {
		out.depends = appendNew(out.depends, fmt.Sprintf("%s (condition %s)", d, name))
	}
	for i, l := range open {
		if matters(results, i) {
			out.depends = appendNew(out.depends, e.level(l).depends...)
		}
	}
	return out
}

// everyCombination evaluates prg once for each combination of the open
// levels being satisfied or not (bit i of the index: open[i] satisfied),
// the granted ones always satisfied. It returns the last error met.
func (e *evaluator) everyCombination(prg cel.Program, granted, open []string, unknown *unknownAttributes) ([]truth, error) {
	results := make([]truth, 1<<len(open))
	var evalErr error
	for mask := range results {
		satisfied := slices.Clone(granted)
		for i, l := range open {
			if mask&(1<<i) != 0 {
				satisfied = append(satisfied, l)
			}
		}
		var err error
		if results[mask], err = evalTruth(prg, iamVars(e.req, satisfied), unknown.patterns); err != nil {
			evalErr = err
		}
	}
	return results, evalErr
}

// missingLevels are the levels in named that are not among the levels
// given.
func (e *evaluator) missingLevels(named []string) []string {
	var missing []string
	for _, l := range named {
		if e.levels[l] == nil {
			missing = append(missing, l)
		}
	}
	return missing
}

// blockedByMissing: a condition naming a level that does not exist blocks
// access whatever else it says, even when it negates the test (IAM's
// "Access Level Condition Expression Rewrite Guide": any string outside
// the organization's levels is invalid, and such conditions block). A
// level merely not passed in looks the same, hence the assumption.
func (e *evaluator) blockedByMissing(name string, missing []string) judgement {
	out := certain(false, fmt.Sprintf("condition %s names %s, not among the access levels known to runguard; "+
		"IAP blocks access through a condition naming a level that does not exist", name, strings.Join(missing, " and ")))
	for _, l := range missing {
		out.assumed = append(out.assumed, l+" is not among the access levels given: taken not to exist, which blocks the condition naming it")
	}
	return out
}

// failedClause names the first top-level clause that fails for sure, or
// the whole condition when none does alone, with why each level it names
// is not satisfied.
func (e *evaluator) failedClause(clauses []string, name string) string {
	failing := joinClauses(clauses)
	for _, c := range clauses {
		if len(clauses) > 1 && e.expression(c, name).truth == isFalse {
			failing = c
			break
		}
	}
	var reasons []string
	if env, err := iamEnv(); err == nil {
		if parsed, iss := env.Parse(failing); iss.Err() == nil {
			for _, l := range namedLevels(parsed.NativeRep()) {
				if j := e.level(l); j.truth == isFalse {
					reasons = append(reasons, j.failed)
				}
			}
		}
	}
	if len(reasons) == 0 {
		return failing
	}
	return failing + " — " + strings.Join(reasons, "; ")
}

// iamVars are the request attributes IAP's conditions read:
// request.path, request.host, request.time and request.auth.access_levels
// (the full names of the levels the request satisfies).
func iamVars(req Request, satisfied []string) map[string]any {
	request := map[string]any{"auth": map[string]any{"access_levels": satisfied}}
	if req.Path != "" {
		request["path"] = req.Path
	}
	if req.Host != "" {
		request["host"] = req.Host
	}
	if !req.Time.IsZero() {
		request["time"] = req.Time
	}
	return map[string]any{"request": request, "resource": map[string]any{}}
}

// iamUnknowns marks unknown every attribute the expression reads that the
// request does not give: path, host or time left empty, resource.*
// (runguard does not model the IAP resource's attributes) and any other
// request attribute.
func iamUnknowns(chains [][]string, req Request) *unknownAttributes {
	u := &unknownAttributes{}
	given := map[string]bool{"path": req.Path != "", "host": req.Host != "", "time": !req.Time.IsZero()}
	phrases := map[string]string{"path": "the request's path", "host": "the request's host", "time": "the time of the request"}
	for _, c := range chains {
		switch {
		case c[0] == "resource" && len(c) >= 2:
			u.add([]string{"the IAP resource's " + c[1]}, c[:2]...)
		case c[0] != "request" || len(c) < 2:
		case phrases[c[1]] != "":
			if !given[c[1]] {
				u.add([]string{phrases[c[1]]}, c[:2]...)
			}
		case c[1] == "auth":
			if len(c) >= 3 && c[2] != "access_levels" {
				u.add([]string{"request.auth." + c[2]}, c[:3]...)
			}
		default:
			u.add([]string{"request." + c[1]}, c[:2]...)
		}
	}
	return u
}

// conjuncts splits expression at its top-level &&s and writes each operand
// back as CEL. When the time of the request is unknown it drops lower
// bounds on request.time at or before 1970-01-01: every request is later,
// and runguard writes such a clause into conditions that restrict nothing.
func conjuncts(expression string, timeKnown bool) ([]string, error) {
	env, err := iamEnv()
	if err != nil {
		return nil, err
	}
	if len(expression) > maxExpressionBytes {
		return nil, fmt.Errorf("longer than %d bytes", maxExpressionBytes)
	}
	parsed, iss := env.Parse(expression)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	tree := parsed.NativeRep()
	var out []string
	for _, c := range flatten(tree.Expr(), operators.LogicalAnd) {
		if !timeKnown && timeFloor(c) {
			continue
		}
		text, err := parser.Unparse(c, tree.SourceInfo())
		if err != nil {
			return nil, err
		}
		out = append(out, text)
	}
	return out, nil
}

// timeFloor recognizes request.time >= timestamp(T) (or >) with T no later
// than the Unix epoch.
func timeFloor(e ast.Expr) bool {
	at, op, ok := timeComparison(e)
	return ok && (op == operators.GreaterEquals || op == operators.Greater) && !at.After(time.Unix(0, 0))
}

// timeComparison reads request.time OP timestamp("RFC 3339").
func timeComparison(e ast.Expr) (time.Time, string, bool) {
	if e.Kind() != ast.CallKind || len(e.AsCall().Args()) != 2 || e.AsCall().IsMemberFunction() {
		return time.Time{}, "", false
	}
	call := e.AsCall()
	lhs, rhs := call.Args()[0], call.Args()[1]
	if !slices.Equal(selectChain(lhs), []string{"request", "time"}) || rhs.Kind() != ast.CallKind ||
		rhs.AsCall().FunctionName() != "timestamp" || len(rhs.AsCall().Args()) != 1 {
		return time.Time{}, "", false
	}
	s, ok := stringLiteral(rhs.AsCall().Args()[0])
	at, err := time.Parse(time.RFC3339Nano, s)
	return at, call.FunctionName(), ok && err == nil
}

// flatten lists the operands of a chain of op, in source order.
func flatten(e ast.Expr, op string) []ast.Expr {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == op && len(e.AsCall().Args()) == 2 {
		return append(flatten(e.AsCall().Args()[0], op), flatten(e.AsCall().Args()[1], op)...)
	}
	return []ast.Expr{e}
}

func joinClauses(clauses []string) string {
	if len(clauses) == 1 {
		return clauses[0]
	}
	return "(" + strings.Join(clauses, ") && (") + ")"
}

// fold is true or false when every combination agrees, unknown otherwise.
func fold(results []truth) truth {
	for _, r := range results[1:] {
		if r != results[0] {
			return isUnknown
		}
	}
	return results[0]
}

// matters reports whether flipping undecided level i changes the result
// under some combination of the others.
func matters(results []truth, i int) bool {
	for mask := range results {
		if mask&(1<<i) == 0 && results[mask] != results[mask|1<<i] {
			return true
		}
	}
	return false
}

func conditionName(b Binding) string {
	if b.Title != "" {
		return strconv.Quote(b.Title)
	}
	expression := strings.Join(strings.Fields(b.Condition), " ")
	if len(expression) > 80 {
		expression = expression[:77] + "…"
	}
	return "`" + expression + "`"
}

func cannotEvaluate(name string, err error) string {
	return fmt.Sprintf("what condition %s means: runguard cannot evaluate it (%v)", name, err)
}
