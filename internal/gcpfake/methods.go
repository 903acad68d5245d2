package gcpfake

import (
	"strings"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iap/apiv1/iappb"
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runguard/runguard/internal/gcpfake/acm"
	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/projects"
	"github.com/runguard/runguard/internal/gcpfake/resourcemanager"
)

// The one registration point of the fake's front end. Every API the gRPC server serves is an
// api below, with its methods: what each needs from IAM, which quota it spends, whether it
// changes anything and what audit entry a change leaves. intercept, authorize, the quotas and
// the audit log read these facts here and nowhere else; a new API is one more entry.

// api is one Google API the fake serves.
type api struct {
	grpcService string // the gRPC service, "google.cloud.run.v2.Services"
	// owns, for a gRPC service several APIs serve (google.longrunning.Operations), says whether
	// the resource a request names is this API's; nil: the service's every request is.
	owns     func(resource string) bool
	prefix   string // of the short method names, "run" (run.GetService)
	endpoint string // its service name, in errors and audit entries: "run.googleapis.com"
	// deny is IAM's refusal of permission on resource, as this API words it.
	deny func(permission, resource string) error
	// disabled: the API is off in the project, and refuses calls before IAM is asked.
	disabled func(projects.Project) bool
	// quota is the rate quota every method of the API spends, reads or writes by
	// method.write; nil: not metered.
	quota *quotaAPI
	// place finds the project, location and resource an audit entry names; auditShape is
	// how the API's entries look.
	place      func(resource string) (where, bool)
	auditShape auditShape
	methods    []method
}

// method is one method of an api.
type method struct {
	name string // gRPC method name, "GetService"
	// permission Google documents for the method ("IAM Permissions" on each REST method's
	// reference page; Cloud Run's IAM permissions page); "": anyone may call it.
	permission string
	// typePermission replaces permission on a region-wide IAP resource (iap.webTypes.*; a
	// service's is iap.webServices.*).
	typePermission string
	// resource is how the caller names the resource a request addresses (logged, metered,
	// faulted and audited under it); nil: the request's resource, name or parent field.
	resource func(req any) string
	// target is the resource the permission is checked on, given the request and its resource.
	target func(req any, resource string) (target, bool)
	write  bool        // changes state: counted as a write, spends write quota
	audit  *auditEntry // the Admin Activity entry of a successful call; nil: none
}

// target is the resource a call's permission is checked on, as the caller wrote it.
type target struct {
	resource   string
	project    string // ID or number, as written
	regionWide bool   // an IAP region-wide resource (typePermission applies)
	// acm is the Access Context Manager resource IAM is asked about instead of a project: an
	// access policy (grants on it and on its organization apply) or an organization.
	acm string
}

// where a change happened, for its audit entry: in a project (and a location), or, for an
// organization-level resource, in the organization a resource belongs to.
type where struct {
	project, location string
	service           string // the Cloud Run service; "" for IAP's region-wide resource
	regionWide        bool
	// inOrganization: resource belongs to an organization (Access Context Manager's levels).
	inOrganization bool
}

// auditEntry is how Google logs a method's change.
type auditEntry struct {
	method string // methodName of a call to the fake, "google.cloud.run.v2.Services.CreateService"
	// gcloud is the methodName of the same change made out of band (gcloud, the console);
	// gcloudResource, if set, the resourceName it logs for a canonical resource name.
	gcloud         string
	gcloudResource func(canonical string) string
}

// permissionOn is the permission the method needs on its target (a region-wide IAP resource or
// any other).
func (m *method) permissionOn(regionWide bool) string {
	if regionWide && m.typePermission != "" {
		return m.typePermission
	}
	return m.permission
}

var (
	runQuota = &quotaAPI{endpoint: runService, locate: runQuotaScope, limit: func(q Quotas, write bool) int {
		if write {
			return q.RunWritesPerMinute
		}
		return q.RunReadsPerMinute
	}}
	iapQuota = &quotaAPI{endpoint: iapService, locate: iapQuotaScope, limit: func(q Quotas, write bool) int {
		if write {
			return q.IAPWritesPerMinute
		}
		return q.IAPReadsPerMinute
	}}
	// Access Context Manager: 500 reads and 50 writes a minute per organization
	// (cloud.google.com/access-context-manager/quotas).
	acmQuota = &quotaAPI{endpoint: acmService, locate: acmQuotaScope, perOrganization: true, limit: func(q Quotas, write bool) int {
		if write {
			return q.ACMWritesPerMinute
		}
		return q.ACMReadsPerMinute
	}}
)

// apis is the registration table.
var apis = []*api{{
	grpcService: "google.cloud.run.v2.Services", prefix: "run", endpoint: runService,
	deny: apierr.RunPermissionDenied, quota: runQuota, place: placeService, auditShape: cloudRunAuditShape,
	methods: []method{
		{name: "CreateService", permission: "run.services.create", target: parentTarget, write: true,
			resource: func(req any) string {
				r := req.(*runpb.CreateServiceRequest)
				return r.GetParent() + "/services/" + r.GetServiceId()
			},
			audit: &auditEntry{method: methodRunCreateV2, gcloud: methodRunCreateV1, gcloudResource: gcloudV1Service}},
		{name: "GetService", permission: "run.services.get", target: serviceTarget},
		{name: "ListServices", permission: "run.services.list", target: parentTarget},
		{name: "UpdateService", permission: "run.services.update", target: serviceTarget, write: true,
			resource: func(req any) string { return req.(*runpb.UpdateServiceRequest).GetService().GetName() },
			audit:    &auditEntry{method: methodRunUpdateV2, gcloud: methodRunReplaceV1, gcloudResource: gcloudV1Service}},
		{name: "DeleteService", permission: "run.services.delete", target: serviceTarget, write: true,
			audit: &auditEntry{method: methodRunDeleteV2, gcloud: methodRunDeleteV1, gcloudResource: gcloudV1Service}},
		{name: "GetIamPolicy", permission: "run.services.getIamPolicy", target: serviceTarget},
		{name: "SetIamPolicy", permission: "run.services.setIamPolicy", target: serviceTarget, write: true,
			audit: &auditEntry{method: methodRunSetIAMV2, gcloud: methodRunSetIAMV1}},
		// Anyone may ask what they hold; the answer leaves out what they may not use.
		{name: "TestIamPermissions", target: serviceTarget},
	},
}, {
	grpcService: "google.identity.accesscontextmanager.v1.AccessContextManager", prefix: "acm", endpoint: acmService,
	deny: acmDeny, quota: acmQuota, place: placeAccessLevel, auditShape: acmAuditShape,
	// Permissions: "IAM Permissions" on each REST method's page, checked on the access policy
	// (and inherited from its organization).
	methods: []method{
		{name: "GetAccessPolicy", permission: acm.PermissionGetPolicy, target: acmTarget},
		{name: "ListAccessPolicies", permission: acm.PermissionListPolicy, target: acmTarget},
		{name: "GetAccessLevel", permission: acm.PermissionGetLevel, target: acmTarget},
		{name: "ListAccessLevels", permission: acm.PermissionListLevels, target: acmTarget},
		// Created where the request's parent says; logged under the new level's name.
		{name: "CreateAccessLevel", permission: acm.PermissionCreateLevel, write: true,
			target: func(req any, _ string) (target, bool) {
				return acmTarget(req, req.(*accesscontextmanagerpb.CreateAccessLevelRequest).GetParent())
			},
			resource: func(req any) string {
				r := req.(*accesscontextmanagerpb.CreateAccessLevelRequest)
				if name := r.GetAccessLevel().GetName(); name != "" {
					return name
				}
				return r.GetParent()
			},
			audit: &auditEntry{method: methodACMCreateLevel, gcloud: methodACMCreateLevel}},
		{name: "UpdateAccessLevel", permission: acm.PermissionUpdateLevel, target: acmTarget, write: true,
			resource: func(req any) string {
				return req.(*accesscontextmanagerpb.UpdateAccessLevelRequest).GetAccessLevel().GetName()
			},
			audit: &auditEntry{method: methodACMUpdateLevel, gcloud: methodACMUpdateLevel}},
		{name: "DeleteAccessLevel", permission: acm.PermissionDeleteLevel, target: acmTarget, write: true,
			audit: &auditEntry{method: methodACMDeleteLevel, gcloud: methodACMDeleteLevel}},
	},
}, {
	// Access Context Manager's operations (operations/…) on the same gRPC service as Cloud
	// Run's. Google documents no permission for them: its roles carry none.
	grpcService: "google.longrunning.Operations", prefix: "acmoperations", endpoint: acmService, owns: acm.IsOperation,
	deny: acmDeny, quota: acmQuota,
	methods: []method{
		{name: "GetOperation", target: acmTarget},
		{name: "WaitOperation", target: acmTarget},
	},
}, {
	grpcService: "google.longrunning.Operations", prefix: "operations", endpoint: runService,
	deny: apierr.RunPermissionDenied, quota: runQuota,
	methods: []method{
		{name: "GetOperation", permission: "run.operations.get", target: operationTarget},
		{name: "WaitOperation", permission: "run.operations.get", target: operationTarget},
		{name: "DeleteOperation", permission: "run.operations.delete", target: operationTarget},
		{name: "ListOperations", permission: "run.operations.list", target: locationTarget},
	},
}, {
	grpcService: "google.cloud.iap.v1.IdentityAwareProxyAdminService", prefix: "iap", endpoint: iapService,
	deny: func(permission, resource string) error {
		return apierr.IAMPermissionDenied(permission, resource, resource)
	},
	// A disabled API is refused before IAM is asked.
	disabled: func(p projects.Project) bool { return p.IAPAPIDisabled },
	quota:    iapQuota, place: placeIAP, auditShape: iapAuditShape,
	methods: []method{
		{name: "GetIamPolicy", permission: "iap.webServices.getIamPolicy", typePermission: "iap.webTypes.getIamPolicy", target: iapTarget},
		{name: "SetIamPolicy", permission: "iap.webServices.setIamPolicy", typePermission: "iap.webTypes.setIamPolicy", target: iapTarget, write: true,
			audit: &auditEntry{method: methodIAPSetIAM, gcloud: methodIAPSetIAM}},
		{name: "GetIapSettings", permission: "iap.webServices.getSettings", typePermission: "iap.webTypes.getSettings", target: iapTarget},
		// No audit entry: Google logs a settings change as Data Access, off by default.
		{name: "UpdateIapSettings", permission: "iap.webServices.updateSettings", typePermission: "iap.webTypes.updateSettings", target: iapTarget, write: true,
			resource: func(req any) string { return req.(*iappb.UpdateIapSettingsRequest).GetIapSettings().GetName() }},
		{name: "TestIamPermissions", target: iapTarget},
	},
}, {
	grpcService: "google.cloud.resourcemanager.v3.Projects", prefix: "resourcemanager", endpoint: "cloudresourcemanager.googleapis.com",
	deny: func(_, resource string) error { return resourcemanager.Denied(resource) },
	methods: []method{
		{name: "GetProject", permission: resourcemanager.GetPermission, target: projectTarget},
	},
}, {
	grpcService: "google.iam.credentials.v1.IAMCredentials", prefix: "iamcredentials", endpoint: "iamcredentials.googleapis.com",
	// GenerateAccessToken checks the token creators of the service account itself.
}}

// registry indexes the table: APIs by gRPC service (in table order) and by prefix, methods by
// short name.
var registry = func() (r struct {
	byService map[string][]*api
	byPrefix  map[string]*api
	methods   map[string]registered
}) {
	r.byService, r.byPrefix, r.methods = map[string][]*api{}, map[string]*api{}, map[string]registered{}
	for _, a := range apis {
		r.byService[a.grpcService], r.byPrefix[a.prefix] = append(r.byService[a.grpcService], a), a
		for i := range a.methods {
			r.methods[a.prefix+"."+a.methods[i].name] = registered{api: a, method: &a.methods[i]}
		}
	}
	return r
}()

// registered is a method with its api.
type registered struct {
	api    *api
	method *method
}

// lookupMethod finds a short method name ("run.GetService") in the table.
func lookupMethod(short string) (registered, bool) {
	r, ok := registry.methods[short]
	return r, ok
}

// apiServing is the API of a gRPC service that answers req: the first in the table that owns
// the resource req names, else the one that owns every request; nil for a service the fake does
// not serve.
func apiServing(grpcService string, req any) *api {
	var fallback *api
	for _, a := range registry.byService[grpcService] {
		if a.owns == nil {
			fallback = a
		} else if a.owns(requestResource(req)) {
			return a
		}
	}
	return fallback
}

// apiOf is the API of a short method name, registered or not ("iap.ListBrands"); nil for a
// service the fake does not serve.
func apiOf(short string) *api {
	prefix, _, _ := strings.Cut(short, ".")
	return registry.byPrefix[prefix]
}

// shortMethod turns /google.cloud.run.v2.Services/GetService into
// run.GetService, by the prefix of the API that serves req (methods.go).
func shortMethod(full string, req any) string {
	svc, m, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok {
		return full
	}
	if a := apiServing(svc, req); a != nil {
		return a.prefix + "." + m
	}
	return full
}

// isWrite: the method's entry says it changes state.
func isWrite(method string) bool {
	reg, ok := lookupMethod(method)
	return ok && reg.method.write
}

// resourceOf names the resource a request addresses, as the caller wrote it: where the
// method's entry in the registration table says, else the request's resource, name or parent.
func resourceOf(method string, req any) string {
	if reg, ok := lookupMethod(method); ok && reg.method.resource != nil {
		return reg.method.resource(req)
	}
	return requestResource(req)
}

// requestResource is the request's resource, name or parent field.
func requestResource(req any) string {
	switch r := req.(type) {
	case interface{ GetResource() string }:
		return r.GetResource()
	case interface{ GetName() string }:
		return r.GetName()
	case interface{ GetParent() string }:
		return r.GetParent()
	}
	return ""
}
