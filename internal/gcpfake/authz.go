package gcpfake

import (
	"context"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/names"
	"github.com/runguard/runguard/internal/gcpfake/projects"
	"github.com/runguard/runguard/internal/gcpfake/resourcemanager"
)

// The texts Google's front end answers 401 with: no credential at all
// (googleapis/google-api-php-client#2479), and one it does not accept — unknown, expired or not
// a bearer token (Atrejoe/Inky-Calendar-Server#99).
const (
	msgMissingCredential = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgInvalidCredential = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)

// authenticate finds who is calling from the bearer token in the "authorization" metadata (REST
// requests carry the HTTP header there too). A request without a token is the seed's default
// caller; with access control off, nobody in particular (""). A token the fake did not issue,
// or one that expired, is refused whether access control is on or not.
func (s *Server) authenticate(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) == 0 || values[0] == "" {
		if s.access.Enforced() && s.access.DefaultCaller() == "" {
			return "", apierr.New(codes.Unauthenticated, msgMissingCredential)
		}
		return s.access.DefaultCaller(), nil
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", apierr.New(codes.Unauthenticated, msgInvalidCredential)
	}
	principal, ok := s.tokens.Lookup(strings.TrimSpace(token))
	if !ok {
		return "", apierr.New(codes.Unauthenticated, msgInvalidCredential)
	}
	return principal, nil
}

// requirement is the permission a call needs, on which resource of which project, and how
// Google words the denial.
type requirement struct {
	permission string
	resource   string // as the caller wrote it
	project    projects.Project
	deny       func() error
}

// authorize checks the caller may use the permission the method needs on its resource: no
// deny rule takes it away there, and the caller holds it on the project the resource belongs
// to. Calls whose project is not seeded pass: the handler answers them as it always has
// (PERMISSION_DENIED "…or it may not exist").
func (s *Server) authorize(method string, req any, caller string) error {
	r, ok := s.requirementOf(method, req)
	if !ok || s.access.Permitted(caller, r.project.ID, s.resourceKey(r.resource), r.permission) {
		return nil
	}
	return r.deny()
}

// requirementOf maps a method to the permission Google documents for it (the "IAM Permissions"
// section of each REST method's reference page; Cloud Run's IAM permissions page; IAP:
// iap.webServices.* on a service's resource, iap.webTypes.* on the region-wide one).
// TestIamPermissions needs none: anyone may ask what they hold.
func (s *Server) requirementOf(method string, req any) (requirement, bool) {
	var permission, resource, project string
	switch method {
	case "run.GetService", "run.UpdateService", "run.DeleteService", "run.GetIamPolicy", "run.SetIamPolicy":
		permission = map[string]string{
			"run.GetService": "run.services.get", "run.UpdateService": "run.services.update", "run.DeleteService": "run.services.delete",
			"run.GetIamPolicy": "run.services.getIamPolicy", "run.SetIamPolicy": "run.services.setIamPolicy",
		}[method]
		resource = resourceOf(req)
		sv, ok := names.ParseService(resource)
		if !ok {
			return requirement{}, false
		}
		project = sv.Project
	case "run.CreateService", "run.ListServices":
		permission = "run.services.create"
		if method == "run.ListServices" {
			permission = "run.services.list"
		}
		resource = req.(interface{ GetParent() string }).GetParent()
		project, _, _ = names.ParseLocation(resource)
	case "operations.GetOperation", "operations.WaitOperation", "operations.DeleteOperation":
		permission = "run.operations.get"
		if method == "operations.DeleteOperation" {
			permission = "run.operations.delete"
		}
		resource = resourceOf(req)
		project, _, _, _ = names.ParseOperation(resource)
	case "operations.ListOperations":
		permission, resource = "run.operations.list", req.(*longrunningpb.ListOperationsRequest).GetName()
		project, _, _ = names.ParseLocation(resource)
	case "iap.GetIamPolicy", "iap.SetIamPolicy", "iap.GetIapSettings", "iap.UpdateIapSettings":
		resource = resourceOf(req)
		r, ok := names.ParseIAP(resource)
		if !ok {
			return requirement{}, false
		}
		kind := "iap.webServices."
		if r.Service == "" {
			kind = "iap.webTypes."
		}
		permission = kind + map[string]string{
			"iap.GetIamPolicy": "getIamPolicy", "iap.SetIamPolicy": "setIamPolicy",
			"iap.GetIapSettings": "getSettings", "iap.UpdateIapSettings": "updateSettings",
		}[method]
		project = r.Project
	case "resourcemanager.GetProject":
		permission, resource = resourcemanager.GetPermission, req.(*resourcemanagerpb.GetProjectRequest).GetName()
		project, _ = strings.CutPrefix(resource, "projects/")
	default:
		return requirement{}, false
	}
	p, ok := s.dir.Lookup(project)
	if !ok || project == "" {
		return requirement{}, false
	}
	if strings.HasPrefix(method, "iap.") && p.IAPAPIDisabled {
		// A disabled API is refused before IAM is asked.
		return requirement{}, false
	}
	r := requirement{permission: permission, resource: resource, project: p}
	switch {
	case strings.HasPrefix(method, "iap."):
		r.deny = func() error { return apierr.IAMPermissionDenied(permission, resource, resource) }
	case method == "resourcemanager.GetProject":
		r.deny = func() error { return resourcemanager.Denied(resource) }
	default:
		r.deny = func() error { return apierr.RunPermissionDenied(permission, resource) }
	}
	return r, true
}

// filterTested leaves out of a TestIamPermissions answer what the caller may not use on the
// resource, by the same rules as authorize.
func (s *Server) filterTested(method string, req, resp any, caller string) any {
	out, ok := resp.(*iampb.TestIamPermissionsResponse)
	if !ok {
		return resp
	}
	resource := req.(*iampb.TestIamPermissionsRequest).GetResource()
	var project string
	if strings.HasPrefix(method, "iap.") {
		r, _ := names.ParseIAP(resource)
		project = r.Project
	} else {
		sv, _ := names.ParseService(resource)
		project = sv.Project
	}
	p, _ := s.dir.Lookup(project)
	key := s.resourceKey(resource)
	filtered := &iampb.TestIamPermissionsResponse{}
	for _, perm := range out.GetPermissions() {
		if s.access.Permitted(caller, p.ID, key, perm) {
			filtered.Permissions = append(filtered.Permissions, perm)
		}
	}
	return filtered
}

// principalEmail is the caller as audit logs name it: the email of a user or service account.
func principalEmail(member string) string {
	if _, email, ok := strings.Cut(member, ":"); ok && !strings.Contains(member, "://") {
		return email
	}
	return member
}
