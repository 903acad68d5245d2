package reach

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
)

// The three-valued logic itself: what an undecided level may and may not
// change, and the cap on enumeration.
func TestEvaluate_UndecidedLevels(t *testing.T) {
	t.Run("an undecided level does not matter when another alternative holds", func(t *testing.T) {
		got := evaluateOne(inLevel(levelCorp)+` || request.path.startsWith("/public/")`, Request{Member: alice, Path: "/public/x"})
		wantVerdict(t, got, Allow)
	})
	t.Run("it decides when no alternative holds", func(t *testing.T) {
		got := evaluateOne(inLevel(levelCorp)+` || request.path.startsWith("/public/")`, Request{Member: alice, Path: "/x"})
		wantVerdict(t, got, Depends)
		wantMention(t, got.Depends, levelCorp)
	})
	t.Run("a condition true whichever way a level goes is true", func(t *testing.T) {
		got := evaluateOne(inLevel(levelCorp)+` || !(`+inLevel(levelCorp)+`)`, Request{Member: alice})
		wantVerdict(t, got, Allow)
	})
	t.Run("depends names only the levels that decide", func(t *testing.T) {
		got := evaluateOne(`(`+inLevel(levelCorp)+` || `+inLevel(levelGermany)+`) && `+inLevel(levelManaged),
			Request{Member: alice, Device: map[string]string{DeviceScreenLock: "true", DeviceEncryption: "ENCRYPTED"}})
		wantVerdict(t, got, Depends)
		wantMention(t, got.Depends, levelCorp, levelGermany)
		if strings.Contains(strings.Join(got.Depends, "\n"), levelManaged) {
			t.Errorf("Depends %q names %s, which is satisfied", got.Depends, levelManaged)
		}
	})
	t.Run("too many undecided levels are not enumerated", func(t *testing.T) {
		levels := maps.Clone(testLevels)
		var clauses []string
		for i := range maxOpenLevels + 1 {
			name := fmt.Sprintf("accessPolicies/1/accessLevels/net%d", i)
			levels[name] = basicLevel(accesscontextmanagerpb.BasicLevel_AND,
				&accesscontextmanagerpb.Condition{IpSubnetworks: []string{fmt.Sprintf("10.%d.0.0/16", i)}})
			clauses = append(clauses, inLevel(name))
		}
		got := Evaluate([]Binding{grant(accessor, strings.Join(clauses, " || "), alice)}, RoleCarrier(nil), levels, Request{Member: alice})
		wantVerdict(t, got, Depends)
		wantMention(t, got.Depends, fmt.Sprintf("which of %d undecided access levels", maxOpenLevels+1))
	})
}

// Answers at the edges: cycles, federated identities, bindings that might
// apply, the closest binding of a DENY, expressions runguard cannot run.
func TestEvaluate_EdgeAnswers(t *testing.T) {
	t.Run("levels that require each other are not satisfied", func(t *testing.T) {
		a, b := "accessPolicies/1/accessLevels/a", "accessPolicies/1/accessLevels/b"
		levels := map[string]*accesscontextmanagerpb.AccessLevel{
			a: basicLevel(accesscontextmanagerpb.BasicLevel_AND, &accesscontextmanagerpb.Condition{RequiredAccessLevels: []string{b}}),
			b: basicLevel(accesscontextmanagerpb.BasicLevel_AND, &accesscontextmanagerpb.Condition{RequiredAccessLevels: []string{a}}),
		}
		got := Evaluate([]Binding{grant(accessor, inLevel(a), alice)}, RoleCarrier(nil), levels, Request{Member: alice})
		wantVerdict(t, got, Deny)
		wantMention(t, []string{got.Failed}, "requires itself")
	})
	t.Run("a federated identity under allAuthenticatedUsers is undecided", func(t *testing.T) {
		who := "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/s"
		got := Evaluate([]Binding{grant(accessor, "", "allAuthenticatedUsers")}, RoleCarrier(nil), nil, Request{Member: who})
		wantVerdict(t, got, Depends)
		wantMention(t, got.Depends, "counts as allAuthenticatedUsers")
	})
	t.Run("a binding that might apply keeps the answer from DENY", func(t *testing.T) {
		got := Evaluate([]Binding{grant(accessor, `request.path == "/x"`, alice), grant(accessor, "", finance)},
			RoleCarrier(nil), nil, Request{Member: alice, Path: "/y"})
		wantVerdict(t, got, Depends)
		wantMention(t, got.Depends, "is in "+finance)
	})
	t.Run("DENY names the closest binding and the clause that failed", func(t *testing.T) {
		got := Evaluate([]Binding{grant("roles/viewer", "", alice), grant(accessor, `request.host == "a.acme.com" && request.path.startsWith("/r/")`, alice)},
			RoleCarrier(nil), nil, Request{Member: alice, Host: "a.acme.com", Path: "/x"})
		wantVerdict(t, got, Deny)
		if got.Binding == nil || got.Binding.Role != accessor || got.Failed != `request.path.startsWith("/r/")` {
			t.Errorf("closest binding %+v, failed %q", got.Binding, got.Failed)
		}
	})
	t.Run("what runguard cannot evaluate is undecided, not denied", func(t *testing.T) {
		got := evaluateOne(`request.path.startsWith(1)`, Request{Member: alice, Path: "/x"})
		wantVerdict(t, got, Depends)
		wantMention(t, got.Depends, "runguard cannot evaluate it")
	})
	t.Run("no carries function grants nothing", func(t *testing.T) {
		got := Evaluate([]Binding{grant(accessor, "", alice)}, nil, nil, Request{Member: alice})
		wantVerdict(t, got, Deny)
	})
}

func evaluateOne(condition string, req Request) Answer {
	return Evaluate([]Binding{grant(accessor, condition, alice)}, RoleCarrier(nil), testLevels, req)
}

func wantVerdict(t *testing.T, got Answer, want Verdict) {
	t.Helper()
	if got.Verdict != want {
		t.Fatalf("verdict %s, want %s; answer %+v", got.Verdict, want, got)
	}
}

func wantMention(t *testing.T, list []string, wants ...string) {
	t.Helper()
	joined := strings.Join(list, "\n")
	for _, w := range wants {
		if !strings.Contains(joined, w) {
			t.Errorf("%q does not mention %q", list, w)
		}
	}
}
