// Package hierarchy is the fake's resource hierarchy above projects: the organizations and the
// folders, each folder under a folder or an organization. A project's parent is a field of the
// project (package projects); Tree answers what is above a parent.
package hierarchy

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

var (
	organizationRE = regexp.MustCompile(`^organizations/[0-9]+$`)
	folderRE       = regexp.MustCompile(`^folders/[0-9]+$`)
)

// IsOrganization reports whether name is organizations/{number}.
func IsOrganization(name string) bool { return organizationRE.MatchString(name) }

// IsFolder reports whether name is folders/{number}.
func IsFolder(name string) bool { return folderRE.MatchString(name) }

// Folder is a folder of the world.
type Folder struct {
	Name        string // folders/{number}
	Parent      string // folders/{number} or organizations/{number}
	DisplayName string
}

// Organization is an organization of the world.
type Organization struct {
	Name        string // organizations/{number}
	DisplayName string // Google shows the organization's domain here
}

// Tree holds the organizations and folders. It is safe for concurrent use.
type Tree struct {
	mu      sync.RWMutex
	orgs    map[string]Organization
	folders map[string]Folder
}

// New returns an empty tree.
func New() *Tree { return &Tree{orgs: map[string]Organization{}, folders: map[string]Folder{}} }

// AddOrganization adds an organization, or sets the display name of one already added
// (organizations also enter the world as the parent of something).
func (t *Tree) AddOrganization(o Organization) error {
	if !IsOrganization(o.Name) {
		return fmt.Errorf("organization %q: want organizations/{number}", o.Name)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.orgs[o.Name]; ok && o.DisplayName == "" {
		o.DisplayName = old.DisplayName
	}
	t.orgs[o.Name] = o
	return nil
}

// MaxHeight is how many folders deep the hierarchy may be: "The addition of this folder must not
// cause the active folder hierarchy to exceed a height of 10" (CreateFolder's comment in
// cloud.google.com/go/resourcemanager/apiv3).
const MaxHeight = 10

// AddFolder adds a folder under an organization (added if need be) or a folder already added,
// so the tree has no cycles, at most MaxHeight folders deep.
func (t *Tree) AddFolder(f Folder) error {
	// The parent's chain ends in the organization: MaxHeight folders and it are too many.
	if chain := t.Chain(f.Parent); len(chain) > MaxHeight {
		return fmt.Errorf("folder %s: the folders above it would exceed a height of %d", f.Name, MaxHeight)
	}
	if !IsFolder(f.Name) {
		return fmt.Errorf("folder %q: want folders/{number}", f.Name)
	}
	if IsOrganization(f.Parent) {
		if err := t.AddOrganization(Organization{Name: f.Parent}); err != nil {
			return err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.folders[f.Name]; dup {
		return fmt.Errorf("folder %s seeded twice", f.Name)
	}
	if _, ok := t.folders[f.Parent]; !ok && !IsOrganization(f.Parent) {
		return fmt.Errorf("folder %s: parent %q is neither an organization nor a folder listed before it", f.Name, f.Parent)
	}
	t.folders[f.Name] = f
	return nil
}

// CheckParent accepts a project's parent: a folder of the tree or an organization (added to the
// world if need be).
func (t *Tree) CheckParent(parent string) error {
	if IsOrganization(parent) {
		return t.AddOrganization(Organization{Name: parent})
	}
	if _, ok := t.Folder(parent); ok {
		return nil
	}
	return fmt.Errorf("parent %q is neither an organization nor a seeded folder", parent)
}

// Folder returns a folder by name.
func (t *Tree) Folder(name string) (Folder, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	f, ok := t.folders[name]
	return f, ok
}

// Organization returns an organization by name.
func (t *Tree) Organization(name string) (Organization, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	o, ok := t.orgs[name]
	return o, ok
}

// Contains reports whether name is a folder or organization of the tree.
func (t *Tree) Contains(name string) bool {
	_, isFolder := t.Folder(name)
	_, isOrg := t.Organization(name)
	return isFolder || isOrg
}

// Chain is from and everything above it, nearest first: a folder's folders up to its
// organization; an organization alone; nothing for a name the tree does not hold.
func (t *Tree) Chain(from string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for name := from; name != ""; {
		if _, ok := t.orgs[name]; ok {
			return append(out, name)
		}
		f, ok := t.folders[name]
		if !ok {
			return out
		}
		out = append(out, name)
		name = f.Parent
	}
	return out
}

// OrganizationOf is the organization at the top of from's chain.
func (t *Tree) OrganizationOf(from string) (string, bool) {
	chain := t.Chain(from)
	if len(chain) == 0 || !IsOrganization(chain[len(chain)-1]) {
		return "", false
	}
	return chain[len(chain)-1], true
}

// Folders returns every folder, sorted by name.
func (t *Tree) Folders() []Folder {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return sortedByName(t.folders)
}

// Organizations returns every organization, sorted by name.
func (t *Tree) Organizations() []Organization {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return sortedByName(t.orgs)
}

func sortedByName[T any](m map[string]T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

// Number is the number of organizations/{n} or folders/{n}.
func Number(name string) string {
	_, n, _ := strings.Cut(name, "/")
	return n
}
