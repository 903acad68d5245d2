package resourcemanager

import (
	"context"
	"fmt"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/hierarchy"
	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
)

// The permissions of the Folders and Organizations methods (each method's comment in
// resourcemanagerpb and its REST page).
const (
	FolderGetPermission                = "resourcemanager.folders.get"
	FolderGetIamPolicyPermission       = "resourcemanager.folders.getIamPolicy"
	FolderSetIamPolicyPermission       = "resourcemanager.folders.setIamPolicy"
	OrganizationGetPermission          = "resourcemanager.organizations.get"
	OrganizationGetIamPolicyPermission = "resourcemanager.organizations.getIamPolicy"
	OrganizationSetIamPolicyPermission = "resourcemanager.organizations.setIamPolicy"
)

// container is the part folders and organizations share: a name of one form, held by the tree,
// with an allow policy in the one IAM store.
type container struct {
	noun, form     string // "folder", "folders/{folder_id}"
	valid          func(string) bool
	getIAM, setIAM string // the permissions of GetIamPolicy and SetIamPolicy
	tree           *hierarchy.Tree
	policies       *iampolicy.Store
}

// check finds a folder or organization of the world; one that is not there is denied as one the
// caller may not use permission on (the fake's choice, as for projects).
func (c container) check(name, permission string) error {
	if !c.valid(name) {
		return apierr.BadRequest(fmt.Sprintf("Invalid %s name %q; expected %s.", c.noun, name, c.form),
			apierr.FieldViolation{Field: "name", Description: "must be of the form " + c.form})
	}
	if !c.tree.Contains(name) {
		return DeniedFor(permission, name)
	}
	return nil
}

func (c container) getIamPolicy(req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if err := c.check(req.GetResource(), c.getIAM); err != nil {
		return nil, err
	}
	return c.policies.Get(req.GetResource(), noCheck, req.GetOptions())
}

func (c container) setIamPolicy(req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if err := c.check(req.GetResource(), c.setIAM); err != nil {
		return nil, err
	}
	return c.policies.Set(req.GetResource(), noCheck, req)
}

// Folders implements resourcemanagerpb.FoldersServer: GetFolder, GetIamPolicy, SetIamPolicy.
type Folders struct {
	resourcemanagerpb.UnimplementedFoldersServer
	Tree     *hierarchy.Tree
	Policies *iampolicy.Store
}

var _ resourcemanagerpb.FoldersServer = (*Folders)(nil)

func (s *Folders) c() container {
	return container{noun: "folder", form: "folders/{folder_id}", valid: hierarchy.IsFolder, getIAM: FolderGetIamPolicyPermission,
		setIAM: FolderSetIamPolicyPermission, tree: s.Tree, policies: s.Policies}
}

func (s *Folders) GetFolder(ctx context.Context, req *resourcemanagerpb.GetFolderRequest) (*resourcemanagerpb.Folder, error) {
	if err := s.c().check(req.GetName(), FolderGetPermission); err != nil {
		return nil, err
	}
	f, _ := s.Tree.Folder(req.GetName())
	display := f.DisplayName
	if display == "" {
		display = f.Name
	}
	return &resourcemanagerpb.Folder{Name: f.Name, Parent: f.Parent, DisplayName: display, State: resourcemanagerpb.Folder_ACTIVE,
		CreateTime: timestamppb.New(created), Etag: fmt.Sprintf("W/\"%s\"", hierarchy.Number(f.Name))}, nil
}

func (s *Folders) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return s.c().getIamPolicy(req)
}

func (s *Folders) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return s.c().setIamPolicy(req)
}

// Organizations implements resourcemanagerpb.OrganizationsServer: GetOrganization,
// GetIamPolicy, SetIamPolicy.
type Organizations struct {
	resourcemanagerpb.UnimplementedOrganizationsServer
	Tree     *hierarchy.Tree
	Policies *iampolicy.Store
}

var _ resourcemanagerpb.OrganizationsServer = (*Organizations)(nil)

func (s *Organizations) c() container {
	return container{noun: "organization", form: "organizations/{organization_id}", valid: hierarchy.IsOrganization,
		getIAM: OrganizationGetIamPolicyPermission, setIAM: OrganizationSetIamPolicyPermission, tree: s.Tree, policies: s.Policies}
}

func (s *Organizations) GetOrganization(ctx context.Context, req *resourcemanagerpb.GetOrganizationRequest) (*resourcemanagerpb.Organization, error) {
	if err := s.c().check(req.GetName(), OrganizationGetPermission); err != nil {
		return nil, err
	}
	o, _ := s.Tree.Organization(req.GetName())
	return &resourcemanagerpb.Organization{Name: o.Name, DisplayName: o.DisplayName, State: resourcemanagerpb.Organization_ACTIVE,
		CreateTime: timestamppb.New(created), Etag: fmt.Sprintf("W/\"%s\"", hierarchy.Number(o.Name))}, nil
}

func (s *Organizations) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return s.c().getIamPolicy(req)
}

func (s *Organizations) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return s.c().setIamPolicy(req)
}
