package testenv

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ConditionConstants reads api/v1alpha1/conditions.go: every Condition* value, every Reason*
// value, and the reasons of the block that needs a human (the Stalled ones).
func ConditionConstants(t testing.TB) (conditions, reasons, stalled []string) {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(RepoRoot(), "api", "v1alpha1", "conditions.go"), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range file.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		human := gd.Doc != nil && strings.Contains(gd.Doc.Text(), "need a human")
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				value, _ := strconv.Unquote(lit.Value)
				switch {
				case strings.HasPrefix(name.Name, "Condition"):
					conditions = append(conditions, value)
				case strings.HasPrefix(name.Name, "Reason"):
					reasons = append(reasons, value)
					if human {
						stalled = append(stalled, value)
					}
				}
			}
		}
	}
	if len(conditions) == 0 || len(reasons) == 0 || len(stalled) == 0 {
		t.Fatalf("read no conditions, reasons or Stalled reasons from conditions.go (%d, %d, %d)", len(conditions), len(reasons), len(stalled))
	}
	return conditions, reasons, stalled
}
