package controllers

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

func TestProjectAllowed(t *testing.T) {
	target := iapv1alpha1.ServiceRef{Project: "acme-prod", Location: "us-central1", Name: "svc-billing"}
	for _, tc := range []struct {
		annotation string
		want       bool
	}{
		{"", false},
		{"acme-prod", true},
		{"other-proj,acme-prod", true},
		{"  other-proj ,  acme-prod  ", true},
		{"acme-prod/us-central1", true},
		{"acme-prod/europe-west1", false},
		{"acme-prod/us-central1/svc-*", true},
		{"acme-prod/us-central1/*", true},
		{"acme-prod/us-central1/svc-billing", true},
		{"acme-prod/us-central1/api-*", false},
		{"acme-prod/europe-west1/*", false},
		{"acme", false},        // a prefix of the project is another project
		{"acme-prod-2", false}, // and so is an extension of it
		{"*", false},           // projects are named, not globbed (--allow-any-project exists)
		{"acme-*", false},
		{"acme-prod/us-central*", false},
		{"acme-prod/us-central1/svc-?illing", false}, // only * is special
		{"acme-prod/us-central1/svc-billing/extra", false},
		{"other-proj/us-central1/svc-billing", false},
		{",,", false},
	} {
		if got := projectAllowed(tc.annotation, target); got != tc.want {
			t.Errorf("projectAllowed(%q, %s) = %v, want %v", tc.annotation, target, got, tc.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything/with@chars:and.dots", true},
		{"svc-*", "svc-", true},
		{"svc-*", "svc-billing", true},
		{"svc-*", "xsvc-billing", false},
		{"svc-*", "svc", false},
		{"*-prod", "acme-prod", true},
		{"*-prod", "acme-prod-eu", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "a-b-c", true},
		{"a*b*c", "a-c-b", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"a.b", "a.b", true},
		{"a.b", "axb", false}, // regexp metacharacters are literal
		{"a+", "aa", false},
		{"(x)", "(x)", true},
		{"[a-z]", "a", false},
		{"?", "a", false},
		{"*@acme.com", "user:alice@acme.com", true},
		{"*@acme.com", "user:alice@acme.com.evil.example", false},
		{"*@acme.com", "user:alice@notacme.com", false},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func groups(members ...string) []iapv1alpha1.AccessGroup {
	g := iapv1alpha1.AccessGroup{Name: "g"}
	for _, m := range members {
		g.Members = append(g.Members, iapv1alpha1.Member(m))
	}
	return []iapv1alpha1.AccessGroup{g}
}

func TestDisallowedMembers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		annotation string
		members    []string
		want       []string
	}{
		{"no annotation admits everyone", "", []string{"user:eve@evil.example", "domain:evil.example"}, nil},
		{"kindless pattern admits emails of every kind", "*@acme.com",
			[]string{"user:alice@acme.com", "group:eng@acme.com", "serviceAccount:ci@acme.com"}, nil},
		{"kindless pattern refuses other domains", "*@acme.com",
			[]string{"user:alice@acme.com", "user:eve@evil.example", "group:eng@acme.com.evil.example", "serviceAccount:ci@acme-prod.iam.gserviceaccount.com"},
			[]string{"user:eve@evil.example", "group:eng@acme.com.evil.example", "serviceAccount:ci@acme-prod.iam.gserviceaccount.com"}},
		{"kind pattern admits that kind only", "group:*@acme.com",
			[]string{"group:eng@acme.com", "user:alice@acme.com", "serviceAccount:x@acme.com", "group:x@evil.example"},
			[]string{"user:alice@acme.com", "serviceAccount:x@acme.com", "group:x@evil.example"}},
		{"several patterns, spaces trimmed", " group:*@acme.com , user:alice@acme.com ",
			[]string{"group:eng@acme.com", "user:alice@acme.com", "user:bob@acme.com"},
			[]string{"user:bob@acme.com"}},
		{"case-insensitive", "*@ACME.com", []string{"User:Alice@Acme.COM"}, nil},
		{"a domain pattern admits the domain member", "acme.com", []string{"domain:acme.com", "domain:evil.example"}, []string{"domain:evil.example"}},
		{"exact email without kind", "alice@acme.com", []string{"user:alice@acme.com", "group:alice@acme.com", "user:bob@acme.com"}, []string{"user:bob@acme.com"}},
		{"workforce principal by full pattern", "principal://iam.googleapis.com/locations/global/workforcePools/acme/*",
			[]string{"principal://iam.googleapis.com/locations/global/workforcePools/acme/subject/alice",
				"principal://iam.googleapis.com/locations/global/workforcePools/other/subject/alice"},
			[]string{"principal://iam.googleapis.com/locations/global/workforcePools/other/subject/alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := disallowedMembers(tc.annotation, groups(tc.members...))
			if !slices.Equal(got, tc.want) {
				t.Errorf("disallowedMembers(%q, %v) = %v, want %v", tc.annotation, tc.members, got, tc.want)
			}
		})
	}
}

func TestDisallowedMembers_ListsAcrossGroupsInOrder(t *testing.T) {
	gs := []iapv1alpha1.AccessGroup{
		{Name: "a", Members: []iapv1alpha1.Member{"user:x@evil.example", "user:alice@acme.com"}},
		{Name: "b", Members: []iapv1alpha1.Member{"user:bob@acme.com", "group:y@evil.example"}},
	}
	want := []string{"user:x@evil.example", "group:y@evil.example"}
	if got := disallowedMembers("*@acme.com", gs); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A pattern without a kind matches "the email or domain" of a member (tenancy.go), and the code
// deliberately does not compare it with the identity of principal:// members. Yet the pattern is
// also matched against the whole member string, where the leading * swallows the pool: a
// workforce subject from ANY pool whose subject merely ends in @acme.com passes "*@acme.com".
func TestDisallowedMembers_KindlessEmailPatternDoesNotAdmitWorkforceSubjectsOfAnyPool(t *testing.T) {
	foreign := []string{
		"principal://iam.googleapis.com/locations/global/workforcePools/attacker-pool/subject/ceo@acme.com",
		"principalSet://iam.googleapis.com/locations/global/workforcePools/attacker-pool/group/admins@acme.com",
	}
	if got := disallowedMembers("*@acme.com", groups(foreign...)); !slices.Equal(got, foreign) {
		t.Errorf("allowed-members \"*@acme.com\" admits workforce identities of an arbitrary pool: disallowed = %v, want %v", got, foreign)
	}
}

// Workforce and workload identifiers are case-sensitive: an allow-list entry for group/admins
// must not admit group/ADMINS, a different principal. Email kinds stay case-insensitive.
func TestDisallowedMembers_PrincipalIdentifiersCompareExactly(t *testing.T) {
	pool := "principalSet://iam.googleapis.com/locations/global/workforcePools/acme-pool/group/"
	for _, tc := range []struct {
		annotation string
		members    []string
		want       []string
	}{
		{pool + "admins", []string{pool + "admins", pool + "ADMINS", pool + "Admins"}, []string{pool + "ADMINS", pool + "Admins"}},
		{pool + "*", []string{pool + "anything"}, nil},
		{strings.ToUpper(pool) + "admins", []string{pool + "admins"}, []string{pool + "admins"}},
		{"group:*@ACME.com", []string{"Group:Eng@acme.COM"}, nil},
	} {
		if got := disallowedMembers(tc.annotation, groups(tc.members...)); !slices.Equal(got, tc.want) {
			t.Errorf("disallowedMembers(%q, %v) = %v, want %v", tc.annotation, tc.members, got, tc.want)
		}
	}
}

func TestClaimHolder(t *testing.T) {
	at := func(sec int) metav1.Time { return metav1.NewTime(time.Date(2026, 1, 1, 0, 0, sec, 0, time.UTC)) }
	obj := func(ns, name string, created metav1.Time) iapv1alpha1.ProtectedService {
		return iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: created}}
	}
	bound := func(ps iapv1alpha1.ProtectedService) iapv1alpha1.ProtectedService {
		ps.Status.ManagedBindings = []iapv1alpha1.ManagedBinding{{Group: "devs", Role: "roles/iap.httpsResourceAccessor", ConditionTitle: "runguard:devs"}}
		return ps
	}
	if claimHolder(nil) != nil {
		t.Error("claimHolder(nil) != nil")
	}
	for _, tc := range []struct {
		name  string
		items []iapv1alpha1.ProtectedService
		want  string
	}{
		{"single", []iapv1alpha1.ProtectedService{obj("a", "x", at(5))}, "a/x"},
		{"oldest wins whatever the order", []iapv1alpha1.ProtectedService{obj("a", "x", at(9)), obj("z", "z", at(1)), obj("m", "m", at(5))}, "z/z"},
		{"same second: namespace first", []iapv1alpha1.ProtectedService{obj("team-b", "a", at(3)), obj("team-a", "z", at(3))}, "team-a/z"},
		{"same second and namespace: name", []iapv1alpha1.ProtectedService{obj("team", "b", at(3)), obj("team", "a", at(3))}, "team/a"},
		{"older beats a smaller namespace", []iapv1alpha1.ProtectedService{obj("a", "a", at(4)), obj("b", "b", at(3))}, "b/b"},
		{"same second: the one that bound access keeps it", []iapv1alpha1.ProtectedService{obj("team-a", "x", at(3)), bound(obj("team-b", "x", at(3)))}, "team-b/x"},
		{"bound beats older (sticky)", []iapv1alpha1.ProtectedService{obj("a", "x", at(1)), bound(obj("b", "x", at(7)))}, "b/x"},
	} {
		h := claimHolder(slices.Clone(tc.items))
		if h == nil || h.Namespace+"/"+h.Name != tc.want {
			t.Errorf("%s: holder %v, want %s", tc.name, h, tc.want)
		}
		// Every replica, whatever order its cache lists them in, agrees.
		rev := slices.Clone(tc.items)
		slices.Reverse(rev)
		if h2 := claimHolder(rev); h2 == nil || h2.Namespace+"/"+h2.Name != tc.want {
			t.Errorf("%s reversed: holder %v, want %s", tc.name, h2, tc.want)
		}
	}
}

func TestVerificationClock_OldestCleanPass(t *testing.T) {
	v := &verificationClock{at: map[types.NamespacedName]time.Time{}}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	a, b := types.NamespacedName{Namespace: "n", Name: "a"}, types.NamespacedName{Namespace: "n", Name: "b"}
	if got := v.oldest(now); got != 0 {
		t.Errorf("oldest of none = %s", got)
	}
	v.passed(a, now.Add(-10*time.Minute), true)
	v.passed(b, now.Add(-time.Minute), true)
	if got := v.oldest(now); got != 10*time.Minute {
		t.Errorf("oldest = %s, want 10m", got)
	}
	v.passed(a, now, false) // a's last pass needs a human: not overdue
	if got := v.oldest(now); got != time.Minute {
		t.Errorf("oldest after a's failed pass = %s, want 1m", got)
	}
	v.forget(b)
	if got := v.oldest(now); got != 0 {
		t.Errorf("oldest after forgetting = %s, want 0", got)
	}
}
