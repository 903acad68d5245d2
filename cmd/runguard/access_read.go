package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/reach"
)

// serviceAccess is everything above and on one Cloud Run service that decides who passes IAP to
// it, as the caller could read it: who-can lists it, can evaluates it.
type serviceAccess struct {
	target gcp.Service
	// iapOn is whether IAP is on for the service; nil when the caller may not read the service.
	iapOn *bool
	// grants are the bindings of every policy that applies, innermost first, as the controller
	// reads them: the service's IAP policy, its region's and project's IAP levels, the project,
	// its folders and organization.
	grants []grant
	// customRoles are the permissions of the custom roles the bindings grant, as read; a role
	// that no longer exists grants none.
	customRoles map[string][]string
	// levels are the access levels the conditions name, and those they require, by full name, as
	// read (can only).
	levels map[string]*acmpb.AccessLevel
	// unread are the policies and roles the caller may not read: what they grant is unknown.
	unread []unread
	notes  []string
}

// grant is one binding, and runguard's mark on it when runguard wrote it.
type grant struct {
	binding reach.Binding
	marker  *iampolicy.Marker
}

// unread is one read the caller was refused.
type unread struct {
	What       string `json:"what"`
	Resource   string `json:"resource"`
	Permission string `json:"permission"`
}

// What was not read (unread.What).
const (
	unreadPolicy = "the policy of"
	unreadParent = "the parent of"
	unreadRole   = "the custom role"
	unreadLevel  = "the access level"
)

// unknown says what is not known for want of the read.
func (u unread) unknown() string {
	switch u.What {
	case unreadParent:
		return "what the policies above " + u.Resource + " grant"
	case unreadRole:
		return "whether the custom role " + u.Resource + " includes " + reach.AccessPermission
	case unreadLevel:
		return "what the access level " + u.Resource + " admits"
	}
	return "what the policy of " + u.Resource + " grants"
}

// errUnknownService is the error of a service Cloud Run does not have.
var errUnknownService = errors.New("no such Cloud Run service")

// parseTarget reads PROJECT/REGION/SERVICE, or the service's full name
// projects/PROJECT/locations/REGION/services/SERVICE.
func parseTarget(arg string) (gcp.Service, error) {
	parts := strings.Split(arg, "/")
	if len(parts) == 6 && parts[0] == "projects" && parts[2] == "locations" && parts[4] == "services" {
		parts = []string{parts[1], parts[3], parts[5]}
	}
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return gcp.Service{}, fmt.Errorf("%q is not PROJECT/REGION/SERVICE (e.g. acme-prod/us-central1/billing-dashboard)", arg)
	}
	return gcp.Service{Project: parts[0], Location: parts[1], Name: parts[2]}, nil
}

// readAccess parses the target and checks the output format, then reads the service's access as
// the flags say (and, with levels, the access levels its conditions name). Nothing is read when
// the arguments are wrong.
func (g *googleFlags) readAccess(ctx context.Context, targetArg, output string, levels bool) (*serviceAccess, error) {
	target, err := parseTarget(targetArg)
	if err != nil {
		return nil, err
	}
	if err := validateOutput(output); err != nil {
		return nil, err
	}
	ctx, google, done, err := g.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	access, err := readServiceAccess(ctx, google, target)
	if err == nil && levels {
		err = access.readLevels(ctx, google)
	}
	if err != nil {
		return nil, g.explain(err)
	}
	return access, nil
}

// readServiceAccess reads every policy that applies to the service, and the custom roles they
// grant, as the caller. A read the caller is refused is recorded in unread and the others are
// made; any other failure ends it.
func readServiceAccess(ctx context.Context, google *gcp.Clients, target gcp.Service) (*serviceAccess, error) {
	number, err := google.ProjectNumber(ctx, target.Project)
	if err != nil {
		return nil, err
	}
	target.Number = number
	a := &serviceAccess{target: target, customRoles: map[string][]string{}}
	if err := a.readService(ctx, google); err != nil {
		return nil, err
	}
	own, err := google.AccessPolicies().Get(ctx, target)
	if gcp.Classify(err) == gcp.NotFound {
		return nil, fmt.Errorf("%w: %s: %v", errUnknownService, target.Path(), err)
	}
	if err := a.add(reach.Service, target.IAPResource(), own, err); err != nil {
		return nil, err
	}
	h := google.Hierarchy()
	for _, level := range []struct {
		kind     reach.Kind
		resource string
	}{{reach.IAPRegion, target.IAPRegion()}, {reach.IAPProject, target.IAPWeb()}} {
		p, err := h.IAPPolicy(ctx, level.resource)
		if err := a.add(level.kind, level.resource, p, err); err != nil {
			return nil, err
		}
	}
	p, err := h.ProjectPolicy(ctx, number)
	if err := a.add(reach.Project, fmt.Sprintf("projects/%d", number), p, err); err != nil {
		return nil, err
	}
	if err := a.readAncestors(ctx, h); err != nil {
		return nil, err
	}
	return a, a.readCustomRoles(ctx, h)
}

// readService reads whether IAP is on; a service Cloud Run does not have is errUnknownService.
func (a *serviceAccess) readService(ctx context.Context, google *gcp.Clients) error {
	svc, err := google.Services().Get(ctx, a.target)
	switch {
	case err == nil:
		on := svc.GetIapEnabled()
		a.iapOn = &on
		if !on {
			a.notes = append(a.notes, "IAP is off on this service: requests do not pass IAP, so these grants decide nothing until it is on (its invoker policy decides who calls it)")
		}
		return nil
	case gcp.Classify(err) == gcp.NotFound:
		return fmt.Errorf("%w: %s", errUnknownService, a.target.Path())
	case gcp.Classify(err) == gcp.PermissionDenied:
		a.notes = append(a.notes, fmt.Sprintf("whether IAP is on is not known: the caller lacks %s on %s", gcp.Permission(err), a.target.Path()))
		return nil
	}
	return err
}

// add takes a policy's bindings, or records that the caller may not read it.
func (a *serviceAccess) add(kind reach.Kind, resource string, p *iampb.Policy, err error) error {
	if err != nil {
		return a.refused(err, unreadPolicy)
	}
	for _, b := range p.GetBindings() {
		g := grant{binding: reach.Binding{Where: reach.Where{Kind: kind, Resource: resource}, Role: b.GetRole(),
			Members: b.GetMembers(), Condition: b.GetCondition().GetExpression(), Title: b.GetCondition().GetTitle()}}
		if m, ok := iampolicy.ParseMarker(b.GetCondition()); ok && kind == reach.Service {
			g.marker = &m
		}
		a.grants = append(a.grants, g)
	}
	return nil
}

// refused records a read the caller may not make; any other failure is returned.
func (a *serviceAccess) refused(err error, what string) error {
	if gcp.Classify(err) != gcp.PermissionDenied {
		return err
	}
	a.unread = append(a.unread, unread{What: what, Resource: gcp.Resource(err), Permission: gcp.Permission(err)})
	return nil
}

// readAncestors reads the policies of the project's folders and organization.
func (a *serviceAccess) readAncestors(ctx context.Context, h gcp.Hierarchy) error {
	ancestors, err := h.Ancestors(ctx, a.target.Number)
	if err != nil {
		return a.refused(err, unreadParent)
	}
	for _, name := range ancestors {
		kind, read := reach.Folder, h.FolderPolicy
		if strings.HasPrefix(name, "organizations/") {
			kind, read = reach.Organization, h.OrganizationPolicy
		}
		p, err := read(ctx, name)
		if err := a.add(kind, name, p, err); err != nil {
			return err
		}
	}
	return nil
}

// readCustomRoles reads the permissions of the custom roles the bindings grant.
func (a *serviceAccess) readCustomRoles(ctx context.Context, h gcp.Hierarchy) error {
	tried := map[string]bool{}
	for _, g := range a.grants {
		role := g.binding.Role
		if tried[role] || strings.HasPrefix(role, "roles/") {
			continue
		}
		tried[role] = true
		permissions, err := h.Role(ctx, role)
		switch {
		case err == nil:
			a.customRoles[role] = permissions
		case gcp.Classify(err) == gcp.NotFound:
			a.customRoles[role] = nil
			a.notes = append(a.notes, fmt.Sprintf("the custom role %s no longer exists: its bindings grant nothing", role))
		default:
			if err := a.refused(err, unreadRole); err != nil {
				return err
			}
		}
	}
	return nil
}

// bindings are the grants as reach takes them, innermost first.
func (a *serviceAccess) bindings() []reach.Binding {
	out := make([]reach.Binding, 0, len(a.grants))
	for _, g := range a.grants {
		out = append(out, g.binding)
	}
	return out
}

// carries says which roles include the permission IAP checks, from the roles read.
func (a *serviceAccess) carries() func(string) bool { return reach.RoleCarrier(a.customRoles) }
