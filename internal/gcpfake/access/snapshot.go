package access

import "sort"

// Snapshot is the current state, sorted, for inspection.
type Snapshot struct {
	Enforced        bool
	DefaultCaller   string
	ServiceAccounts []ServiceAccount
	Grants          map[string]map[string][]string
	// Denials is resource → the permissions its deny rules take away.
	Denials map[string][]string
}

// Snapshot returns the current state.
func (a *Authority) Snapshot() Snapshot {
	a.mu.RLock()
	defer a.mu.RUnlock()
	s := Snapshot{Enforced: a.enforced, DefaultCaller: a.defaultCaller, Grants: map[string]map[string][]string{}, Denials: map[string][]string{}}
	for email, creators := range a.accounts {
		s.ServiceAccounts = append(s.ServiceAccounts, ServiceAccount{Email: email, TokenCreators: sortedKeys(creators)})
	}
	sort.Slice(s.ServiceAccounts, func(i, j int) bool { return s.ServiceAccounts[i].Email < s.ServiceAccounts[j].Email })
	for project, byMember := range a.grants {
		for member, entries := range byMember {
			if len(entries) == 0 {
				continue
			}
			if s.Grants[project] == nil {
				s.Grants[project] = map[string][]string{}
			}
			s.Grants[project][member] = sortedKeys(entries)
		}
	}
	for resource, permissions := range a.denials {
		if len(permissions) > 0 {
			s.Denials[resource] = sortedKeys(permissions)
		}
	}
	return s
}

// GrantsOn returns the project's grants, member → sorted roles and permissions.
func (a *Authority) GrantsOn(project string) map[string][]string {
	return a.Snapshot().Grants[project]
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) { sort.Strings(s) }
