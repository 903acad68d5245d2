// Package resourcemanager fakes Resource Manager v3 Projects.GetProject,
// the call that turns a project ID into the project number IAP needs.
package resourcemanager

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/projects"
)

// Server implements resourcemanagerpb.ProjectsServer; only GetProject is
// modelled.
type Server struct {
	resourcemanagerpb.UnimplementedProjectsServer
	Directory *projects.Directory
}

var _ resourcemanagerpb.ProjectsServer = (*Server)(nil)

var created = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Denied is Resource Manager's PERMISSION_DENIED for projects/{id}: a project the caller may
// not read, or one that does not exist.
func Denied(name string) error {
	return apierr.IAMPermissionDenied(GetPermission, name, "//cloudresourcemanager.googleapis.com/"+name)
}

// GetPermission is what GetProject needs on the project.
const GetPermission = "resourcemanager.projects.get"

func (s *Server) GetProject(ctx context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error) {
	name := req.GetName()
	id, ok := strings.CutPrefix(name, "projects/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, apierr.BadRequest(fmt.Sprintf("Invalid project name %q; expected projects/{project_id_or_number}.", name),
			apierr.FieldViolation{Field: "name", Description: "must be of the form projects/{project_id_or_number}"})
	}
	p, ok := s.Directory.Lookup(id)
	if !ok {
		// Resource Manager does not tell a missing project from one the
		// caller may not read.
		return nil, Denied(name)
	}
	return &resourcemanagerpb.Project{
		Name:        fmt.Sprintf("projects/%d", p.Number),
		ProjectId:   p.ID,
		DisplayName: p.ID,
		State:       resourcemanagerpb.Project_ACTIVE,
		CreateTime:  timestamppb.New(created),
		Etag:        fmt.Sprintf("W/\"%d\"", p.Number),
	}, nil
}
