package gcpfake

import (
	"context"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/runguard/runguard/internal/gcpfake/acm"
	"github.com/runguard/runguard/internal/gcpfake/apierr"
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

// requirement is the permission a call needs, on which resource, where grants of it count (a
// project by ID, or a folder, organization or access policy, each with what is above it), and
// how Google words the denial.
type requirement struct {
	permission string
	resource   string // as the caller wrote it
	grantedOn  []string
	deny       func() error
}

// authorize checks the caller may use the permission the method needs on its resource: no
// deny rule takes it away there, and the caller holds it where grants count for the resource
// (its project and the project's folders and organization; a folder or organization and what is
// above it; an access policy and its organization). Calls whose resource is not seeded pass:
// the handler answers them as it always has (PERMISSION_DENIED "…or it may not exist").
func (s *Server) authorize(method string, req any, caller string) error {
	r, ok := s.requirementOf(method, req)
	if !ok || s.permitted(caller, r.grantedOn, r.resource, r.permission) {
		return nil
	}
	return r.deny()
}

// permitted: the caller holds permission on resource through a grant on any of grantedOn. With
// nowhere to grant on (a project that is not seeded), only access control off permits.
func (s *Server) permitted(caller string, grantedOn []string, resource, permission string) bool {
	key := s.resourceKey(resource)
	if len(grantedOn) == 0 {
		grantedOn = []string{""}
	}
	for _, where := range grantedOn {
		if s.access.Permitted(caller, where, key, permission) {
			return true
		}
	}
	return false
}

// requirementOf is the permission the method's entry in the registration table (methods.go)
// names, on its target. No requirement: a method that needs none (TestIamPermissions) or is
// not registered, a target the fake cannot name, a resource that is not seeded, or an API
// disabled in the project (it refuses the call before IAM is asked).
func (s *Server) requirementOf(method string, req any) (requirement, bool) {
	reg, ok := lookupMethod(method)
	if !ok || reg.method.permission == "" {
		return requirement{}, false
	}
	t, ok := reg.method.target(req, resourceOf(method, req))
	if !ok {
		return requirement{}, false
	}
	grantedOn, ok := s.grantedOn(reg, t)
	if !ok {
		return requirement{}, false
	}
	permission := reg.method.permissionOn(t.scope)
	return requirement{permission: permission, resource: t.resource, grantedOn: grantedOn,
		deny: func() error { return reg.api.deny(permission, t.resource) }}, true
}

// grantedOn is where grants count for a target, nearest first: IAM policies are inherited down
// the resource hierarchy. False when the target is not seeded or the API is disabled in the
// project.
func (s *Server) grantedOn(reg registered, t target) ([]string, bool) {
	if t.node != "" {
		chain := s.chainOf(t.node)
		return chain, len(chain) > 0
	}
	if t.project == "" {
		return nil, false
	}
	p, ok := s.dir.Lookup(t.project)
	if !ok || reg.api.disabled != nil && reg.api.disabled(p) {
		return nil, false
	}
	return append([]string{p.ID}, s.tree.Chain(p.Parent)...), true
}

// chainOf is a folder, organization or access policy and everything above it; nothing for one
// that is not seeded.
func (s *Server) chainOf(node string) []string {
	if acm.ValidPolicyName(node) {
		org, ok := s.acm.Organization(node)
		if !ok {
			return nil
		}
		return append([]string{node}, s.tree.Chain(org)...)
	}
	return s.tree.Chain(node)
}

// filterTested leaves out of a TestIamPermissions answer what the caller may not use on the
// resource, by the same rules as authorize.
func (s *Server) filterTested(method string, req, resp any, caller string) any {
	out, ok := resp.(*iampb.TestIamPermissionsResponse)
	if !ok {
		return resp
	}
	resource := req.(*iampb.TestIamPermissionsRequest).GetResource()
	var grantedOn []string
	if reg, ok := lookupMethod(method); ok {
		if t, ok := reg.method.target(req, resource); ok {
			grantedOn, _ = s.grantedOn(registered{api: &api{}, method: reg.method}, t)
		}
	}
	filtered := &iampb.TestIamPermissionsResponse{}
	for _, perm := range out.GetPermissions() {
		if s.permitted(caller, grantedOn, resource, perm) {
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
