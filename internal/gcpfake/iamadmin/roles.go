// Package iamadmin fakes the IAM Admin API v1's roles.get (google.iam.admin.v1.IAM GetRole): the
// definition of a predefined role (roles/…) or a custom one
// (projects/{project}/roles/{id}, organizations/{organization}/roles/{id}), with its
// included_permissions. Every other method answers UNIMPLEMENTED.
package iamadmin

import (
	"context"
	"crypto/sha256"
	"regexp"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake/access"
	"github.com/runguard/runguard/internal/gcpfake/apierr"
)

// GetRolePermission is what roles.get documents on a custom role's project or organization:
// "Authorization requires the following IAM permission on the specified resource name:
// iam.roles.get".
const GetRolePermission = "iam.roles.get"

// Server implements adminpb.IAMServer's GetRole.
type Server struct {
	adminpb.UnimplementedIAMServer
	Access *access.Authority
}

var _ adminpb.IAMServer = (*Server)(nil)

var roleNameRE = regexp.MustCompile(`^(roles/[^/]+|(projects|organizations)/[^/]+/roles/[^/]+)$`)

// msgRoleName is IAM's answer to a role name of another form (as quoted in
// google-github-actions/example-workflows#19).
const msgRoleName = `The role name must be in the form "roles/{role}", "organizations/{organization_id}/roles/{role}", or "projects/{project_id}/roles/{role}".`

func (s *Server) GetRole(ctx context.Context, req *adminpb.GetRoleRequest) (*adminpb.Role, error) {
	name := req.GetName()
	if !roleNameRE.MatchString(name) {
		return nil, apierr.BadRequest(msgRoleName, apierr.FieldViolation{Field: "name", Description: msgRoleName})
	}
	r, ok := s.Access.Role(name)
	if !ok {
		// The fake's wording; Google's for a role that does not exist was not found.
		return nil, apierr.New(codes.NotFound, "The role named "+name+" was not found.")
	}
	out := &adminpb.Role{Name: r.Name, Title: r.Title, IncludedPermissions: r.Permissions, Stage: adminpb.Role_GA}
	if out.Title == "" {
		out.Title = name[strings.LastIndex(name, "/")+1:]
	}
	// A custom role's etag changes with its definition; a predefined role has one too.
	sum := sha256.Sum256([]byte(name + "\x00" + strings.Join(r.Permissions, ",")))
	out.Etag = append([]byte{0x07}, sum[:7]...)
	return out, nil
}

// IsCustom reports whether a role name is a custom role's, and the project or organization it
// is defined in.
func IsCustom(name string) (parent string, ok bool) {
	if !roleNameRE.MatchString(name) || strings.HasPrefix(name, "roles/") {
		return "", false
	}
	parent, _, _ = strings.Cut(name, "/roles/")
	return parent, true
}
