package access

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// memoryPolicies keeps grants as where → member → roles.
type memoryPolicies map[string]map[string][]string

func (m memoryPolicies) Bindings(where string) map[string][]string { return m[where] }

func (m memoryPolicies) Granted() []string {
	var out []string
	for w := range m {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

func (m memoryPolicies) Bind(where, member, role string) error {
	if m[where] == nil {
		m[where] = map[string][]string{}
	}
	if !slices.Contains(m[where][member], role) {
		m[where][member] = append(m[where][member], role)
	}
	return nil
}

func (m memoryPolicies) Unbind(where, member, role string) (bool, error) {
	i := slices.Index(m[where][member], role)
	if i < 0 {
		return false, nil
	}
	m[where][member] = slices.Delete(m[where][member], i, i+1)
	return true, nil
}

func (m memoryPolicies) RoleParent(where string) (string, bool) {
	if strings.Contains(where, "/") {
		return where, strings.HasPrefix(where, "organizations/")
	}
	return "projects/" + where, true
}

func TestAllowed_RolesExpandAndGrantsAreProjectScoped(t *testing.T) {
	a, err := New(Config{
		Grants: map[string]map[string][]string{
			"proj-a": {"serviceAccount:Tenant@ops.iam.gserviceaccount.com": {"roles/run.viewer", "iap.webServices.getIamPolicy", "projects/proj-a/roles/r"}},
		},
		CustomRoles: map[string][]string{"projects/proj-a/roles/r": {"run.services.setIamPolicy"}},
	}, func(string) bool { return true }, memoryPolicies{})
	if err != nil {
		t.Fatal(err)
	}
	member := "serviceAccount:tenant@ops.iam.gserviceaccount.com" // stored lower-cased, as IAM does
	for _, c := range []struct {
		project, permission string
		want                bool
	}{
		{"proj-a", "run.services.get", true},
		{"proj-a", "run.services.update", false},
		{"proj-a", "iap.webServices.getIamPolicy", true},
		{"proj-a", "run.services.setIamPolicy", true},
		{"proj-b", "run.services.get", false},
	} {
		if got := a.Allowed(member, c.project, c.permission); got != c.want {
			t.Errorf("Allowed(%s, %s) = %v, want %v", c.project, c.permission, got, c.want)
		}
	}
}

func TestMayImpersonate_TokenCreatorOrProjectWideGrant(t *testing.T) {
	a, err := New(Config{
		DefaultCaller:   "serviceAccount:runguard@ops.iam.gserviceaccount.com",
		ServiceAccounts: []ServiceAccount{{Email: "a@ops.iam.gserviceaccount.com", TokenCreators: []string{"user:alice@example.com"}}, {Email: "b@ops.iam.gserviceaccount.com"}},
		Grants:          map[string]map[string][]string{"ops": {"user:bob@example.com": {"roles/iam.serviceAccountTokenCreator"}}},
	}, func(string) bool { return true }, memoryPolicies{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		caller, sa string
		want       bool
	}{
		{"user:alice@example.com", "a@ops.iam.gserviceaccount.com", true},
		{"user:alice@example.com", "b@ops.iam.gserviceaccount.com", false},
		{"user:bob@example.com", "b@ops.iam.gserviceaccount.com", true}, // project-level grant covers every account of ops
		{"serviceAccount:runguard@ops.iam.gserviceaccount.com", "a@ops.iam.gserviceaccount.com", false},
	} {
		if got := a.MayImpersonate(c.caller, c.sa); got != c.want {
			t.Errorf("MayImpersonate(%s, %s) = %v, want %v", c.caller, c.sa, got, c.want)
		}
	}
}

func TestNew_OffWithoutGrantsOrDefaultCaller(t *testing.T) {
	a, err := New(Config{ServiceAccounts: []ServiceAccount{{Email: "a@ops.iam.gserviceaccount.com"}}}, func(string) bool { return true }, memoryPolicies{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Enforced() || !a.Allowed("", "any", "run.services.update") || !a.MayImpersonate("", "a@ops.iam.gserviceaccount.com") {
		t.Error("access control must be off and allow everything")
	}
}

func TestPermitted_ADenyRuleWinsOverGrantsWithAccessControlOnOrOff(t *testing.T) {
	const (
		member    = "user:alice@example.com"
		service   = "projects/proj-a/locations/us-central1/services/hello"
		other     = "projects/proj-a/locations/us-central1/services/other"
		denied    = "run.services.setIamPolicy"
		untouched = "run.services.get"
	)
	on, err := New(Config{Grants: map[string]map[string][]string{"proj-a": {member: {"roles/run.admin", denied}}}}, func(string) bool { return true }, memoryPolicies{})
	if err != nil {
		t.Fatal(err)
	}
	off, err := New(Config{}, func(string) bool { return true }, memoryPolicies{})
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]*Authority{"on": on, "off": off} {
		a.Deny(service, denied)
		if a.Permitted(member, "proj-a", service, denied) {
			t.Errorf("access control %s: a denied permission is permitted", name)
		}
		if !a.Allowed(member, "proj-a", denied) || !a.Permitted(member, "proj-a", service, untouched) || !a.Permitted(member, "proj-a", other, denied) {
			t.Errorf("access control %s: the deny rule reached beyond its permission and resource", name)
		}
		if got := a.Snapshot().Denials; len(got) != 1 || len(got[service]) != 1 || got[service][0] != denied {
			t.Errorf("access control %s: Snapshot().Denials = %v", name, got)
		}
		a.Undeny(service, denied)
		if !a.Permitted(member, "proj-a", service, denied) || len(a.Snapshot().Denials) != 0 {
			t.Errorf("access control %s: Undeny left the rule in place", name)
		}
	}
}

// A permission granted on its own is bound as a custom role of that one permission, which the
// policy shows and GetRole describes, and grants as the permission would.
func TestGrant_APermissionIsBoundAsItsImpliedRole(t *testing.T) {
	policies := memoryPolicies{}
	a, err := New(Config{Grants: map[string]map[string][]string{"proj-a": {"user:alice@example.com": {"iap.web.getIamPolicy"}}}},
		func(string) bool { return true }, policies)
	if err != nil {
		t.Fatal(err)
	}
	const role = "projects/proj-a/roles/iap.web.getIamPolicy"
	if got := policies["proj-a"]["user:alice@example.com"]; !slices.Equal(got, []string{role}) {
		t.Fatalf("bound %v, want %s", got, role)
	}
	if !a.Allowed("user:alice@example.com", "proj-a", "iap.web.getIamPolicy") || a.Allowed("user:alice@example.com", "proj-a", "iap.web.setIamPolicy") {
		t.Error("the implied role grants other than its permission")
	}
	if r, ok := a.Role(role); !ok || !slices.Equal(r.Permissions, []string{"iap.web.getIamPolicy"}) {
		t.Errorf("Role(%s) = %+v, %v", role, r, ok)
	}
	if got := a.GrantsOn("proj-a")["user:alice@example.com"]; !slices.Equal(got, []string{"iap.web.getIamPolicy"}) {
		t.Errorf("GrantsOn = %v, want the permission", got)
	}
	if err := a.Revoke("proj-a", "user:alice@example.com", "iap.web.getIamPolicy"); err != nil || len(policies["proj-a"]["user:alice@example.com"]) != 0 {
		t.Errorf("Revoke = %v, left %v", err, policies["proj-a"])
	}
}

// Only the IAP-secured Web App User role lets a member through IAP; the basic roles do not.
func TestRole_OnlyTheAccessorRoleCarriesAccessViaIAP(t *testing.T) {
	a, err := New(Config{}, func(string) bool { return true }, memoryPolicies{})
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[string]bool{"roles/iap.httpsResourceAccessor": true, "roles/owner": false, "roles/editor": false, "roles/viewer": false} {
		r, ok := a.Role(role)
		if !ok || slices.Contains(r.Permissions, "iap.webServiceVersions.accessViaIAP") != want || r.Title == "" {
			t.Errorf("Role(%s) = %+v, %v; accessViaIAP want %v", role, r, ok, want)
		}
	}
	if _, ok := a.Role("roles/no.such"); ok {
		t.Error("an unknown role was found")
	}
}
