package iampolicy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/debug"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/parser"
	"google.golang.org/genproto/googleapis/type/expr"
)

// MaxLogicalOperators is IAM's limit on &&, || and ! in one condition
// expression ("Logic operators in a binding's condition expression: 12",
// IAM quotas and limits page).
const MaxLogicalOperators = 12

// alwaysTrueExpression is the condition of a group without context.
// runguard needs a conditional binding even then, because the condition's
// title and description are where the ownership marker lives. request.time
// is a date/time attribute every service that accepts conditions
// evaluates, IAP included, and every request is later than 1970.
const alwaysTrueExpression = `request.time >= timestamp("1970-01-01T00:00:00Z")`

// accessLevelPattern is the full name IAP expects in request.auth.access_levels.
var accessLevelPattern = regexp.MustCompile(`^accessPolicies/[0-9]+/accessLevels/[A-Za-z][A-Za-z0-9_]{0,49}$`)

// CEL's timestamp() accepts years 0001 through 9999.
var (
	minTimestamp = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTimestamp = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// CompileCondition compiles g into the condition runguard writes for owner:
// title "runguard:<group>", description naming owner, and the expression.
// The result depends only on its arguments.
func CompileCondition(owner Owner, g AccessGroup) (*expr.Expr, error) {
	if err := validateGroupName(g.Name); err != nil {
		return nil, err
	}
	if err := ValidateOwner(owner); err != nil {
		return nil, &InvalidConditionError{Group: g.Name, Reason: err.Error()}
	}
	expression, _, err := compileExpression(g)
	if err != nil {
		return nil, err
	}
	return &expr.Expr{
		Expression:  expression,
		Title:       markerTitle(g.Name),
		Description: markerDescription(owner),
	}, nil
}

// ValidateGroups checks everything about the groups that can be checked
// before reading any policy: names (non-empty, unique, title within 100
// characters), members IAM refuses in a conditional binding, clause
// syntax, the raw CEL expression (no character parsers disagree on; it
// must parse, and its canonical form must parse back to the same AST; it
// is not type-checked, because IAM's attribute set is not a CEL
// environment we could declare faithfully) and the logical-operator limit
// counted on the parsed expression. All problems are returned, joined;
// each is an *InvalidConditionError.
func ValidateGroups(groups []AccessGroup) error {
	_, err := compileGroups(groups)
	return err
}

// compileGroups validates groups and returns their compiled expressions,
// index-aligned with groups.
func compileGroups(groups []AccessGroup) ([]string, error) {
	var errs []error
	expressions := make([]string, len(groups))
	seen := make(map[string]bool, len(groups))
	for i, g := range groups {
		if err := validateGroupName(g.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[g.Name] {
			errs = append(errs, &InvalidConditionError{Group: g.Name, Reason: "the name is used by more than one access group; names must be unique"})
			continue
		}
		seen[g.Name] = true
		if err := validateMembers(g); err != nil {
			errs = append(errs, err)
		}
		expression, _, err := compileExpression(g)
		if err != nil {
			errs = append(errs, err)
		}
		expressions[i] = expression
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return expressions, nil
}

func validateGroupName(name string) error {
	switch {
	case name == "":
		return &InvalidConditionError{Group: name, Reason: "the access group has no name"}
	case !utf8.ValidString(name):
		return &InvalidConditionError{Group: name, Reason: "the name is not valid UTF-8"}
	case strings.TrimSpace(name) != name:
		return &InvalidConditionError{Group: name, Reason: "the name has leading or trailing white space"}
	case strings.ContainsFunc(name, unicode.IsControl):
		return &InvalidConditionError{Group: name, Reason: "the name contains control characters"}
	case len(markerTitle(name)) > MaxTitleLength:
		return &InvalidConditionError{Group: name, Reason: fmt.Sprintf(
			"the condition title %q is %d bytes; IAM allows %d, so the name may be at most %d",
			markerTitle(name), len(markerTitle(name)), MaxTitleLength, MaxTitleLength-len(TitlePrefix))}
	}
	return nil
}

// validateMembers rejects members IAM refuses in any conditional binding
// ("you cannot use conditions when you grant roles to allUsers or
// allAuthenticatedUsers", IAM Conditions overview). runguard's bindings are
// always conditional.
func validateMembers(g AccessGroup) error {
	for _, m := range g.Members {
		switch {
		case strings.TrimSpace(m) == "":
			return &InvalidConditionError{Group: g.Name, Reason: "a member is empty"}
		case m == "allUsers" || m == "allAuthenticatedUsers":
			return &InvalidConditionError{Group: g.Name, Reason: fmt.Sprintf(
				"member %s cannot be granted with a condition, and every runguard binding is conditional; list principals instead", m)}
		}
	}
	return nil
}

// compileExpression builds the CEL text for g's context. Clause order is
// fixed: access levels, path prefixes, hosts, not-before, not-after, raw
// expression. Every user string enters as a quoted CEL literal and the raw
// expression as its canonical form, so no input can change the structure.
// It also returns the number of logical operators the expression contains.
func compileExpression(g AccessGroup) (string, int, error) {
	c := g.Context
	invalid := func(format string, args ...any) error {
		return &InvalidConditionError{Group: g.Name, Reason: fmt.Sprintf(format, args...)}
	}
	var clauses []string
	ops := 0

	for _, level := range dedupe(c.AccessLevels) {
		if !accessLevelPattern.MatchString(level) {
			return "", 0, invalid("access level %q is not of the form accessPolicies/NUMBER/accessLevels/NAME", level)
		}
		clauses = append(clauses, quoteCEL(level)+" in request.auth.access_levels")
	}

	if prefixes := dedupe(c.PathPrefixes); len(prefixes) > 0 {
		alts := make([]string, len(prefixes))
		for i, p := range prefixes {
			if !utf8.ValidString(p) {
				return "", 0, invalid("path prefix %q is not valid UTF-8", p)
			}
			if !strings.HasPrefix(p, "/") {
				return "", 0, invalid("path prefix %q must start with \"/\"", p)
			}
			alts[i] = "request.path.startsWith(" + quoteCEL(p) + ")"
		}
		clauses = append(clauses, orGroup(alts))
		ops += len(alts) - 1
	}

	if hosts := dedupe(c.Hosts); len(hosts) > 0 {
		alts := make([]string, len(hosts))
		for i, h := range hosts {
			if h == "" {
				return "", 0, invalid("a host is empty")
			}
			if !utf8.ValidString(h) {
				return "", 0, invalid("host %q is not valid UTF-8", h)
			}
			alts[i] = "request.host == " + quoteCEL(h)
		}
		clauses = append(clauses, orGroup(alts))
		ops += len(alts) - 1
	}

	if c.NotBefore != nil && c.NotAfter != nil && !c.NotBefore.Before(*c.NotAfter) {
		return "", 0, invalid("notBefore (%s) must be earlier than notAfter (%s); otherwise the group never has access",
			formatTimestamp(*c.NotBefore), formatTimestamp(*c.NotAfter))
	}
	for _, t := range [...]struct {
		name, op string
		at       *time.Time
	}{{"notBefore", ">=", c.NotBefore}, {"notAfter", "<", c.NotAfter}} {
		if t.at == nil {
			continue
		}
		if t.at.Before(minTimestamp) || t.at.After(maxTimestamp) {
			return "", 0, invalid("%s must lie between years 0001 and 9999", t.name)
		}
		clauses = append(clauses, "request.time "+t.op+" timestamp("+quoteCEL(formatTimestamp(*t.at))+")")
	}

	if r, at, found := ambiguousExpressionRune(c.Expression); found {
		return "", 0, invalid("expression contains %U at byte %d; carriage returns, Unicode line and paragraph separators, NUL and other control characters (newline and tab aside) are not allowed: CEL implementations disagree on where a // comment ends, so such a character could change the meaning of the condition",
			r, at)
	}
	if raw := strings.TrimSpace(c.Expression); raw != "" {
		canonical, rawOps, err := canonicalizeExpression(raw)
		if err != nil {
			return "", 0, invalid("%v", err)
		}
		ops += rawOps
		clauses = append(clauses, "("+canonical+")")
	}

	if len(clauses) == 0 {
		return alwaysTrueExpression, 0, nil
	}
	ops += len(clauses) - 1
	if ops > MaxLogicalOperators {
		return "", 0, invalid("the condition would contain %d logical operators (&&, ||, !); IAM allows %d. Use fewer path prefixes, hosts or access levels, or simplify the expression",
			ops, MaxLogicalOperators)
	}
	return strings.Join(clauses, " && "), ops, nil
}

// ambiguousExpressionRune finds the first character the CRD also rejects
// in an expression. cel-go ends a // comment only at \n, the CEL language
// definition also at \r, and many lexers at U+2028, U+2029 or U+0085, so
// text cel-go validated could mean something else to the next parser.
func ambiguousExpressionRune(s string) (rune, int, bool) {
	for i, r := range s {
		if r == '\u2028' || r == '\u2029' || (unicode.IsControl(r) && r != '\n' && r != '\t') {
			return r, i, true
		}
	}
	return 0, 0, false
}

func orGroup(alts []string) string {
	if len(alts) == 1 {
		return alts[0]
	}
	return "(" + strings.Join(alts, " || ") + ")"
}

// dedupe keeps the first occurrence of each value in declared order.
func dedupe(in []string) []string {
	if len(in) < 2 {
		return in
	}
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func formatTimestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// quoteCEL renders s as a double-quoted CEL string literal. Backslash and
// quote are escaped, and so is every character that is not printable
// (newlines, NUL, U+2028, zero-width characters), so the literal is one
// line and shows what it matches. Callers pass valid UTF-8 only.
func quoteCEL(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case r == utf8.RuneError:
				b.WriteString(`\uFFFD`)
			case unicode.IsPrint(r):
				b.WriteRune(r)
			case r <= 0xFFFF:
				fmt.Fprintf(&b, `\u%04X`, r)
			default:
				fmt.Fprintf(&b, `\U%08X`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// celParser parses without macros so the AST mirrors the text as written
// (exists()/all() would otherwise expand into hidden && and ||).
var celParser = func() *parser.Parser {
	p, err := parser.NewParser()
	if err != nil {
		panic(err)
	}
	return p
}()

// The ANTLR-based parser costs a few hundred microseconds per expression,
// and a controller re-plans the same expressions on every reconcile, so
// results are cached by raw text. The cache is bounded and its content is
// a pure function of the key, so it cannot change any result.
var rawCache = struct {
	sync.Mutex
	m map[string]rawResult
}{m: map[string]rawResult{}}

const rawCacheSize = 1024

type rawResult struct {
	canonical string
	ops       int
	err       string
}

// canonicalizeExpression parses a user's CEL expression and returns its
// canonical form and the number of logical operators it contains.
func canonicalizeExpression(raw string) (string, int, error) {
	rawCache.Lock()
	r, ok := rawCache.m[raw]
	rawCache.Unlock()
	if !ok {
		r = canonicalizeUncached(raw)
		rawCache.Lock()
		if len(rawCache.m) >= rawCacheSize {
			clear(rawCache.m)
		}
		rawCache.m[raw] = r
		rawCache.Unlock()
	}
	if r.err != "" {
		return "", 0, errors.New(r.err)
	}
	return r.canonical, r.ops, nil
}

// canonicalizeUncached returns the canonical form of raw: its parsed AST
// printed back by cel-go's unparser. That, not the user's text, is what
// Google receives, so comments and the user's line breaks never reach a
// parser that might read them differently from cel-go.
func canonicalizeUncached(raw string) rawResult {
	if !utf8.ValidString(raw) {
		return rawResult{err: "expression does not parse as CEL: not valid UTF-8"}
	}
	parsed, errs := celParser.Parse(common.NewTextSource(raw))
	if len(errs.GetErrors()) > 0 {
		return rawResult{err: "expression does not parse as CEL: " + strings.TrimSpace(errs.ToDisplayString())}
	}
	// With no operators to wrap on, the unparser never breaks the line.
	canonical, err := parser.Unparse(parsed.Expr(), parsed.SourceInfo(), parser.WrapOnOperators())
	if err != nil {
		return rawResult{err: fmt.Sprintf("expression cannot be written in canonical form: %v", err)}
	}
	// The unparser drops some parentheses it needs ((!a).b becomes !a.b,
	// -(1) becomes the literal -1), so its output is used only when it
	// parses back to the very AST that was validated.
	reparsed, errs := celParser.Parse(common.NewTextSource(canonical))
	if len(errs.GetErrors()) > 0 || debug.ToDebugString(reparsed.Expr()) != debug.ToDebugString(parsed.Expr()) {
		return rawResult{err: fmt.Sprintf(
			"runguard writes expressions in canonical form, and the canonical form of this one, %s, would parse differently; rewrite the part that applies a field, index or method to a negation, or that negates a parenthesized number",
			canonical)}
	}
	return rawResult{canonical: canonical, ops: countLogicalOperators(parsed.Expr())}
}

// countLogicalOperators counts &&, || and ! calls in a parsed expression.
func countLogicalOperators(e ast.Expr) int {
	n := 0
	ast.PostOrderVisit(e, ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		switch e.AsCall().FunctionName() {
		case operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot:
			n++
		}
	}))
	return n
}
