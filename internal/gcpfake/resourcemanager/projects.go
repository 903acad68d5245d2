// Package resourcemanager fakes Resource Manager v3: Projects (GetProject, which turns a project
// ID into the number IAP needs and names the project's parent, and the project's IAM policy),
// Folders and Organizations (Get and the IAM policy of each). The policies live in the one IAM
// store (package iampolicy), where they are also the grants the fake's own authorization reads.
package resourcemanager

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
	"github.com/runguard/runguard/internal/gcpfake/projects"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Server implements resourcemanagerpb.ProjectsServer: GetProject, GetIamPolicy and SetIamPolicy.
type Server struct {
	resourcemanagerpb.UnimplementedProjectsServer
	Directory *projects.Directory
	Policies  *iampolicy.Store
}

var _ resourcemanagerpb.ProjectsServer = (*Server)(nil)

var created = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// The permissions each Projects method needs on the project ("IAM Permissions" on each REST
// method's page of Resource Manager v3).
const (
	GetPermission          = "resourcemanager.projects.get"
	GetIamPolicyPermission = "resourcemanager.projects.getIamPolicy"
	SetIamPolicyPermission = "resourcemanager.projects.setIamPolicy"
)

// Denied is Resource Manager's PERMISSION_DENIED for projects/{id}: a project the caller may
// not read, or one that does not exist.
func Denied(name string) error { return DeniedFor(GetPermission, name) }

// DeniedFor is Resource Manager's PERMISSION_DENIED for permission on a project, folder or
// organization: one the caller may not use it on, or one that does not exist.
func DeniedFor(permission, name string) error {
	return apierr.IAMPermissionDenied(permission, name, "//cloudresourcemanager.googleapis.com/"+name)
}

// lookup resolves projects/{id or number}; a project that is not seeded is denied as one the
// caller may not use permission on.
func (s *Server) lookup(name, permission string) (projects.Project, error) {
	id, ok := strings.CutPrefix(name, "projects/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return projects.Project{}, apierr.BadRequest(fmt.Sprintf("Invalid project name %q; expected projects/{project_id_or_number}.", name),
			apierr.FieldViolation{Field: "name", Description: "must be of the form projects/{project_id_or_number}"})
	}
	p, ok := s.Directory.Lookup(id)
	if !ok {
		// Resource Manager does not tell a missing project from one the caller may not read.
		return projects.Project{}, DeniedFor(permission, name)
	}
	return p, nil
}

func (s *Server) GetProject(ctx context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error) {
	p, err := s.lookup(req.GetName(), GetPermission)
	if err != nil {
		return nil, err
	}
	return &resourcemanagerpb.Project{
		Name:        fmt.Sprintf("projects/%d", p.Number),
		Parent:      p.Parent,
		ProjectId:   p.ID,
		DisplayName: p.ID,
		State:       resourcemanagerpb.Project_ACTIVE,
		CreateTime:  timestamppb.New(created),
		Etag:        fmt.Sprintf("W/\"%d\"", p.Number),
	}, nil
}

// GetIamPolicy answers the project's allow policy: "Permission is denied if the policy or the
// resource do not exist" (the method's comment in resourcemanagerpb).
func (s *Server) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	p, err := s.lookup(req.GetResource(), GetIamPolicyPermission)
	if err != nil {
		return nil, err
	}
	return s.Policies.Get(ProjectPolicyName(p.ID), noCheck, req.GetOptions())
}

// SetIamPolicy replaces the project's allow policy. Of the constraints the method documents, the
// fake enforces that "Project does not support allUsers and allAuthenticatedUsers as members".
func (s *Server) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	p, err := s.lookup(req.GetResource(), SetIamPolicyPermission)
	if err != nil {
		return nil, err
	}
	for _, b := range req.GetPolicy().GetBindings() {
		for _, m := range b.GetMembers() {
			if m == "allUsers" || m == "allAuthenticatedUsers" {
				return nil, apierr.BadRequest(fmt.Sprintf("Project does not support %s as a member of a binding (role %s).", m, b.GetRole()),
					apierr.FieldViolation{Field: "policy.bindings.members", Description: m + " cannot be granted on a project"})
			}
		}
	}
	return s.Policies.Set(ProjectPolicyName(p.ID), noCheck, req)
}

// ProjectPolicyName is the name a project's policy is stored under: projects/{id}.
func ProjectPolicyName(id string) string { return "projects/" + id }

// noCheck: a resource that resolved exists.
func noCheck(*store.Tx) error { return nil }
