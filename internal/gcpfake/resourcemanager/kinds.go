package resourcemanager

import (
	"strings"

	"github.com/runguard/runguard/internal/gcpfake/hierarchy"
	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
	"github.com/runguard/runguard/internal/gcpfake/projects"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// PolicyKinds register projects (keyed projects/{id}, written with the ID or the number),
// folders and organizations with the IAM policy store.
func PolicyKinds(dir *projects.Directory, tree *hierarchy.Tree) []iampolicy.Kind {
	project := func(name string) (projects.Project, bool) {
		id, ok := strings.CutPrefix(name, "projects/")
		if !ok || id == "" || strings.Contains(id, "/") {
			return projects.Project{}, false
		}
		return dir.Lookup(id)
	}
	inTree := func(name string) (string, bool) { return name, tree.Contains(name) }
	return []iampolicy.Kind{{
		Owns: func(name string) bool {
			id, ok := strings.CutPrefix(name, "projects/")
			return ok && id != "" && !strings.Contains(id, "/")
		},
		Canonical: func(name string) (string, bool) {
			p, ok := project(name)
			return ProjectPolicyName(p.ID), ok
		},
		Exists: func(_ *store.Tx, name string) bool { _, ok := project(name); return ok },
	}, {
		Owns:      func(name string) bool { return hierarchy.IsFolder(name) || hierarchy.IsOrganization(name) },
		Canonical: inTree,
		Exists:    func(_ *store.Tx, name string) bool { return tree.Contains(name) },
	}}
}
