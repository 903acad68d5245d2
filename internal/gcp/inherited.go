package gcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/api/option"
)

// Hierarchy reads the allow policies above a Cloud Run service that can let members through IAP
// without appearing in the service's own IAP policy: the project's (Resource Manager), IAP's
// project-wide projects/{n}/iap_web and region-wide projects/{n}/iap_web/cloud_run-{region},
// the project's folders' and its organization's, and the roles those policies bind (IAM's
// roles.get), to tell which carry iap.webServiceVersions.accessViaIAP. It only reads, as the
// identity of the Clients it came from: take it from ActingAs(ctx, account) to read as a
// namespace's service account, like the other reads of a pass (docs/google-apis-inherited.md).
//
// Every policy is read as version 3, so conditional bindings come with their conditions. Calls
// are paced (Rates: ResourceManagerReadsPerMinute, IAPReadsPerMinute, IAMReadsPerMinute) and
// counted; a failure is a *CallError naming the permission the call needs, so Classify says
// PermissionDenied or NotFound and Permission says what to grant.
type Hierarchy struct{ c *Clients }

// Hierarchy reads what is above a service as c's identity.
func (c *Clients) Hierarchy() Hierarchy { return Hierarchy{c} }

// maxAncestors bounds a project's chain of parents: folders nest at most ten deep under the
// organization (Resource Manager's folder limits), so a longer chain is an error, not a loop.
const maxAncestors = 11

// errAncestry is the error of a chain of parents Google cannot have answered.
var errAncestry = errors.New("the chain of parents is not folders ending in an organization")

// pacing scopes: Resource Manager and IAM count their quotas per consumer project, which is the
// caller's, not the resource's, so their calls share one bucket per API.
const consumerScope = "global"

// ProjectPolicy reads the allow policy of the project (Resource Manager's projects/{number}).
func (h Hierarchy) ProjectPolicy(ctx context.Context, projectNumber int64) (*iampb.Policy, error) {
	name := fmt.Sprintf("projects/%d", projectNumber)
	return pacedRead(ctx, h.c, readCall{"resourcemanager", consumerScope, "resourcemanager.GetIamPolicy", "read the IAM policy of", name, "resourcemanager.projects.getIamPolicy"},
		func() (*iampb.Policy, error) {
			return h.c.projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name, Options: version3()})
		})
}

// IAPPolicy reads the allow policy of an IAP resource: the project's iap_web
// (Service.IAPWeb), the region-wide cloud_run-{region} (Service.IAPRegion) or a service's.
func (h Hierarchy) IAPPolicy(ctx context.Context, resource string) (*iampb.Policy, error) {
	permission, scope := iapLevel(resource)
	return pacedRead(ctx, h.c, readCall{"iap", scope, "iap.GetIamPolicy", "read the IAP access policy of", resource, permission},
		func() (*iampb.Policy, error) {
			return h.c.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: resource, Options: version3()})
		})
}

// Ancestors is what is above the project, nearest first: its folders (folders/{n}) and its
// organization (organizations/{n}), from GetProject's and GetFolder's parents. A project outside
// any organization has none.
func (h Hierarchy) Ancestors(ctx context.Context, projectNumber int64) ([]string, error) {
	name := fmt.Sprintf("projects/%d", projectNumber)
	p, err := pacedRead(ctx, h.c, readCall{"resourcemanager", consumerScope, "resourcemanager.GetProject", "read the parent of", name, "resourcemanager.projects.get"},
		func() (*resourcemanagerpb.Project, error) {
			return h.c.projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: name})
		})
	if err != nil {
		return nil, err
	}
	var out []string
	for parent := p.GetParent(); parent != ""; {
		out = append(out, parent)
		switch {
		case len(out) > maxAncestors:
			return nil, fmt.Errorf("read the ancestors of %s: %w (%v)", name, errAncestry, out)
		case strings.HasPrefix(parent, "organizations/"):
			return out, nil
		case !strings.HasPrefix(parent, "folders/"):
			return nil, fmt.Errorf("read the ancestors of %s: %w (parent %q)", name, errAncestry, parent)
		}
		if parent, err = h.folderParent(ctx, parent); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (h Hierarchy) folderParent(ctx context.Context, folder string) (string, error) {
	folders, err := h.c.above.folders(ctx)
	if err != nil {
		return "", err
	}
	f, err := pacedRead(ctx, h.c, readCall{"resourcemanager", consumerScope, "folders.GetFolder", "read the parent of", folder, "resourcemanager.folders.get"},
		func() (*resourcemanagerpb.Folder, error) {
			return folders.GetFolder(ctx, &resourcemanagerpb.GetFolderRequest{Name: folder})
		})
	return f.GetParent(), err
}

// FolderPolicy reads the allow policy of a folder (folders/{n}).
func (h Hierarchy) FolderPolicy(ctx context.Context, folder string) (*iampb.Policy, error) {
	folders, err := h.c.above.folders(ctx)
	if err != nil {
		return nil, err
	}
	return pacedRead(ctx, h.c, readCall{"resourcemanager", consumerScope, "folders.GetIamPolicy", "read the IAM policy of", folder, "resourcemanager.folders.getIamPolicy"},
		func() (*iampb.Policy, error) {
			return folders.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: folder, Options: version3()})
		})
}

// OrganizationPolicy reads the allow policy of an organization (organizations/{n}).
func (h Hierarchy) OrganizationPolicy(ctx context.Context, organization string) (*iampb.Policy, error) {
	orgs, err := h.c.above.organizations(ctx)
	if err != nil {
		return nil, err
	}
	return pacedRead(ctx, h.c, readCall{"resourcemanager", consumerScope, "organizations.GetIamPolicy", "read the IAM policy of", organization, "resourcemanager.organizations.getIamPolicy"},
		func() (*iampb.Policy, error) {
			return orgs.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: organization, Options: version3()})
		})
}

// Role reads the permissions a role grants: a predefined role (roles/…) or a custom one
// (projects/{p}/roles/{r}, organizations/{o}/roles/{r}), whose project or organization needs
// iam.roles.get. A role that does not exist is an error Classify calls NotFound.
func (h Hierarchy) Role(ctx context.Context, name string) ([]string, error) {
	roles, err := h.c.above.roles(ctx)
	if err != nil {
		return nil, err
	}
	r, err := pacedRead(ctx, h.c, readCall{"iam", consumerScope, "iam.GetRole", "read the role", name, "iam.roles.get"},
		func() (*adminpb.Role, error) { return roles.GetRole(ctx, &adminpb.GetRoleRequest{Name: name}) })
	return r.GetIncludedPermissions(), err
}

func version3() *iampb.GetPolicyOptions { return &iampb.GetPolicyOptions{RequestedPolicyVersion: 3} }

// iapLevel is the permission reading an IAP resource's policy needs at its level, and the
// project number and region its quota is counted in.
func iapLevel(resource string) (permission, scope string) {
	parts := strings.Split(resource, "/")
	number := ""
	if len(parts) > 1 {
		number = parts[1]
	}
	switch {
	case len(parts) == 3:
		return "iap.web.getIamPolicy", number + "/"
	case len(parts) == 4:
		return "iap.webTypes.getIamPolicy", number + "/" + strings.TrimPrefix(parts[3], "cloud_run-")
	case len(parts) > 4:
		return "iap.webServices.getIamPolicy", number + "/" + strings.TrimPrefix(parts[3], "cloud_run-")
	}
	return "iap.webServices.getIamPolicy", resource
}

// readCall names one read: the API and scope it is paced in, its method (for the call counter),
// what it does, on which resource, with which permission.
type readCall struct{ api, scope, method, op, resource, permission string }

// pacedRead makes one paced, counted read; its failure is a *CallError.
func pacedRead[T any](ctx context.Context, c *Clients, k readCall, call func() (T, error)) (T, error) {
	var out T
	err := c.paced(ctx, k.api, false, k.scope, func() (err error) {
		out, err = call()
		return err
	})
	countCall(k.method, err)
	if err != nil {
		return out, callError(k.op, k.resource, k.permission, err)
	}
	return out, nil
}

// aboveClients are the clients Hierarchy needs beyond the ones New dials, each dialled at its
// first use with its identity's options.
type aboveClients struct {
	rmOpts, iamOpts []option.ClientOption

	mu      sync.Mutex
	folderC *resourcemanager.FoldersClient
	orgC    *resourcemanager.OrganizationsClient
	roleC   *admin.IamClient
}

func (a *aboveClients) folders(ctx context.Context) (*resourcemanager.FoldersClient, error) {
	return dialOnce(ctx, a, &a.folderC, "Resource Manager folders", func(ctx context.Context) (*resourcemanager.FoldersClient, error) {
		return resourcemanager.NewFoldersClient(ctx, a.rmOpts...)
	})
}

func (a *aboveClients) organizations(ctx context.Context) (*resourcemanager.OrganizationsClient, error) {
	return dialOnce(ctx, a, &a.orgC, "Resource Manager organizations", func(ctx context.Context) (*resourcemanager.OrganizationsClient, error) {
		return resourcemanager.NewOrganizationsClient(ctx, a.rmOpts...)
	})
}

func (a *aboveClients) roles(ctx context.Context) (*admin.IamClient, error) {
	return dialOnce(ctx, a, &a.roleC, "IAM", func(ctx context.Context) (*admin.IamClient, error) {
		return admin.NewIamClient(ctx, a.iamOpts...)
	})
}

// dialOnce returns the client in slot, dialling it first if need be.
func dialOnce[C any](ctx context.Context, a *aboveClients, slot **C, what string, dial func(context.Context) (*C, error)) (*C, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if *slot != nil {
		return *slot, nil
	}
	// The client outlives this call: its context must not be cancelled with it.
	c, err := dial(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("create %s client: %w", what, err)
	}
	*slot = c
	return c, nil
}

// close closes the clients that were dialled.
func (a *aboveClients) close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.folderC != nil {
		_ = a.folderC.Close()
	}
	if a.orgC != nil {
		_ = a.orgC.Close()
	}
	if a.roleC != nil {
		_ = a.roleC.Close()
	}
	a.folderC, a.orgC, a.roleC = nil, nil, nil
}
