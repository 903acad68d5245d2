package iampolicy

import (
	"strings"
	"time"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/parser"
)

// DecompileCondition turns a condition expression back into the context that compiles to it:
// typed clauses (access levels, path prefixes, hosts, the time window) where the expression is
// what runguard's compiler writes for them, and the rest as a raw expression. It reports false
// when no context compiles to exactly this text (a condition written by hand in another form):
// callers keep it whole as a raw expression, which compiles to the same meaning but other text.
// It is the inverse the adoption tools need: exporting existing bindings as access groups that,
// applied, change nothing in Google.
func DecompileCondition(expression string) (Context, bool) {
	if expression == alwaysTrueExpression {
		return Context{}, true
	}
	parsed, errs := celParser.Parse(common.NewTextSource(expression))
	if len(errs.GetErrors()) > 0 {
		return Context{}, false
	}
	conjuncts := flatten(parsed.Expr(), operators.LogicalAnd)
	// The compiler writes the typed clauses first and a raw expression last, so try every split
	// between a typed head and a raw tail, the longest typed head first, and keep the first that
	// compiles back to the very same text.
	for rawFrom := len(conjuncts); rawFrom >= 0; rawFrom-- {
		c, ok := typedClauses(conjuncts[:rawFrom])
		if !ok {
			continue
		}
		if rawFrom < len(conjuncts) {
			raw, ok := unparseAll(conjuncts[rawFrom:], parsed.SourceInfo())
			if !ok {
				continue
			}
			c.Expression = raw
		}
		if compiled, _, err := compileExpression(AccessGroup{Name: "decompiled", Context: c}); err == nil && compiled == expression {
			return c, true
		}
	}
	return Context{}, false
}

// flatten lists the operands of a chain of op (cel-go balances long chains into a tree), in
// source order.
func flatten(e ast.Expr, op string) []ast.Expr {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == op && len(e.AsCall().Args()) == 2 {
		args := e.AsCall().Args()
		return append(flatten(args[0], op), flatten(args[1], op)...)
	}
	return []ast.Expr{e}
}

func unparseAll(es []ast.Expr, info *ast.SourceInfo) (string, bool) {
	parts := make([]string, len(es))
	for i, e := range es {
		s, err := parser.Unparse(e, info, parser.WrapOnOperators())
		if err != nil {
			return "", false
		}
		parts[i] = s
	}
	return strings.Join(parts, " && "), true
}

// typedClauses reads conjuncts as the compiler's typed clauses, in its order.
func typedClauses(conjuncts []ast.Expr) (Context, bool) {
	var c Context
	stage := 0 // 0 levels, 1 prefixes, 2 hosts, 3 notBefore, 4 notAfter
	for _, e := range conjuncts {
		switch {
		case stage <= 0 && accessLevelClause(e) != "":
			c.AccessLevels = append(c.AccessLevels, accessLevelClause(e))
		case stage <= 1 && c.PathPrefixes == nil && alternatives(e, pathPrefixClause) != nil:
			c.PathPrefixes, stage = alternatives(e, pathPrefixClause), 2
		case stage <= 2 && c.Hosts == nil && alternatives(e, hostClause) != nil:
			c.Hosts, stage = alternatives(e, hostClause), 3
		case stage <= 3 && timeClause(e, operators.GreaterEquals) != nil:
			c.NotBefore, stage = timeClause(e, operators.GreaterEquals), 4
		case stage <= 4 && timeClause(e, operators.Less) != nil:
			c.NotAfter, stage = timeClause(e, operators.Less), 5
		default:
			return Context{}, false
		}
	}
	return c, true
}

// alternatives reads an || chain whose every operand is one clause of a kind.
func alternatives(e ast.Expr, clause func(ast.Expr) string) []string {
	var out []string
	for _, alt := range flatten(e, operators.LogicalOr) {
		v := clause(alt)
		if v == "" {
			return nil
		}
		out = append(out, v)
	}
	return out
}

// accessLevelClause: "LEVEL" in request.auth.access_levels.
func accessLevelClause(e ast.Expr) string {
	if a, ok := binary(e, operators.In); ok && selectPath(a[1]) == "request.auth.access_levels" {
		return celString(a[0])
	}
	return ""
}

// pathPrefixClause: request.path.startsWith("PREFIX").
func pathPrefixClause(e ast.Expr) string {
	if e.Kind() != ast.CallKind {
		return ""
	}
	call := e.AsCall()
	if call.FunctionName() != "startsWith" || !call.IsMemberFunction() || len(call.Args()) != 1 || selectPath(call.Target()) != "request.path" {
		return ""
	}
	return celString(call.Args()[0])
}

// hostClause: request.host == "HOST".
func hostClause(e ast.Expr) string {
	if a, ok := binary(e, operators.Equals); ok && selectPath(a[0]) == "request.host" {
		return celString(a[1])
	}
	return ""
}

// timeClause: request.time OP timestamp("RFC 3339").
func timeClause(e ast.Expr, op string) *time.Time {
	a, ok := binary(e, op)
	if !ok || selectPath(a[0]) != "request.time" || a[1].Kind() != ast.CallKind {
		return nil
	}
	call := a[1].AsCall()
	if call.FunctionName() != "timestamp" || call.IsMemberFunction() || len(call.Args()) != 1 {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, celString(call.Args()[0]))
	if err != nil {
		return nil
	}
	return &t
}

func binary(e ast.Expr, op string) ([]ast.Expr, bool) {
	if e.Kind() != ast.CallKind || e.AsCall().FunctionName() != op || len(e.AsCall().Args()) != 2 {
		return nil, false
	}
	return e.AsCall().Args(), true
}

// selectPath spells a chain of field selections ("request.auth.access_levels"), "" otherwise.
func selectPath(e ast.Expr) string {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent()
	case ast.SelectKind:
		if e.AsSelect().IsTestOnly() {
			return ""
		}
		if head := selectPath(e.AsSelect().Operand()); head != "" {
			return head + "." + e.AsSelect().FieldName()
		}
	}
	return ""
}

func celString(e ast.Expr) string {
	if e.Kind() != ast.LiteralKind {
		return ""
	}
	if s, ok := e.AsLiteral().(types.String); ok {
		return string(s)
	}
	return ""
}
