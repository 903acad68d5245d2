package tenancy

import (
	"slices"
	"strings"
	"testing"

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
		if got := ProjectAllowed(tc.annotation, target); got != tc.want {
			t.Errorf("ProjectAllowed(%q, %s) = %v, want %v", tc.annotation, target, got, tc.want)
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
			got := DisallowedMembers(tc.annotation, groups(tc.members...))
			if !slices.Equal(got, tc.want) {
				t.Errorf("DisallowedMembers(%q, %v) = %v, want %v", tc.annotation, tc.members, got, tc.want)
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
	if got := DisallowedMembers("*@acme.com", gs); !slices.Equal(got, want) {
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
	if got := DisallowedMembers("*@acme.com", groups(foreign...)); !slices.Equal(got, foreign) {
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
		if got := DisallowedMembers(tc.annotation, groups(tc.members...)); !slices.Equal(got, tc.want) {
			t.Errorf("DisallowedMembers(%q, %v) = %v, want %v", tc.annotation, tc.members, got, tc.want)
		}
	}
}
