package gcpfake

import (
	"strings"

	"github.com/runguard/runguard/internal/gcpfake/names"
	"github.com/runguard/runguard/internal/gcpfake/projects"
)

// The registration table's types, its index and the lookups the front end makes in it
// (methods.go).

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
	// service's is iap.webServices.*), webPermission on the project's iap_web (iap.web.*).
	typePermission, webPermission string
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
	resource string
	project  string         // ID or number, as written
	scope    names.IAPScope // which IAP resource: a service's, the region-wide one or iap_web
	// node is the resource IAM is asked about instead of a project: a folder, an organization or
	// an access policy; grants on it and on what is above it apply.
	node string
}

// where a change happened, for its audit entry: in a project (and a location), or, for a
// resource above projects, in a folder or organization.
type where struct {
	project, location string
	service           string // the Cloud Run service; "" for IAP's resources above one
	scope             names.IAPScope
	// inOrganization: resource belongs to an organization (Access Context Manager's levels and
	// access policies); container: the resource is a folder or organization itself.
	inOrganization bool
	container      string
}

// auditEntry is how Google logs a method's change.
type auditEntry struct {
	method string // methodName of a call to the fake, "google.cloud.run.v2.Services.CreateService"
	// gcloud is the methodName of the same change made out of band (gcloud, the console);
	// gcloudResource, if set, the resourceName it logs for a canonical resource name.
	gcloud         string
	gcloudResource func(canonical string) string
}

// permissionOn is the permission the method needs on its target: on an IAP resource above a
// service, the one of its scope; on any other, permission.
func (m *method) permissionOn(scope names.IAPScope) string {
	switch {
	case scope == names.IAPRegionScope && m.typePermission != "":
		return m.typePermission
	case scope == names.IAPProjectScope && m.webPermission != "":
		return m.webPermission
	}
	return m.permission
}

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
