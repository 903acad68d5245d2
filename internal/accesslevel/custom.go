package accesslevel

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
)

// maxCELListLength is ACM's "Maximum CEL list length: 200" for custom
// access levels (https://cloud.google.com/access-context-manager/quotas).
const maxCELListLength = 200

var customLevelEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts, err := customLevelEnvOptions()
	if err != nil {
		return nil, err
	}
	return cel.NewEnv(opts...)
})

// ValidateCustom compiles expression against the attributes, functions,
// constants and macros ACM documents for custom access levels (see
// celenv.go for each one's source) and requires a bool result. On failure
// the error carries the CEL parser's or checker's own message, with its
// position, for the controller's InvalidExpression condition. An attribute
// the documentation does not name is an error. CEL's standard functions
// (size, startsWith, timestamp, ...) are all accepted; ACM documents only
// some of them, and which others it accepts is unknown.
func ValidateCustom(expression string) error {
	if strings.TrimSpace(expression) == "" {
		return errors.New(`the custom expression is empty; write a CEL expression such as device.is_corp_owned_device == true`)
	}
	env, err := customLevelEnv()
	if err != nil {
		return fmt.Errorf("declare the custom access level environment: %w", err)
	}
	checked, iss := env.Compile(expression)
	if iss.Err() != nil {
		return fmt.Errorf("the custom expression does not compile: %s", iss.Err())
	}
	if out := checked.OutputType(); !out.IsExactType(cel.BoolType) {
		return fmt.Errorf("the custom expression evaluates to %s; ACM requires a bool (compare the value, e.g. == true)", out)
	}
	return checkCustomShape(checked.NativeRep())
}

// checkCustomShape rejects what type-checks but ACM would not take: list
// literals longer than ACM allows, and constructed attribute objects (an
// expression reads the request; it never builds one).
func checkCustomShape(tree *ast.AST) error {
	var errs []error
	ast.PostOrderVisit(tree.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.ListKind:
			if n := len(e.AsList().Elements()); n > maxCELListLength {
				errs = append(errs, fmt.Errorf("the custom expression has a list of %d items; ACM allows at most %d", n, maxCELListLength))
			}
		case ast.StructKind:
			errs = append(errs, fmt.Errorf("the custom expression constructs a %s; it may only read request attributes", e.AsStruct().TypeName()))
		}
	}))
	return errors.Join(errs...)
}
