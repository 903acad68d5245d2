package gcpfake

import (
	"strings"

	"github.com/runguard/runguard/internal/gcpfake/acm"
	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/hierarchy"
	"github.com/runguard/runguard/internal/gcpfake/iamadmin"
	"github.com/runguard/runguard/internal/gcpfake/names"
)

// The registration table's helpers (methods.go): where each method's permission is checked,
// where an audited change happened, where a call is metered.

// Targets: where each method's permission is checked.

func serviceTarget(_ any, resource string) (target, bool) {
	sv, ok := names.ParseService(resource)
	return target{resource: resource, project: sv.Project}, ok
}

// parentTarget: the location a service is created in or listed from.
func parentTarget(req any, _ string) (target, bool) {
	return locationTarget(req, req.(interface{ GetParent() string }).GetParent())
}

func operationTarget(_ any, resource string) (target, bool) {
	project, _, _, _ := names.ParseOperation(resource)
	return target{resource: resource, project: project}, true
}

// locationTarget: a location, projects/{project}/locations/{location} (ListOperations names
// it in its name field).
func locationTarget(_ any, resource string) (target, bool) {
	project, _, _ := names.ParseLocation(resource)
	return target{resource: resource, project: project}, true
}

func iapTarget(_ any, resource string) (target, bool) {
	r, ok := names.ParseIAP(resource)
	return target{resource: resource, project: r.Project, scope: r.Scope()}, ok
}

func projectTarget(_ any, resource string) (target, bool) {
	project, _ := strings.CutPrefix(resource, "projects/")
	return target{resource: resource, project: project}, true
}

// nodeTarget: a folder or an organization, checked on itself and what is above it.
func nodeTarget(_ any, resource string) (target, bool) {
	return target{resource: resource, node: resource}, hierarchy.IsFolder(resource) || hierarchy.IsOrganization(resource)
}

// roleTarget: a custom role is read with iam.roles.get on the project or organization it is
// defined in; a predefined role has no target, so anyone may read it.
func roleTarget(_ any, resource string) (target, bool) {
	parent, ok := iamadmin.IsCustom(resource)
	if !ok {
		return target{}, false
	}
	if project, isProject := strings.CutPrefix(parent, "projects/"); isProject {
		return target{resource: resource, project: project}, true
	}
	return target{resource: resource, node: parent}, true
}

// Places: where an audited change happened.

func placeService(resource string) (where, bool) {
	sv, ok := names.ParseService(resource)
	return where{project: sv.Project, location: sv.Location, service: sv.ID}, ok
}

func placeIAP(resource string) (where, bool) {
	r, ok := names.ParseIAP(resource)
	return where{project: r.Project, location: r.Location, service: r.Service, scope: r.Scope()}, ok
}

// placeProject: a project's own resource, projects/{id or number}.
func placeProject(resource string) (where, bool) {
	project, ok := strings.CutPrefix(resource, "projects/")
	return where{project: project}, ok && project != "" && !strings.Contains(project, "/")
}

// placeContainer: a folder or an organization, whose log the entry is written to.
func placeContainer(resource string) (where, bool) {
	return where{container: resource}, hierarchy.IsFolder(resource) || hierarchy.IsOrganization(resource)
}

// acmTarget: an Access Context Manager resource, checked on its access policy, or an
// organization (ListAccessPolicies' parent).
func acmTarget(_ any, resource string) (target, bool) {
	if p := acm.PolicyOf(resource); p != "" {
		return target{resource: resource, node: p}, true
	}
	return target{resource: resource, node: resource}, acm.ValidOrganization(resource)
}

// acmDeny is IAM's refusal in the words most APIs use.
func acmDeny(permission, resource string) error {
	return apierr.IAMPermissionDenied(permission, resource, resource)
}

// placeAccessLevel: an access level, or an access policy (its allow policy), belongs to the
// policy's organization.
func placeAccessLevel(resource string) (where, bool) {
	_, ok := acm.ParseLevel(resource)
	return where{inOrganization: true}, ok || acm.ValidPolicyName(resource)
}

// acmQuotaScope: any Access Context Manager resource, counted in its organization.
func acmQuotaScope(resource string) (consumer, region string, ok bool) {
	return resource, "", acm.PolicyOf(resource) != "" || acm.ValidOrganization(resource)
}

// gcloudV1Service is the name Cloud Run's v1 API logs service writes under:
// namespaces/{project}/services/{service}.
func gcloudV1Service(canonical string) string {
	sv, _ := names.ParseService(canonical)
	return "namespaces/" + sv.Project + "/services/" + sv.ID
}
