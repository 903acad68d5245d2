package reach

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/parser"
)

// DescribeCondition words an IAM condition for who-can output, one phrase
// per top-level clause: `"accessPolicies/1/accessLevels/corp_network" in
// request.auth.access_levels && request.path.startsWith("/reports/") &&
// request.time < timestamp("2027-01-01T00:00:00Z")` reads "from
// corp_network, on paths /reports/*, until 2027-01-01". Clauses it has no
// words for are given as CEL. An empty condition, or one that only says
// the request is later than 1970 (what runguard writes when a group has no
// context), reads "always".
func DescribeCondition(expression string) string {
	text := strings.TrimSpace(expression)
	if text == "" {
		return "always"
	}
	env, err := iamEnv()
	if err != nil || len(text) > maxExpressionBytes {
		return text
	}
	parsed, iss := env.Parse(text)
	if iss.Err() != nil {
		return text
	}
	tree := parsed.NativeRep()
	var phrases []string
	for _, clause := range flatten(tree.Expr(), operators.LogicalAnd) {
		if !timeFloor(clause) {
			phrases = append(phrases, describeClause(clause, tree.SourceInfo()))
		}
	}
	if len(phrases) == 0 {
		return "always"
	}
	return strings.Join(phrases, ", ")
}

// describeClause words an || of clauses of one kind as one phrase ("on
// paths /a/* or /b/*"), anything else as its CEL text.
func describeClause(e ast.Expr, info *ast.SourceInfo) string {
	alternatives := flatten(e, operators.LogicalOr)
	head := ""
	items := make([]string, 0, len(alternatives))
	for i, alt := range alternatives {
		h, item, ok := clauseWords(alt)
		if !ok || (i > 0 && h != head) {
			text, err := parser.Unparse(e, info)
			if err != nil {
				return "an expression runguard cannot print"
			}
			return text
		}
		head = h
		items = append(items, item)
	}
	return strings.TrimSpace(head + " " + strings.Join(items, " or "))
}

// clauseWords splits one recognized clause into a head shared by clauses
// of its kind and the item that differs: ("on paths", "/reports/*").
func clauseWords(e ast.Expr) (string, string, bool) {
	if level, ok := levelTest(e); ok {
		return "from", shortName(level), true
	}
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalNot && len(e.AsCall().Args()) == 1 {
		if level, ok := levelTest(e.AsCall().Args()[0]); ok {
			return "not from", shortName(level), true
		}
	}
	if at, op, ok := timeComparison(e); ok && timeWords(op) != "" {
		return timeWords(op), describeTime(at), true
	}
	if e.Kind() != ast.CallKind || len(e.AsCall().Args()) == 0 {
		return "", "", false
	}
	call := e.AsCall()
	args := call.Args()
	subject, value := args[0], args[len(args)-1]
	if call.IsMemberFunction() {
		subject = call.Target()
	}
	s, ok := stringLiteral(value)
	if !ok {
		return hourWords(e)
	}
	switch strings.Join(selectChain(subject), ".") + " " + call.FunctionName() {
	case "request.path startsWith":
		return "on paths", s + "*", true
	case "request.path " + operators.Equals:
		return "on path", s, true
	case "request.host " + operators.Equals:
		return "on host", s, true
	case "request.host endsWith":
		return "on hosts", "*" + s, true
	}
	return "", "", false
}

// levelTest reads "LEVEL" in request.auth.access_levels.
func levelTest(e ast.Expr) (string, bool) {
	if e.Kind() != ast.CallKind || e.AsCall().FunctionName() != operators.In || len(e.AsCall().Args()) != 2 {
		return "", false
	}
	args := e.AsCall().Args()
	level, ok := stringLiteral(args[0])
	return level, ok && strings.Join(selectChain(args[1]), ".") == "request.auth.access_levels"
}

// hourWords reads request.time.getHours("ZONE") OP N.
func hourWords(e ast.Expr) (string, string, bool) {
	call := e.AsCall()
	if len(call.Args()) != 2 || call.IsMemberFunction() {
		return "", "", false
	}
	lhs, rhs := call.Args()[0], call.Args()[1]
	if lhs.Kind() != ast.CallKind || rhs.Kind() != ast.LiteralKind || lhs.AsCall().FunctionName() != "getHours" ||
		!lhs.AsCall().IsMemberFunction() || strings.Join(selectChain(lhs.AsCall().Target()), ".") != "request.time" {
		return "", "", false
	}
	zone := "UTC"
	if args := lhs.AsCall().Args(); len(args) == 1 {
		if z, ok := stringLiteral(args[0]); ok {
			zone = z
		}
	}
	hour, ok := rhs.AsLiteral().Value().(int64)
	var words string
	switch call.FunctionName() {
	case operators.GreaterEquals:
		words = fmt.Sprintf("from %02d:00", hour)
	case operators.Greater:
		words = fmt.Sprintf("from %02d:00", hour+1)
	case operators.Less:
		words = fmt.Sprintf("before %02d:00", hour)
	case operators.LessEquals:
		words = fmt.Sprintf("before %02d:00", hour+1)
	case operators.Equals:
		words = fmt.Sprintf("between %02d:00 and %02d:00", hour, hour+1)
	}
	if !ok || words == "" {
		return "", "", false
	}
	return "", words + " " + zone, true
}

func timeWords(op string) string {
	switch op {
	case operators.GreaterEquals:
		return "since"
	case operators.Greater:
		return "after"
	case operators.Less:
		return "until"
	case operators.LessEquals:
		return "through"
	}
	return ""
}

// describeTime writes midnight UTC as a date, anything else in RFC 3339.
func describeTime(t time.Time) string {
	if t.Equal(t.Truncate(24*time.Hour)) && t.Location() == time.UTC {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// shortName is the last segment of a full access level name, which is how
// people name levels when they speak of them.
func shortName(fullName string) string {
	return fullName[strings.LastIndexByte(fullName, '/')+1:]
}
