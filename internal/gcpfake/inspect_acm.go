package gcpfake

import (
	"encoding/json"
	"fmt"
	"strings"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/runguard/runguard/internal/gcpfake/acm"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
	"github.com/runguard/runguard/internal/gcpfake/hierarchy"
)

// AccessPolicies returns every Access Context Manager access policy, sorted by name.
func (s *Server) AccessPolicies() []*accesscontextmanagerpb.AccessPolicy { return s.acm.Policies() }

// AccessLevel returns an access level by its full name
// (accessPolicies/{policy}/accessLevels/{short name}).
func (s *Server) AccessLevel(name string) (*accesscontextmanagerpb.AccessLevel, bool) {
	return s.acm.Level(name)
}

// AccessLevels returns the levels of an access policy (accessPolicies/{number}), or of every
// policy when policy is "", sorted by name.
func (s *Server) AccessLevels(policy string) []*accesscontextmanagerpb.AccessLevel {
	return s.acm.Levels(policy)
}

// AddAccessLevel creates a level out of band, as someone would in the console or with gcloud
// (a level runguard does not own): validated as over the API, it fails as the API would (an
// existing name is ALREADY_EXISTS). It logs
// google.identity.accesscontextmanager.v1.AccessContextManager.CreateAccessLevel.
func (s *Server) AddAccessLevel(l *accesscontextmanagerpb.AccessLevel) error {
	if err := s.acm.Add(l); err != nil {
		return err
	}
	s.auditOutOfBand("acm.CreateAccessLevel", l.GetName())
	return nil
}

// PutAccessLevel creates a level out of band, or replaces the one of that name; created says
// which. It logs CreateAccessLevel or UpdateAccessLevel.
func (s *Server) PutAccessLevel(l *accesscontextmanagerpb.AccessLevel) (created bool, err error) {
	if created, err = s.acm.Put(l); err != nil {
		return false, err
	}
	if created {
		s.auditOutOfBand("acm.CreateAccessLevel", l.GetName())
	} else {
		s.auditOutOfBand("acm.UpdateAccessLevel", l.GetName())
	}
	return created, nil
}

// UpdateAccessLevelOutOfBand changes a level as a console edit would (widening its
// ipSubnetworks, say); the result is validated as over the API. It logs
// google.identity.accesscontextmanager.v1.AccessContextManager.UpdateAccessLevel.
func (s *Server) UpdateAccessLevelOutOfBand(name string, mutate func(*accesscontextmanagerpb.AccessLevel)) error {
	if err := s.acm.Edit(name, mutate); err != nil {
		return err
	}
	s.auditOutOfBand("acm.UpdateAccessLevel", name)
	return nil
}

// DeleteAccessLevel deletes a level out of band. It logs
// google.identity.accesscontextmanager.v1.AccessContextManager.DeleteAccessLevel.
func (s *Server) DeleteAccessLevel(name string) error {
	if err := s.acm.Remove(name); err != nil {
		return err
	}
	s.auditOutOfBand("acm.DeleteAccessLevel", name)
	return nil
}

// accessPolicyStates is every access policy with its levels, for the admin endpoint.
func (s *Server) accessPolicyStates() ([]adminapi.AccessPolicyState, error) {
	out := []adminapi.AccessPolicyState{}
	for _, p := range s.acm.Policies() {
		raw, err := protojson.Marshal(p)
		if err != nil {
			return nil, err
		}
		st := adminapi.AccessPolicyState{Policy: raw, AccessLevels: []json.RawMessage{}}
		for _, l := range s.acm.Levels(p.GetName()) {
			if raw, err = protojson.Marshal(l); err != nil {
				return nil, err
			}
			st.AccessLevels = append(st.AccessLevels, raw)
		}
		out = append(out, st)
	}
	return out, nil
}

// grantable reports whether IAM roles can be granted on a folder, organization or access policy
// of the world (by name).
func (s *Server) grantable(resource string) bool {
	if s.tree.Contains(resource) {
		return true
	}
	_, ok := s.acm.Policy(resource)
	return ok
}

// organizationOf is the organization an Access Context Manager resource belongs to, or the
// organization itself.
func (s *Server) organizationOf(resource string) (string, bool) {
	if acm.ValidOrganization(resource) {
		_, ok := s.tree.Organization(resource)
		return resource, ok
	}
	return s.acm.Organization(resource)
}

// seedPolicies seeds the organizations and the access policies; a policy's parent joins the
// world's organizations.
func seedPolicies(b *acm.Backend, tree *hierarchy.Tree, seed Seed) error {
	seen := map[string]bool{}
	for _, o := range seed.Organizations {
		name := "organizations/" + o.ID
		if !acm.ValidOrganization(name) || seen[name] {
			return fmt.Errorf("organization %q: want a number, seeded once", o.ID)
		}
		seen[name] = true
		if err := tree.AddOrganization(hierarchy.Organization{Name: name, DisplayName: o.DisplayName}); err != nil {
			return err
		}
	}
	for _, p := range seed.AccessPolicies {
		if err := b.AddPolicy(&accesscontextmanagerpb.AccessPolicy{Name: p.Name, Parent: p.Parent, Title: p.Title, Scopes: p.Scopes, Etag: p.Etag}); err != nil {
			return err
		}
		if err := tree.AddOrganization(hierarchy.Organization{Name: p.Parent}); err != nil {
			return err
		}
	}
	return nil
}

// seedLevels seeds each policy's levels in order (a level's required levels come first). A
// short name stands for the level of that name in its policy.
func seedLevels(b *acm.Backend, policies []AccessPolicy) error {
	for _, p := range policies {
		for _, raw := range p.AccessLevels {
			l := &accesscontextmanagerpb.AccessLevel{}
			if err := protojson.Unmarshal(raw, l); err != nil {
				return fmt.Errorf("access policy %s: access level %s: %w", p.Name, raw, err)
			}
			if !strings.Contains(l.GetName(), "/") {
				l.Name = p.Name + "/accessLevels/" + l.GetName()
			}
			if err := b.Add(l); err != nil {
				return fmt.Errorf("access policy %s: access level %s: %w", p.Name, l.GetName(), err)
			}
		}
	}
	return nil
}
