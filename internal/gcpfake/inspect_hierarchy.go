package gcpfake

import (
	"fmt"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/runguard/runguard/internal/gcpfake/acm"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
	"github.com/runguard/runguard/internal/gcpfake/hierarchy"
	"github.com/runguard/runguard/internal/gcpfake/names"
)

// Policy returns the stored allow policy of any resource that has one — a project
// (projects/{id or number}), folder, organization, access policy, IAP resource (a service's, the
// region-wide cloud_run-{region} or the project's iap_web) or Cloud Run service — in version-3
// form (empty, etag "ACAB", if never set); false if the resource does not exist.
func (s *Server) Policy(resource string) (*iampb.Policy, bool) {
	return s.policies.Policy(s.policies.Canonical(resource))
}

// SetPolicy writes any resource's allow policy out of band, as the console or gcloud would: no
// etag is checked and identities are not looked up. It logs the SetIamPolicy of the resource's
// API (for a project's policy, gcloud's "SetIamPolicy" of cloudresourcemanager.googleapis.com).
// A project's, folder's, organization's or access policy's policy is also the grants the fake's
// authorization reads.
func (s *Server) SetPolicy(resource string, p *iampb.Policy) error {
	canonical := s.policies.Canonical(resource)
	if err := s.policies.SetOutOfBand(canonical, p); err != nil {
		return err
	}
	s.auditPolicyChange(canonical)
	return nil
}

// auditPolicyChange logs an out-of-band change of a resource's allow policy as the SetIamPolicy
// of the API that serves it.
func (s *Server) auditPolicyChange(resource string) {
	s.auditOutOfBand(setPolicyMethod(resource), resource)
}

// setPolicyMethod is the short name of the SetIamPolicy that serves a resource's policy.
func setPolicyMethod(resource string) string {
	if _, ok := names.ParseService(resource); ok {
		return "run.SetIamPolicy"
	}
	if _, ok := names.ParseIAP(resource); ok {
		return "iap.SetIamPolicy"
	}
	switch {
	case hierarchy.IsFolder(resource):
		return "folders.SetIamPolicy"
	case hierarchy.IsOrganization(resource):
		return "organizations.SetIamPolicy"
	case acm.ValidPolicyName(resource):
		return "acm.SetIamPolicy"
	}
	return "resourcemanager.SetIamPolicy"
}

// AddFolder adds a folder to the running fake, as if it had been seeded: under an organization
// (added if need be) or a folder already there. Grant on it with Grant.
func (s *Server) AddFolder(f Folder) error {
	if len(f.Grants) > 0 {
		return fmt.Errorf("folder %q: grant with Server.Grant after adding it", f.ID)
	}
	return s.tree.AddFolder(hierarchy.Folder{Name: "folders/" + f.ID, Parent: f.Parent, DisplayName: f.DisplayName})
}

// Ancestors is what is above a seeded project (by ID or number), nearest first: its folders and
// its organization, from the seed's parents.
func (s *Server) Ancestors(project string) ([]string, bool) {
	p, ok := s.dir.Lookup(project)
	if !ok {
		return nil, false
	}
	return s.tree.Chain(p.Parent), true
}

// hierarchyState lists the folders and organizations with the grants on each.
func (s *Server) hierarchyState() (folders []adminapi.Folder, orgs []adminapi.Organization) {
	folders, orgs = []adminapi.Folder{}, []adminapi.Organization{}
	for _, f := range s.tree.Folders() {
		folders = append(folders, adminapi.Folder{ID: hierarchy.Number(f.Name), Parent: f.Parent, DisplayName: f.DisplayName,
			Grants: s.access.GrantsOn(f.Name)})
	}
	for _, o := range s.tree.Organizations() {
		orgs = append(orgs, adminapi.Organization{ID: strings.TrimPrefix(o.Name, "organizations/"), DisplayName: o.DisplayName,
			Grants: s.access.GrantsOn(o.Name)})
	}
	return folders, orgs
}
