package gcpfake

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/genproto/googleapis/rpc/context/attribute_context"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/runguard/runguard/internal/gcpfake/names"
)

// logEntry is google.logging.v2.LogEntry in the JSON a logging sink
// publishes (field names as in log_entry.proto, keys in the order sinks
// write them), with the fields an audit entry uses. The proto is not
// vendored here: it lives in cloud.google.com/go/logging, a module this
// repository does not depend on.
type logEntry struct {
	InsertID         string             `json:"insertId"`
	LogName          string             `json:"logName"`
	Operation        *logEntryOperation `json:"operation,omitempty"`
	ProtoPayload     json.RawMessage    `json:"protoPayload"`
	ReceiveTimestamp string             `json:"receiveTimestamp"`
	Resource         monitoredResource  `json:"resource"`
	Severity         string             `json:"severity"`
	Timestamp        string             `json:"timestamp"`
}

type logEntryOperation struct {
	First    bool   `json:"first,omitempty"`
	ID       string `json:"id"`
	Producer string `json:"producer"`
}

type monitoredResource struct {
	Labels map[string]string `json:"labels"`
	Type   string            `json:"type"`
}

func (e *auditEmitter) logEntryJSON(c auditChange, received time.Time) ([]byte, error) {
	principal := c.principal
	switch {
	case principal != "":
	case c.outOfBand && e.opts.OutOfBandCaller != "":
		principal = e.opts.OutOfBandCaller
	case c.outOfBand:
		principal = DefaultOutOfBandCaller
	case e.opts.Caller != "":
		principal = e.opts.Caller
	case c.container != "":
		principal = DefaultOrganizationCaller
	default:
		principal = "runguard@" + c.project.ID + ".iam.gserviceaccount.com"
	}
	payload := &audit.AuditLog{
		ServiceName:        c.serviceName,
		MethodName:         c.methodName,
		ResourceName:       c.resourceName,
		AuthenticationInfo: &audit.AuthenticationInfo{PrincipalEmail: principal},
		Status:             &rpcstatus.Status{},
	}
	authz := &audit.AuthorizationInfo{Permission: c.permission, Granted: true}
	resource := c.shape(c, payload, authz)
	payload.AuthorizationInfo = []*audit.AuthorizationInfo{authz}
	packed, err := anypb.New(payload)
	if err != nil {
		return nil, err
	}
	raw, err := protojson.Marshal(packed)
	if err != nil {
		return nil, err
	}
	// protojson's spacing is deliberately unstable; a sink's is compact.
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, err
	}
	entry := logEntry{
		InsertID:         e.insertID(),
		LogName:          c.logParent() + "/logs/" + activityLogIDEscape,
		ProtoPayload:     compact.Bytes(),
		ReceiveTimestamp: rfc3339(received),
		Resource:         resource,
		Severity:         "NOTICE",
		Timestamp:        rfc3339(c.when),
	}
	if c.operation != "" {
		entry.Operation = &logEntryOperation{ID: c.operation, Producer: c.serviceName, First: true}
	}
	return json.Marshal(entry)
}

// auditShape completes an entry's payload and authorization as the API's entries carry them,
// and names the monitored resource the entry is filed under.
type auditShape func(c auditChange, payload *audit.AuditLog, authz *audit.AuthorizationInfo) monitoredResource

// cloudRunAuditShape: Cloud Run's entries name the resource and its location, under the
// service's cloud_run_revision.
func cloudRunAuditShape(c auditChange, payload *audit.AuditLog, authz *audit.AuthorizationInfo) monitoredResource {
	authz.Resource = c.resourceName
	payload.ResourceLocation = &audit.ResourceLocation{CurrentLocations: []string{c.location}}
	return monitoredResource{Type: "cloud_run_revision", Labels: map[string]string{
		"configuration_name": "", "location": c.location, "project_id": c.project.ID,
		"revision_name": "", "service_name": c.service,
	}}
}

// iapAuditShape: IAP's entries carry resource attributes, under a gce_backend_service.
func iapAuditShape(c auditChange, _ *audit.AuditLog, authz *audit.AuthorizationInfo) monitoredResource {
	authz.ResourceAttributes = &attribute_context.AttributeContext_Resource{
		Name: c.resourceName, Service: iapService, Type: iapResourceType(c.scope),
	}
	// Observed on IAP SetIamPolicy entries (docs/gcpfake.md cites where).
	return monitoredResource{Type: "gce_backend_service", Labels: map[string]string{
		"backend_service_id": "", "location": "", "project_id": c.project.ID,
	}}
}

// acmAuditShape: Access Context Manager's entries are an organization's, filed under
// audited_resource (the type for services without a monitored resource of their own).
func acmAuditShape(c auditChange, _ *audit.AuditLog, authz *audit.AuthorizationInfo) monitoredResource {
	authz.Resource = c.resourceName
	return monitoredResource{Type: "audited_resource", Labels: map[string]string{
		"method": c.methodName, "service": c.serviceName,
	}}
}

// resourceManagerAuditShape: Resource Manager's entries are filed under the project, folder or
// organization whose policy changed (monitored resource types project, folder, organization).
func resourceManagerAuditShape(c auditChange, _ *audit.AuditLog, authz *audit.AuthorizationInfo) monitoredResource {
	authz.Resource = c.resourceName
	kind, number, _ := strings.Cut(c.container, "/")
	switch kind {
	case "folders":
		return monitoredResource{Type: "folder", Labels: map[string]string{"folder_id": number}}
	case "organizations":
		return monitoredResource{Type: "organization", Labels: map[string]string{"organization_id": number}}
	}
	return monitoredResource{Type: "project", Labels: map[string]string{"project_id": c.project.ID}}
}

// logParent is the project, folder or organization whose log the entry is written to.
func (c auditChange) logParent() string {
	if c.container != "" {
		return c.container
	}
	return "projects/" + c.project.ID
}

// iapResourceType is the resource type IAP's entries name: observed for a service
// (WebService); assumed by analogy for the region-wide resource (WebType) and iap_web (Web).
func iapResourceType(scope names.IAPScope) string {
	switch scope {
	case names.IAPRegionScope:
		return "iap.googleapis.com/WebType"
	case names.IAPProjectScope:
		return "iap.googleapis.com/Web"
	}
	return "iap.googleapis.com/WebService"
}

// auditCall describes a successful gRPC call as Google logs it, by the method's audit entry in
// the registration table (methods.go); ok is false for calls that change nothing (reads,
// validate_only) and for changes the fake does not log.
func (s *Server) auditCall(method string, req, resp any, when time.Time) (auditChange, bool) {
	if v, isValidateOnly := req.(interface{ GetValidateOnly() bool }); isValidateOnly && v.GetValidateOnly() {
		return auditChange{}, false
	}
	reg, ok := lookupMethod(method)
	if !ok || reg.method.audit == nil {
		return auditChange{}, false
	}
	c := auditChange{when: when, serviceName: reg.api.endpoint, methodName: reg.method.audit.method, resourceName: resourceOf(method, req)}
	if op, isOp := resp.(*longrunningpb.Operation); isOp {
		c.operation = op.GetName()
	}
	return s.placeAudit(c, reg, c.resourceName)
}

// placeAudit fills in the permission and where the change happened, resolving a project
// number to its project ID as Logging does for logName and labels, and a resource of an
// organization to the organization.
func (s *Server) placeAudit(c auditChange, reg registered, resource string) (auditChange, bool) {
	w, ok := reg.api.place(resource)
	if !ok {
		return auditChange{}, false
	}
	c.permission = reg.method.permissionOn(w.scope)
	c.location, c.service, c.scope, c.shape = w.location, w.service, w.scope, reg.api.auditShape
	switch {
	case w.inOrganization:
		c.container, ok = s.acm.Organization(resource)
		return c, ok
	case w.container != "":
		c.container = w.container
		return c, s.tree.Contains(w.container)
	}
	c.project, ok = s.dir.Lookup(w.project)
	return c, ok
}

// auditOutOfBand records a change a person made with gcloud or the console, as the method
// (a short name, "run.SetIamPolicy") that makes the same change over the API, whose entry
// says what gcloud's call logs. gcloud's Cloud Run commands call the v1 API, which logs
// namespaces/{project}/services/{service} for service writes and
// projects/{project}/locations/{l}/services/{service} for IAM writes; resource is the
// canonical name.
func (s *Server) auditOutOfBand(method, resource string) {
	if s.audit == nil {
		return
	}
	reg, ok := lookupMethod(method)
	if !ok || reg.method.audit == nil {
		return
	}
	a := reg.method.audit
	c := auditChange{when: time.Now(), serviceName: reg.api.endpoint, methodName: a.gcloud, resourceName: resource, outOfBand: true}
	if a.gcloudResource != nil {
		c.resourceName = a.gcloudResource(resource)
	}
	if c, ok = s.placeAudit(c, reg, resource); ok {
		s.audit.emit(c)
	}
}
