package gcpfake

import (
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/runguard/runguard/internal/gcpfake/access"
	"github.com/runguard/runguard/internal/gcpfake/acm"
	"github.com/runguard/runguard/internal/gcpfake/hierarchy"
	"github.com/runguard/runguard/internal/gcpfake/resourcemanager"
)

// grantPolicies keeps the Authority's grants in the allow policies of the one IAM store
// (access.Policies): a grant on a project is a binding in the project's policy — the policy
// Resource Manager's GetIamPolicy answers — and likewise for folders, organizations and access
// policies. A change made here is made out of band (as in the console) and logged so.
type grantPolicies struct{ s *Server }

var _ access.Policies = grantPolicies{}

// policyOf is the allow policy grants on where are kept in: projects/{id} for a project ID, the
// resource itself otherwise.
func policyOf(where string) string {
	if strings.Contains(where, "/") {
		return where
	}
	return resourcemanager.ProjectPolicyName(where)
}

func (g grantPolicies) Bindings(where string) map[string][]string {
	p, ok := g.s.policies.Policy(policyOf(where))
	if !ok {
		return nil
	}
	out := map[string][]string{}
	for _, b := range p.GetBindings() {
		// The fake evaluates no conditions: a conditional binding grants nothing here.
		if b.GetCondition() != nil {
			continue
		}
		for _, m := range b.GetMembers() {
			out[m] = append(out[m], b.GetRole())
		}
	}
	return out
}

func (g grantPolicies) Granted() []string {
	var out []string
	for _, name := range g.s.policies.Names("") {
		kind, rest, _ := strings.Cut(name, "/")
		if rest == "" || strings.Contains(rest, "/") {
			continue
		}
		switch {
		case kind == "projects":
			out = append(out, rest)
		case hierarchy.IsFolder(name), hierarchy.IsOrganization(name), acm.ValidPolicyName(name):
			out = append(out, name)
		}
	}
	return out
}

func (g grantPolicies) Bind(where, member, role string) error {
	return g.edit(where, func(p *iampb.Policy) bool {
		for _, b := range p.Bindings {
			if b.GetRole() == role && b.GetCondition() == nil {
				if slices.Contains(b.Members, member) {
					return false
				}
				b.Members = append(b.Members, member)
				return true
			}
		}
		p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{member}})
		return true
	})
}

func (g grantPolicies) Unbind(where, member, role string) (bool, error) {
	removed := false
	err := g.edit(where, func(p *iampb.Policy) bool {
		for _, b := range p.Bindings {
			if i := slices.Index(b.Members, member); b.GetRole() == role && b.GetCondition() == nil && i >= 0 {
				b.Members = slices.Delete(b.Members, i, i+1)
				removed = true
			}
		}
		return removed
	})
	return removed, err
}

// edit changes where's policy and logs the change as the console's SetIamPolicy.
func (g grantPolicies) edit(where string, fn func(p *iampb.Policy) bool) error {
	resource := policyOf(where)
	changed, err := g.s.policies.Edit(resource, fn)
	if changed {
		g.s.auditPolicyChange(resource)
	}
	return err
}

func (g grantPolicies) RoleParent(where string) (string, bool) {
	switch {
	case !strings.Contains(where, "/"):
		return resourcemanager.ProjectPolicyName(where), true
	case hierarchy.IsOrganization(where):
		return where, true
	case hierarchy.IsFolder(where):
		return g.s.tree.OrganizationOf(where)
	}
	return g.s.acm.Organization(where)
}
