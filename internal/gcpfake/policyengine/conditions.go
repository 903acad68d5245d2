package policyengine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/parser"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
)

// Limits from IAM's quotas page.
const (
	MaxPrincipals               = 1500
	MaxGroups                   = 250
	MaxConditionalPerRoleMember = 20
	MaxLogicalOperators         = 12
	MaxConditionTitle           = 100
)

var celParser = func() *parser.Parser {
	p, err := parser.NewParser(parser.Macros(parser.AllMacros...))
	if err != nil {
		panic(err)
	}
	return p
}()

// validateCondition checks what IAM checks on write: a title, an
// expression that parses as CEL, and no more than 12 logical operators.
func validateCondition(c *expr.Expr) error {
	if strings.TrimSpace(c.GetTitle()) == "" {
		return apierr.BadRequest("Condition title is required.", apierr.FieldViolation{Field: "policy.bindings.condition.title", Description: "required"})
	}
	if n := utf8.RuneCountInString(c.GetTitle()); n > MaxConditionTitle {
		return apierr.BadRequest(fmt.Sprintf("Condition title is %d characters long; the maximum is %d.", n, MaxConditionTitle),
			apierr.FieldViolation{Field: "policy.bindings.condition.title", Description: "too long"})
	}
	if strings.TrimSpace(c.GetExpression()) == "" {
		return apierr.BadRequest("Condition expression is required.", apierr.FieldViolation{Field: "policy.bindings.condition.expression", Description: "required"})
	}
	tree, errs := celParser.Parse(common.NewTextSource(c.GetExpression()))
	if errs != nil && len(errs.GetErrors()) > 0 {
		return apierr.BadRequest(fmt.Sprintf("Condition expression %q does not parse: %s", c.GetExpression(), errs.ToDisplayString()),
			apierr.FieldViolation{Field: "policy.bindings.condition.expression", Description: "invalid CEL"})
	}
	if n := countLogicalOperators(tree); n > MaxLogicalOperators {
		return apierr.New(codes.InvalidArgument, fmt.Sprintf("The condition expression %q has %d logical operators; the maximum is %d.", c.GetExpression(), n, MaxLogicalOperators))
	}
	return nil
}

func countLogicalOperators(tree *ast.AST) int {
	n := 0
	ast.PostOrderVisit(tree.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		switch call.FunctionName() {
		case operators.LogicalAnd, operators.LogicalOr:
			// The parser may build a chain as one variadic call.
			n += len(call.Args()) - 1
		case operators.LogicalNot:
			n++
		}
	}))
	return n
}

// withcondRole is the role name a version-1 read shows for a conditional
// binding: the role, "_withcond_", and a hash of the condition.
func withcondRole(role string, c *expr.Expr) string {
	h := sha256.Sum256([]byte(role + "\x00" + c.GetExpression() + "\x00" + c.GetTitle() + "\x00" + c.GetDescription() + "\x00" + c.GetLocation()))
	return role + "_withcond_" + hex.EncodeToString(h[:])[:20]
}

func conditionKey(c *expr.Expr) string {
	if c == nil {
		return ""
	}
	return c.GetExpression() + "\x00" + c.GetTitle() + "\x00" + c.GetDescription() + "\x00" + c.GetLocation()
}
