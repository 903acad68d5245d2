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
	s := Snapshot{Enforced: a.enforced, DefaultCaller: a.defaultCaller, Grants: map[string]map[string][]string{}, Denials: map[string][]string{}}
	// The policies are read before a.mu is taken: their store calls back into the Authority.
	for _, where := range a.policies.Granted() {
		if g := a.grantsOn(where); len(g) > 0 {
			s.Grants[where] = g
		}
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	for email, creators := range a.accounts {
		s.ServiceAccounts = append(s.ServiceAccounts, ServiceAccount{Email: email, TokenCreators: sortedKeys(creators)})
	}
	sort.Slice(s.ServiceAccounts, func(i, j int) bool { return s.ServiceAccounts[i].Email < s.ServiceAccounts[j].Email })
	for resource, permissions := range a.denials {
		if len(permissions) > 0 {
			s.Denials[resource] = sortedKeys(permissions)
		}
	}
	return s
}

// GrantsOn returns the grants on a project (by ID) or resource, member → sorted roles and
// permissions, as a seed writes them; conditional bindings grant nothing and are left out.
func (a *Authority) GrantsOn(where string) map[string][]string {
	g := a.grantsOn(where)
	if len(g) == 0 {
		return nil
	}
	return g
}

func (a *Authority) grantsOn(where string) map[string][]string {
	out := map[string][]string{}
	for member, roles := range a.policies.Bindings(where) {
		entries := map[string]bool{}
		for _, r := range roles {
			entries[a.entryOf(r)] = true
		}
		if len(entries) > 0 {
			out[member] = sortedKeys(entries)
		}
	}
	return out
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
