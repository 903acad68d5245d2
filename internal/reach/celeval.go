package reach

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	// getHours("Europe/Berlin") and the other time-zone functions of IAM
	// conditions need the zone database wherever the binary runs.
	_ "time/tzdata"
)

// Limits that keep one evaluation small whatever the expression: IAM allows
// 12 logical operators per condition, so real conditions are far below.
const (
	maxExpressionBytes = 16 << 10
	maxEvalCost        = 1 << 20
)

// iamEnv evaluates IAM conditions. Expressions are parsed, not
// type-checked: IAM's attribute set is not a CEL environment that can be
// declared faithfully (see iampolicy.ValidateGroups), so attributes are
// dynamic maps and CEL's standard functions are dispatched at run time.
var iamEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("request", cel.DynType),
		cel.Variable("resource", cel.DynType),
		cel.ParserExpressionSizeLimit(maxExpressionBytes),
	)
})

// program parses expression in env and plans it for partial evaluation:
// attributes marked unknown evaluate to CEL unknowns, which && and ||
// absorb exactly as three-valued logic does.
func program(env *cel.Env, expression string) (*cel.Ast, cel.Program, error) {
	if len(expression) > maxExpressionBytes {
		return nil, nil, fmt.Errorf("the expression is longer than %d bytes", maxExpressionBytes)
	}
	parsed, iss := env.Parse(expression)
	if iss.Err() != nil {
		return nil, nil, iss.Err()
	}
	prg, err := env.Program(parsed, cel.EvalOptions(cel.OptPartialEval), cel.CostLimit(maxEvalCost))
	if err != nil {
		return parsed, nil, err
	}
	return parsed, prg, nil
}

// evalTruth runs prg over vars, the attributes matched by unknowns being
// unknown.
func evalTruth(prg cel.Program, vars map[string]any, unknowns []*cel.AttributePatternType) (truth, error) {
	act, err := cel.PartialVars(vars, unknowns...)
	if err != nil {
		return isUnknown, err
	}
	out, _, err := prg.Eval(act)
	if err != nil {
		return isUnknown, err
	}
	switch v := out.(type) {
	case types.Bool:
		if v {
			return isTrue, nil
		}
		return isFalse, nil
	case *types.Unknown:
		return isUnknown, nil
	}
	return isUnknown, errors.New("the expression does not evaluate to a bool")
}

// selectChains lists every chain of field selections in tree, from its root
// variable: request.auth.access_levels gives [request auth access_levels]
// and [request auth]. Index expressions end a chain.
func selectChains(tree *ast.AST) [][]string {
	var chains [][]string
	ast.PostOrderVisit(tree.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() == ast.SelectKind {
			if chain := selectChain(e); chain != nil {
				chains = append(chains, chain)
			}
		}
	}))
	return chains
}

// selectChain is the chain e selects, or nil when e is not a chain of
// field selections on a variable.
func selectChain(e ast.Expr) []string {
	switch e.Kind() {
	case ast.IdentKind:
		return []string{e.AsIdent()}
	case ast.SelectKind:
		if head := selectChain(e.AsSelect().Operand()); head != nil {
			return append(head, e.AsSelect().FieldName())
		}
	}
	return nil
}

// levelNamePattern matches the full name of an access level.
var levelNamePattern = regexp.MustCompile(`^accessPolicies/[^/]+/accessLevels/[^/]+$`)

// namedLevels lists, in order of appearance and without repeats, the
// string literals in tree that are full access level names. A condition
// can only test a level by naming it.
func namedLevels(tree *ast.AST) []string {
	var names []string
	ast.PreOrderVisit(tree.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if s, ok := stringLiteral(e); ok && levelNamePattern.MatchString(s) {
			names = appendNew(names, s)
		}
	}))
	return names
}

// callsFunction reports whether tree calls function name.
func callsFunction(tree *ast.AST, name string) bool {
	found := false
	ast.PostOrderVisit(tree.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		found = found || (e.Kind() == ast.CallKind && e.AsCall().FunctionName() == name)
	}))
	return found
}

func stringLiteral(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// unknownValue is what a function returns when its answer depends on facts
// runguard does not have.
func unknownValue(...ref.Val) ref.Val { return types.NewUnknown(0, nil) }

// unknownAttributes are the attributes an evaluation must treat as unknown,
// with what each would take to decide.
type unknownAttributes struct {
	patterns []*cel.AttributePatternType
	paths    []string
	depends  []string
}

// add marks the attribute at path (a variable and its fields) unknown.
func (u *unknownAttributes) add(depends []string, path ...string) {
	if key := strings.Join(path, "."); !slices.Contains(u.paths, key) {
		u.paths = append(u.paths, key)
		pattern := cel.AttributePattern(path[0])
		for _, field := range path[1:] {
			pattern = pattern.QualString(field)
		}
		u.patterns = append(u.patterns, pattern)
	}
	u.depends = appendNew(u.depends, depends...)
}
