package iampolicy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/debug"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/parser"
)

func TestCompileCondition_Expressions(t *testing.T) {
	tests := []struct {
		name    string
		context Context
		want    string
	}{
		{
			name:    "no context is always true",
			context: Context{},
			want:    `request.time >= timestamp("1970-01-01T00:00:00Z")`,
		},
		{
			name:    "access levels are ANDed in declared order, duplicates dropped",
			context: Context{AccessLevels: []string{"accessPolicies/1/accessLevels/mfa", "accessPolicies/1/accessLevels/corp", "accessPolicies/1/accessLevels/mfa"}},
			want:    `"accessPolicies/1/accessLevels/mfa" in request.auth.access_levels && "accessPolicies/1/accessLevels/corp" in request.auth.access_levels`,
		},
		{
			name:    "one path prefix needs no parentheses",
			context: Context{PathPrefixes: []string{"/admin/"}},
			want:    `request.path.startsWith("/admin/")`,
		},
		{
			name:    "path prefixes are ORed",
			context: Context{PathPrefixes: []string{"/b/", "/a/", "/b/"}},
			want:    `(request.path.startsWith("/b/") || request.path.startsWith("/a/"))`,
		},
		{
			name:    "hosts are ORed",
			context: Context{Hosts: []string{"a.example.com", "b.example.com"}},
			want:    `(request.host == "a.example.com" || request.host == "b.example.com")`,
		},
		{
			name:    "time window in UTC",
			context: Context{NotBefore: timeRef("2024-01-01T01:00:00+01:00"), NotAfter: timeRef("2025-06-30T12:30:00+02:00")},
			want:    `request.time >= timestamp("2024-01-01T00:00:00Z") && request.time < timestamp("2025-06-30T10:30:00Z")`,
		},
		{
			name:    "raw expression is parenthesized",
			context: Context{Expression: "  request.path != \"/x\" || request.host == \"y\"  "},
			want:    `(request.path != "/x" || request.host == "y")`,
		},
		{
			name:    "a raw expression is written without its comment",
			context: Context{Expression: `request.host == "y" // only y`},
			want:    `(request.host == "y")`,
		},
		{
			name: "all clauses in fixed order",
			context: Context{
				Expression:   `request.path.endsWith(".json")`,
				NotAfter:     timeRef("2030-01-01T00:00:00Z"),
				Hosts:        []string{"a.example.com"},
				PathPrefixes: []string{"/api/"},
				AccessLevels: []string{"accessPolicies/1/accessLevels/corp"},
			},
			want: `"accessPolicies/1/accessLevels/corp" in request.auth.access_levels && request.path.startsWith("/api/") && request.host == "a.example.com" && request.time < timestamp("2030-01-01T00:00:00Z") && (request.path.endsWith(".json"))`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCondition(t, ownerA, AccessGroup{Name: "g", Context: tt.context})
			if c.Expression != tt.want {
				t.Fatalf("expression\n got: %s\nwant: %s", c.Expression, tt.want)
			}
			if c.Title != "runguard:g" || c.Description != "managed-by=runguard cluster=prod-eu1 namespace=team-a name=api" {
				t.Fatalf("title %q description %q", c.Title, c.Description)
			}
			mustParseCEL(t, c.Expression)
		})
	}
}

func TestCompileCondition_IsDeterministic(t *testing.T) {
	g := AccessGroup{Name: "g", Context: Context{
		AccessLevels: []string{"accessPolicies/1/accessLevels/a", "accessPolicies/1/accessLevels/b"},
		PathPrefixes: []string{"/x", "/y"}, Hosts: []string{"h1", "h2"},
		NotBefore: timeRef("2024-01-01T00:00:00Z"), Expression: "request.host != \"z\"",
	}}
	first := mustCondition(t, ownerA, g)
	for range 50 {
		if got := mustCondition(t, ownerA, g); got.String() != first.String() {
			t.Fatalf("compile is not deterministic: %v vs %v", got, first)
		}
	}
}

var hostileStrings = []string{
	`") || true || ("`,
	`" || true || "`,
	`\") || true || (\"`,
	`\`,
	`\\`,
	`"`,
	"line\nbreak",
	"carriage\rreturn",
	"nul\x00byte",
	"tab\tand\vvertical",
	"unicode\u2028separator\u2029",
	"zero\u200bwidth",
	"emoji 🛡️ \U0001F600",
	`'''`,
	`"""`,
	"`backtick`",
	`// comment`,
	`/* not a comment */`,
	`\u0022) || true || (\u0022`,
	`\x22`,
	`${request.host}`,
	`a" in request.auth.access_levels || "b`,
}

func TestCompileCondition_HostileStringsStayStringLiterals(t *testing.T) {
	for _, h := range hostileStrings {
		t.Run(h, func(t *testing.T) {
			g := AccessGroup{Name: "g", Context: Context{Hosts: []string{h}, PathPrefixes: []string{"/" + h}}}
			c := mustCondition(t, ownerA, g)
			assertTypedStructure(t, c.Expression, g)
		})
	}
}

func TestCompileCondition_RawExpressionCannotEscapeItsParentheses(t *testing.T) {
	attempts := []struct {
		raw    string
		accept bool // a complete CEL expression on its own
	}{
		{`true) || (true`, false},
		{`true)) || ((true`, false},
		{`true // ) || true`, true},
		{"true // comment\n) || (true", false},
		{`true /* */ ) || (true`, false},
		{`request.host == "a") || request.host != ("a"`, false},
		{"true\n", true},
		{`"a" // "`, true},
		{`request.path == "//x" // trailing`, true},
		{`[1, 2].size() == 2`, true},
		{`a || b`, true},
	}
	for _, tt := range attempts {
		t.Run(tt.raw, func(t *testing.T) {
			g := AccessGroup{Name: "g", Context: Context{Hosts: []string{"h"}, Expression: tt.raw}}
			c, err := CompileCondition(ownerA, g)
			if !tt.accept {
				var ice *InvalidConditionError
				if !errors.As(err, &ice) {
					t.Fatalf("want *InvalidConditionError, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			assertRawStructure(t, c.Expression, `request.host == "h"`, tt.raw)
		})
	}
}

func TestCompileCondition_WritesTheCanonicalExpressionNotTheRawText(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"a trailing comment is dropped", `request.host == "y" // only y`, `(request.host == "y")`},
		{"a comment that mentions a parenthesis is dropped", `true // ) || true`, `(true)`},
		{
			"comment lines, line breaks and tabs are dropped",
			"// office only\nrequest.host == 'a' ||\n\trequest.host == 'b' // or b\n",
			`(request.host == "a" || request.host == "b")`,
		},
		{"spacing and redundant parentheses are normalised", `((request.host=="a"))&&request.path!="/b"`, `(request.host == "a" && request.path != "/b")`},
		{"single-quoted, triple-quoted and raw strings become double-quoted", `request.path == r'\d' + '''x'''`, `(request.path == "\\d" + "x")`},
		{"an invisible character in a literal is written as an escape", "request.host == 'a\u200bb'", `(request.host == "a\u200bb")`},
		{"a hexadecimal number is written in decimal", `request.time.getHours("UTC") < 0x14`, `(request.time.getHours("UTC") < 20)`},
		{"a double negation is written as the parser reads it", `!!(request.host == "a")`, `(request.host == "a")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCondition(t, ownerA, AccessGroup{Name: "g", Context: Context{Expression: tt.raw}})
			if c.Expression != tt.want {
				t.Fatalf("expression\n got: %s\nwant: %s", c.Expression, tt.want)
			}
		})
	}
}

// The CEL language definition ends a // comment at \r\n, \r or \n; cel-go
// ends it only at \n. Were the raw text written, a parser following the
// definition would read the first condition as (host && false) || (true).
func TestCompileCondition_ACommentCannotSwallowTheClosingParenthesis(t *testing.T) {
	attacks := []struct {
		raw, wantReason string
	}{
		{"false // note\r) || (true", "U+000D"},
		{"false // note\r\n) || (true", "U+000D"},
		{"false // note\u2028) || (true", "U+2028"},
		{"false // note\u2029) || (true", "U+2029"},
		{"false // note\u0085) || (true", "U+0085"},
		{"false // note\n) || (true", "does not parse as CEL"},
	}
	for _, tt := range attacks {
		t.Run(tt.raw, func(t *testing.T) {
			_, err := CompileCondition(ownerA, AccessGroup{Name: "g", Context: Context{Hosts: []string{"h"}, Expression: tt.raw}})
			var ice *InvalidConditionError
			if !errors.As(err, &ice) {
				t.Fatalf("want *InvalidConditionError, got %v", err)
			}
			if !strings.Contains(ice.Reason, tt.wantReason) {
				t.Fatalf("reason %q does not mention %q", ice.Reason, tt.wantReason)
			}
		})
	}

	t.Run("a comment ended by a newline is dropped and the clause stays one operand", func(t *testing.T) {
		raw := "false // note\n"
		c := mustCondition(t, ownerA, AccessGroup{Name: "g", Context: Context{Hosts: []string{"h"}, Expression: raw}})
		if want := `request.host == "h" && (false)`; c.Expression != want {
			t.Fatalf("expression\n got: %q\nwant: %q", c.Expression, want)
		}
		assertRawStructure(t, c.Expression, `request.host == "h"`, raw)
	})
}

func TestCompileCondition_RejectsControlCharactersAndLineSeparatorsInTheExpression(t *testing.T) {
	for _, r := range []rune{'\r', '\u2028', '\u2029', '\u0085', 0, '\v', '\f', '\x1b', '\x7f', '\u009f'} {
		for _, raw := range []string{
			"true " + string(r) + " && true",
			`request.host == "a` + string(r) + `b"`,
		} {
			t.Run(fmt.Sprintf("%q", raw), func(t *testing.T) {
				err := ValidateGroups([]AccessGroup{{Name: "g", Context: Context{Expression: raw}}})
				var ice *InvalidConditionError
				if !errors.As(err, &ice) {
					t.Fatalf("want *InvalidConditionError, got %v", err)
				}
				if want := fmt.Sprintf("%U", r); !strings.Contains(ice.Reason, want) || !strings.Contains(ice.Reason, "where a // comment ends") {
					t.Fatalf("reason %q does not name %s and say why", ice.Reason, want)
				}
			})
		}
	}

	t.Run("newlines and tabs are allowed", func(t *testing.T) {
		c := mustCondition(t, ownerA, AccessGroup{Name: "g", Context: Context{Expression: "request.host == \"a\" &&\n\trequest.path == \"/b\"\n"}})
		if want := `(request.host == "a" && request.path == "/b")`; c.Expression != want {
			t.Fatalf("expression\n got: %q\nwant: %q", c.Expression, want)
		}
	})
}

// The printer quotes strings with Go's strconv.Quote, so Go's escapes and
// CEL's must agree for every literal, and the printer must keep structure.
func TestCanonicalExpression_ReparsesToTheSameASTAndPrintsTheSameAgain(t *testing.T) {
	exprs := []string{
		`request.host == "a" // comment`,
		"// leading comment\nrequest.path.startsWith('/x') ||\n\t!(request.host in ['a', 'b'])",
		`request.time.getHours("Europe/Berlin") < 20 && request.time.getDayOfWeek("Europe/Berlin") < 5`,
		`request.path == '\x00\a\b\f\n\r\t\v\\\'\"\u2028\u0085\u00a0\U0001F600 é'`,
		"request.path == \"\"\"multi\nline\"\"\" + r'\\d+' + '''x'''",
		`b'\xff\x00' == b"\377\000"`,
		`a ? b : c ? d : e`, `(a ? b : c) ? d : e`, `(a || b) && (c || !d)`, `a - (b - c)`, `a - b - c`,
		`-9223372036854775808 < 18446744073709551615u + 1.5e-7 - 1e21 * -0.0`, `x.y{z: 1}.z`, `{"k": [1, 2]}["k"][0]`,
		"a.`b-c` == .d.e", `has(request.auth.claims.email)`, `request.auth.claims.groups.exists(g, g == "x")`,
		`"//" + request.path == "//x" // and a comment`,
	}
	for _, raw := range exprs {
		t.Run(raw, func(t *testing.T) {
			canonical, _, err := canonicalizeExpression(raw)
			if err != nil {
				t.Fatal(err)
			}
			again := mustParseCEL(t, canonical)
			if got, want := debug.ToDebugString(again.Expr()), debug.ToDebugString(mustParseCEL(t, raw).Expr()); got != want {
				t.Fatalf("canonical form %s parses to\n%s\nwant\n%s", canonical, got, want)
			}
			if printed := unparse(t, again); printed != canonical {
				t.Fatalf("not a fixed point: %s prints as %s", canonical, printed)
			}
			if r, _, found := ambiguousExpressionRune(canonical); found || strings.Contains(canonical, "\n") {
				t.Fatalf("canonical form %q contains %U or a newline", canonical, r)
			}
		})
	}
}

func TestCompileCondition_RejectsExpressionsWhoseCanonicalFormWouldParseDifferently(t *testing.T) {
	for _, raw := range []string{`(!a).b`, `(-a).b`, `(-a)[0]`, `(!a).f()`, `-(1) < a`} {
		t.Run(raw, func(t *testing.T) {
			err := ValidateGroups([]AccessGroup{{Name: "g", Context: Context{Expression: raw}}})
			var ice *InvalidConditionError
			if !errors.As(err, &ice) || !strings.Contains(ice.Reason, "would parse differently") {
				t.Fatalf("want an *InvalidConditionError saying the canonical form would parse differently, got %v", err)
			}
		})
	}
}

func TestCompileCondition_MarkerFitsIAMForLongestRealisticNames(t *testing.T) {
	label := strings.Repeat("a", 63)
	owner := Owner{Cluster: label, Namespace: label, Name: label}
	c := mustCondition(t, owner, AccessGroup{Name: strings.Repeat("g", 63)})
	if len(c.Title) > MaxTitleLength || len(c.Description) > MaxDescriptionLength {
		t.Fatalf("title %d bytes (max %d), description %d bytes (max %d)", len(c.Title), MaxTitleLength, len(c.Description), MaxDescriptionLength)
	}
	if m, ok := ParseMarker(c); !ok || m.Owner != owner {
		t.Fatalf("ParseMarker = %v, %v", m, ok)
	}
}

func TestValidateGroups(t *testing.T) {
	twelveOps := "a && b && c && d && e && f && g && h && i && j && k && l && m" // 12 &&
	tests := []struct {
		name       string
		groups     []AccessGroup
		wantGroup  string
		wantReason string // "" means valid
	}{
		{name: "valid", groups: []AccessGroup{admins, devs}},
		{name: "no groups", groups: nil},
		{name: "CEL that does not parse", groups: []AccessGroup{{Name: "g", Context: Context{Expression: "request.path.startsWith("}}}, wantGroup: "g", wantReason: "does not parse as CEL"},
		{name: "raw expression with 12 operators alone", groups: []AccessGroup{{Name: "g", Context: Context{Expression: twelveOps}}}},
		{name: "13 operators once ANDed with a typed clause", groups: []AccessGroup{{Name: "g", Context: Context{Hosts: []string{"h"}, Expression: twelveOps}}}, wantGroup: "g", wantReason: "13 logical operators"},
		{name: "negation and or count", groups: []AccessGroup{{Name: "g", Context: Context{Expression: "!a || !b || !c || !d || !e || !f || !g"}}}, wantGroup: "g", wantReason: "13 logical operators"},
		{name: "operators inside string literals do not count", groups: []AccessGroup{{Name: "g", Context: Context{Expression: `request.host == "&&||!&&||!&&||!&&||!&&||!"`}}}},
		{
			name: "typed clauses at exactly 12 operators (7 + 4 + 1)",
			groups: []AccessGroup{{Name: "g", Context: Context{
				PathPrefixes: []string{"/1", "/2", "/3", "/4", "/5", "/6", "/7", "/8"},
				Hosts:        []string{"a", "b", "c", "d", "e"},
			}}},
		},
		{
			name: "typed clauses over the limit",
			groups: []AccessGroup{{Name: "g", Context: Context{
				PathPrefixes: []string{"/1", "/2", "/3", "/4", "/5", "/6", "/7", "/8"},
				Hosts:        []string{"a", "b", "c", "d", "e", "f"},
			}}},
			wantGroup: "g", wantReason: "13 logical operators",
		},
		{name: "title over 100 characters", groups: []AccessGroup{{Name: strings.Repeat("x", 92)}}, wantGroup: strings.Repeat("x", 92), wantReason: "is 101 bytes; IAM allows 100"},
		{name: "title of exactly 100 characters", groups: []AccessGroup{{Name: strings.Repeat("x", 91)}}},
		{name: "unnamed group", groups: []AccessGroup{{}}, wantReason: "no name"},
		{name: "duplicate names", groups: []AccessGroup{admins, admins}, wantGroup: "admins", wantReason: "more than one access group"},
		{name: "allUsers", groups: []AccessGroup{{Name: "g", Members: []string{"allUsers"}}}, wantGroup: "g", wantReason: "allUsers cannot be granted with a condition"},
		{name: "allAuthenticatedUsers", groups: []AccessGroup{{Name: "g", Members: []string{"allAuthenticatedUsers"}}}, wantGroup: "g", wantReason: "allAuthenticatedUsers"},
		{name: "empty member", groups: []AccessGroup{{Name: "g", Members: []string{" "}}}, wantGroup: "g", wantReason: "member is empty"},
		{name: "malformed access level", groups: []AccessGroup{{Name: "g", Context: Context{AccessLevels: []string{`accessPolicies/1/accessLevels/x" || true || "`}}}}, wantGroup: "g", wantReason: "not of the form"},
		{name: "access level by short name", groups: []AccessGroup{{Name: "g", Context: Context{AccessLevels: []string{"corp"}}}}, wantGroup: "g", wantReason: "not of the form"},
		{name: "path prefix without slash", groups: []AccessGroup{{Name: "g", Context: Context{PathPrefixes: []string{"admin"}}}}, wantGroup: "g", wantReason: `must start with "/"`},
		{name: "empty host", groups: []AccessGroup{{Name: "g", Context: Context{Hosts: []string{""}}}}, wantGroup: "g", wantReason: "host is empty"},
		{name: "host not UTF-8", groups: []AccessGroup{{Name: "g", Context: Context{Hosts: []string{"\xff"}}}}, wantGroup: "g", wantReason: "not valid UTF-8"},
		{name: "empty time window", groups: []AccessGroup{{Name: "g", Context: Context{NotBefore: timeRef("2025-01-01T00:00:00Z"), NotAfter: timeRef("2025-01-01T00:00:00Z")}}}, wantGroup: "g", wantReason: "must be earlier than notAfter"},
		{name: "timestamp out of CEL range", groups: []AccessGroup{{Name: "g", Context: Context{NotAfter: func() *time.Time { x := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC); return &x }()}}}, wantGroup: "g", wantReason: "between years 0001 and 9999"},
		{name: "name with control characters", groups: []AccessGroup{{Name: "a\nb"}}, wantGroup: "a\nb", wantReason: "control characters"},
		{name: "expression with a carriage return", groups: []AccessGroup{{Name: "g", Context: Context{Expression: "true // x\r|| false"}}}, wantGroup: "g", wantReason: "contains U+000D at byte 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateGroups(tt.groups)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ice *InvalidConditionError
			if !errors.As(err, &ice) {
				t.Fatalf("want *InvalidConditionError, got %v", err)
			}
			if ice.Group != tt.wantGroup || !strings.Contains(ice.Reason, tt.wantReason) {
				t.Fatalf("got group %q reason %q; want group %q reason containing %q", ice.Group, ice.Reason, tt.wantGroup, tt.wantReason)
			}
			if !strings.Contains(ice.Error(), tt.wantReason) {
				t.Fatalf("Error() %q does not say what to fix", ice.Error())
			}
		})
	}
}

func TestValidateGroups_ReportsEveryInvalidGroup(t *testing.T) {
	err := ValidateGroups([]AccessGroup{
		{Name: "a", Context: Context{Expression: "("}},
		admins,
		{Name: "b", Members: []string{"allUsers"}},
	})
	if err == nil || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("want errors for a and b, got %v", err)
	}
	if !IsInvalidCondition(err) {
		t.Fatal("IsInvalidCondition = false")
	}
}

func TestCompileCondition_CountsOperatorsLikeTheParsedAST(t *testing.T) {
	exprs := []string{
		"a && b", "a || b && c", "!a", "!(a && b) || c", `"&&" == request.host`,
		"[a && b, c || d].size() > 0", "a ? b && c : d", "!!a",
	}
	for _, e := range exprs {
		_, ops, err := compileExpression(AccessGroup{Name: "g", Context: Context{Hosts: []string{"h"}, Expression: e}})
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		full, _, _ := compileExpression(AccessGroup{Name: "g", Context: Context{Hosts: []string{"h"}, Expression: e}})
		if want := countLogicalOperators(mustParseCEL(t, full).Expr()); ops != want {
			t.Fatalf("%s: counted %d, AST has %d", e, ops, want)
		}
	}
}

// --- AST helpers ---

var testParser = func() *parser.Parser {
	p, err := parser.NewParser()
	if err != nil {
		panic(err)
	}
	return p
}()

func mustParseCEL(t testing.TB, s string) *ast.AST {
	t.Helper()
	a, errs := testParser.Parse(common.NewTextSource(s))
	if len(errs.GetErrors()) > 0 {
		t.Fatalf("compiled expression does not parse: %s\n%s", errs.ToDisplayString(), s)
	}
	return a
}

func conjuncts(e ast.Expr) []ast.Expr {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		args := e.AsCall().Args()
		return append(conjuncts(args[0]), conjuncts(args[1])...)
	}
	return []ast.Expr{e}
}

func disjuncts(e ast.Expr) []ast.Expr {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalOr {
		args := e.AsCall().Args()
		return append(disjuncts(args[0]), disjuncts(args[1])...)
	}
	return []ast.Expr{e}
}

func isSelect(e ast.Expr, operand, field string) bool {
	if e.Kind() != ast.SelectKind || e.AsSelect().FieldName() != field {
		return false
	}
	op := e.AsSelect().Operand()
	return op.Kind() == ast.IdentKind && op.AsIdent() == operand
}

func stringLiteral(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// assertTypedStructure checks that a compiled expression for a group with
// path prefixes and hosts (and nothing else) is exactly
// AND(OR(request.path.startsWith(lit)...), OR(request.host == lit...)),
// with every user string surviving as one literal.
func assertTypedStructure(t testing.TB, expression string, g AccessGroup) {
	t.Helper()
	a := mustParseCEL(t, expression)
	if n := countLogicalOperators(a.Expr()); n != len(dedupe(g.Context.PathPrefixes))-1+len(dedupe(g.Context.Hosts))-1+1 {
		t.Fatalf("unexpected operator count %d in %s", n, expression)
	}
	top := conjuncts(a.Expr())
	if len(top) != 2 {
		t.Fatalf("want 2 top-level clauses, got %d: %s", len(top), expression)
	}
	paths := disjuncts(top[0])
	for i, p := range dedupe(g.Context.PathPrefixes) {
		c := paths[i]
		if c.Kind() != ast.CallKind || c.AsCall().FunctionName() != "startsWith" || !isSelect(c.AsCall().Target(), "request", "path") || len(c.AsCall().Args()) != 1 {
			t.Fatalf("path clause %d has the wrong shape: %s", i, expression)
		}
		if lit, ok := stringLiteral(c.AsCall().Args()[0]); !ok || lit != p {
			t.Fatalf("path literal %q, want %q", lit, p)
		}
	}
	hosts := disjuncts(top[1])
	for i, h := range dedupe(g.Context.Hosts) {
		c := hosts[i]
		if c.Kind() != ast.CallKind || c.AsCall().FunctionName() != operators.Equals || !isSelect(c.AsCall().Args()[0], "request", "host") {
			t.Fatalf("host clause %d has the wrong shape: %s", i, expression)
		}
		if lit, ok := stringLiteral(c.AsCall().Args()[1]); !ok || lit != h {
			t.Fatalf("host literal %q, want %q", lit, h)
		}
	}
}

// assertRawStructure checks that compiled is exactly typed && (canonical
// form of raw), and that parsing it yields typed's conjuncts followed by
// raw's, so raw stayed one operand. The canonical form must be one line
// without control characters: a // comment in it would then have swallowed
// the closing parenthesis, whatever a parser takes to end a comment.
func assertRawStructure(t testing.TB, compiled, typed, raw string) {
	t.Helper()
	rawAST := mustParseCEL(t, strings.TrimSpace(raw))
	canon := unparse(t, rawAST)
	if r, _, found := ambiguousExpressionRune(canon); found || strings.Contains(canon, "\n") {
		t.Fatalf("canonical form %q contains %U or a newline", canon, r)
	}
	if want := typed + " && (" + canon + ")"; compiled != want {
		t.Fatalf("written expression is not the canonical form\n got: %q\nwant: %q", compiled, want)
	}
	var want []string
	for _, e := range append(conjuncts(mustParseCEL(t, typed).Expr()), conjuncts(rawAST.Expr())...) {
		want = append(want, debug.ToDebugString(e))
	}
	var got []string
	for _, e := range conjuncts(mustParseCEL(t, compiled).Expr()) {
		got = append(got, debug.ToDebugString(e))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("structure changed\n got: %q\nwant: %q", got, want)
	}
}

func unparse(t testing.TB, a *ast.AST) string {
	t.Helper()
	out, err := parser.Unparse(a.Expr(), a.SourceInfo(), parser.WrapOnOperators())
	if err != nil {
		t.Fatal(err)
	}
	return out
}
