package gcpfake

import (
	"strings"

	"cloud.google.com/go/iap/apiv1/iappb"
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/names"
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
	prefix      string // of the short method names, "run" (run.GetService)
	endpoint    string // its service name, in errors and audit entries: "run.googleapis.com"
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
}

// where a change happened, for its audit entry.
type where struct {
	project, location string
	service           string // the Cloud Run service; "" for IAP's region-wide resource
	regionWide        bool
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

// registry indexes the table: APIs by gRPC service and by prefix, methods by short name.
var registry = func() (r struct {
	byService map[string]*api
	byPrefix  map[string]*api
	methods   map[string]registered
}) {
	r.byService, r.byPrefix, r.methods = map[string]*api{}, map[string]*api{}, map[string]registered{}
	for _, a := range apis {
		r.byService[a.grpcService], r.byPrefix[a.prefix] = a, a
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

// apiOf is the API of a short method name, registered or not ("iap.ListBrands"); nil for a
// service the fake does not serve.
func apiOf(short string) *api {
	prefix, _, _ := strings.Cut(short, ".")
	return registry.byPrefix[prefix]
}

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
	return target{resource: resource, project: r.Project, regionWide: r.Service == ""}, ok
}

func projectTarget(_ any, resource string) (target, bool) {
	project, _ := strings.CutPrefix(resource, "projects/")
	return target{resource: resource, project: project}, true
}

// Places: where an audited change happened.

func placeService(resource string) (where, bool) {
	sv, ok := names.ParseService(resource)
	return where{project: sv.Project, location: sv.Location, service: sv.ID}, ok
}

func placeIAP(resource string) (where, bool) {
	r, ok := names.ParseIAP(resource)
	return where{project: r.Project, location: r.Location, service: r.Service, regionWide: r.Service == ""}, ok
}

// gcloudV1Service is the name Cloud Run's v1 API logs service writes under:
// namespaces/{project}/services/{service}.
func gcloudV1Service(canonical string) string {
	sv, _ := names.ParseService(canonical)
	return "namespaces/" + sv.Project + "/services/" + sv.ID
}
