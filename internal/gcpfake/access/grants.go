package access

import (
	"fmt"
	"sort"
	"strings"

	"github.com/runguard/runguard/internal/gcpfake/policyengine"
)

// Policies keep the grants: the IAM allow policy of each resource grants are made on (a project,
// folder, organization or access policy), the very policies GetIamPolicy and SetIamPolicy serve.
// A grant is a member in a role's binding without a condition; a binding added by SetIamPolicy
// grants from the next call on, and a seed's grants show in GetIamPolicy. Where is a project ID
// or the resource's name (folders/{n}, organizations/{n}, accessPolicies/{n}).
type Policies interface {
	// Bindings is member → the roles bound to it without a condition in where's allow policy.
	Bindings(where string) map[string][]string
	// Granted lists every where whose policy binds anything.
	Granted() []string
	// Bind adds member to role's unconditional binding in where's policy; Unbind takes it out and
	// reports whether it was there.
	Bind(where, member, role string) error
	Unbind(where, member, role string) (bool, error)
	// RoleParent is where a custom role used on where is defined: projects/{id} for a project,
	// else the organization where belongs to.
	RoleParent(where string) (string, bool)
}

// A grant of a bare permission (the seed's and the admin API's shorthand) is bound as the custom
// role {RoleParent}/roles/{permission}: an allow policy binds roles only. Such a role that
// customRoles does not declare holds exactly that permission, for IAM checks and GetRole alike.

// Grant gives member a role or a permission on the project (by ID) or resource, at once; IAM
// propagation delay is not modelled.
func (a *Authority) Grant(where, member, roleOrPermission string) error {
	if !a.enforced {
		return ErrOff
	}
	return a.grant(where, member, roleOrPermission)
}

// Revoke takes back what Grant (or the seed) gave; revoking what was never granted is an error.
func (a *Authority) Revoke(where, member, roleOrPermission string) error {
	m, err := normalizeMember(member)
	if err != nil {
		return err
	}
	role, err := a.roleFor(where, roleOrPermission)
	if err != nil {
		return err
	}
	removed, err := a.policies.Unbind(where, m, role)
	if err != nil {
		return err
	}
	if !removed {
		return fmt.Errorf("%s holds no %s on %s: %w", m, roleOrPermission, where, ErrNotFound)
	}
	return nil
}

func (a *Authority) grant(where, member, entry string) error {
	m, err := normalizeMember(member)
	if err != nil {
		return fmt.Errorf("grant on %s: %w", where, err)
	}
	if err := a.checkEntry(entry); err != nil {
		return fmt.Errorf("grant on %s to %s: %w", where, m, err)
	}
	role, err := a.roleFor(where, entry)
	if err != nil {
		return err
	}
	return a.policies.Bind(where, m, role)
}

// roleFor is the role a grant of entry on where binds: the role itself, or a permission's
// implied custom role.
func (a *Authority) roleFor(where, entry string) (string, error) {
	if !permissionRE.MatchString(entry) {
		return entry, nil
	}
	parent, ok := a.policies.RoleParent(where)
	if !ok {
		return "", fmt.Errorf("a permission granted on %s needs a project or organization to define its role in: %w", where, ErrNotFound)
	}
	return parent + "/roles/" + entry, nil
}

// entryOf is what a bound role grants, as the seed would write it: a permission's implied custom
// role is the permission, any other role itself.
func (a *Authority) entryOf(role string) string {
	if _, declared := a.customRoles[role]; declared || !customRoleRE.MatchString(role) {
		return role
	}
	id := role[strings.LastIndex(role, "/")+1:]
	if permissionRE.MatchString(id) {
		return id
	}
	return role
}

// checkEntry accepts a predefined role from the table, a declared custom role, or a permission.
func (a *Authority) checkEntry(e string) error {
	switch {
	case strings.HasPrefix(e, "roles/"):
		if _, ok := predefinedRoles[e]; !ok {
			return fmt.Errorf("role %s is not in the fake's table (%s); grant its permissions instead", e, strings.Join(PredefinedRoles(), ", "))
		}
	case customRoleRE.MatchString(e):
		if _, ok := a.customRoles[e]; !ok {
			return fmt.Errorf("custom role %s is not declared in customRoles", e)
		}
	case !permissionRE.MatchString(e):
		return fmt.Errorf("%q is neither a role nor a permission (service.resource.verb)", e)
	}
	return nil
}

func (a *Authority) rolePermissions(role string) []string {
	if r, ok := predefinedRoles[role]; ok {
		return r.permissions
	}
	return a.customRoles[role]
}

// Role is a role's definition, as IAM's roles.get answers it.
type Role struct {
	Name, Title string
	// Permissions are the permissions the fake knows the role to hold, sorted: for a predefined
	// role, those of its permissions the fake checks (and iap.webServiceVersions.accessViaIAP).
	Permissions []string
}

// Role looks a role up by name: a predefined one (roles/…), a custom one declared in the seed,
// or a permission's implied custom role.
func (a *Authority) Role(name string) (Role, bool) {
	var perms []string
	title := ""
	if r, ok := predefinedRoles[name]; ok {
		perms, title = r.permissions, r.title
	} else if ps, ok := a.customRoles[name]; ok {
		perms = ps
	} else if e := a.entryOf(name); e != name {
		perms = []string{e}
	} else {
		return Role{}, false
	}
	out := Role{Name: name, Title: title, Permissions: append([]string(nil), perms...)}
	sort.Strings(out.Permissions)
	return out, true
}

func normalizeMember(member string) (string, error) {
	m, err := policyengine.NormalizeMember(member)
	if err != nil {
		return "", fmt.Errorf("member %q: %s", member, messageOf(err))
	}
	return m, nil
}

func sortedWheres(g map[string]map[string][]string) []string {
	out := make([]string, 0, len(g))
	for w := range g {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}
