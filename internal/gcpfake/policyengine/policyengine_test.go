package policyengine

import (
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/google/cel-go/common"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestNormalizeMember_CanonicalFormsAndRejections(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"user:Alice@Example.com", "user:alice@example.com", true},
		{"serviceAccount:SA@p.iam.gserviceaccount.com", "serviceAccount:sa@p.iam.gserviceaccount.com", true},
		{"group:G@x.org", "group:g@x.org", true},
		{"domain:Example.COM", "domain:example.com", true},
		{"allUsers", "allUsers", true},
		{"principalSet://iam.googleapis.com/locations/global/workforcePools/P/*", "principalSet://iam.googleapis.com/locations/global/workforcePools/P/*", true},
		{"deleted:serviceAccount:Old@p.iam.gserviceaccount.com?uid=42", "deleted:serviceAccount:Old@p.iam.gserviceaccount.com?uid=42", true},
		{"allusers", "", false},
		{"serviceaccount:sa@p.iam.gserviceaccount.com", "", false},
		{"user:", "", false},
		{"user:a@b", "", false},
		{"domain:nodot", "", false},
		{"deleted:user:a@b.com", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		got, err := normalizeMember(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("normalizeMember(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && status.Code(err) != codes.InvalidArgument {
			t.Errorf("normalizeMember(%q): code %v", c.in, status.Code(err))
		}
	}
}

func TestCountLogicalOperators_CountsAndOrNot(t *testing.T) {
	for src, want := range map[string]int{
		"true":                  0,
		"a && b":                1,
		"a && b && c || d":      3,
		"!(a || b)":             2,
		"request.path == '/x'":  0,
		"!a && !b && !c && !d":  7,
		"(a || b) && (c || !d)": 4,
	} {
		tree, errs := celParser.Parse(common.NewTextSource(src))
		if errs != nil && len(errs.GetErrors()) > 0 {
			t.Fatalf("%s: %s", src, errs.ToDisplayString())
		}
		if got := countLogicalOperators(tree); got != want {
			t.Errorf("countLogicalOperators(%q) = %d, want %d", src, got, want)
		}
	}
}

func TestWithcondRole_IsStablePerConditionAndLooksLikeGoogles(t *testing.T) {
	a := withcondRole("roles/run.invoker", &expr.Expr{Title: "t", Expression: "true"})
	b := withcondRole("roles/run.invoker", &expr.Expr{Title: "t", Expression: "true"})
	c := withcondRole("roles/run.invoker", &expr.Expr{Title: "t", Expression: "false"})
	if a != b || a == c {
		t.Errorf("withcond roles: %q %q %q", a, b, c)
	}
	if !strings.HasPrefix(a, "roles/run.invoker_withcond_") || len(a) != len("roles/run.invoker_withcond_")+20 {
		t.Errorf("withcond role %q: want role + _withcond_ + 20 hex digits", a)
	}
}

func TestThousands_GroupsDigits(t *testing.T) {
	for n, want := range map[int]string{0: "0", 250: "250", 1500: "1,500", 1501: "1,501", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSet_EmptyEtagOfNeverSetPolicyIsAccepted(t *testing.T) {
	e := &Engine{}
	res, err := e.Set(nil, &iampb.SetIamPolicyRequest{Policy: &iampb.Policy{Etag: EmptyEtag, Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stored.Etag) == string(EmptyEtag) || res.Stored.Version != 1 {
		t.Errorf("stored = %v", res.Stored)
	}
	_, err = e.Set(res.Stored, &iampb.SetIamPolicyRequest{Policy: &iampb.Policy{Etag: EmptyEtag}})
	if status.Code(err) != codes.Aborted {
		t.Errorf("reusing ACAB after a write: %v, want ABORTED", err)
	}
}

func TestSet_RejectsInvalidVersionsAndRoles(t *testing.T) {
	e := &Engine{}
	for _, p := range []*iampb.Policy{
		{Version: 2},
		{Bindings: []*iampb.Binding{{Role: "run.invoker", Members: []string{"allUsers"}}}},
		{Bindings: []*iampb.Binding{{Role: "", Members: []string{"allUsers"}}}},
	} {
		if _, err := e.Set(nil, &iampb.SetIamPolicyRequest{Policy: p}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Set(%v) = %v, want INVALID_ARGUMENT", p, err)
		}
	}
	if _, err := e.Set(nil, &iampb.SetIamPolicyRequest{Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "projects/p/roles/custom", Members: []string{"allUsers"}}}}}); err != nil {
		t.Errorf("custom role: %v", err)
	}
}

func TestNewEtag_IsUniqueAndGoogleShaped(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		e := NewEtag()
		if len(e) != 8 || e[0] != 0x07 || seen[string(e)] {
			t.Fatalf("etag %x: want 8 fresh bytes starting 0x07", e)
		}
		seen[string(e)] = true
	}
}
