// Package auditlog reads the Cloud Audit Logs entries a Cloud Logging sink publishes to Pub/Sub
// and says which Cloud Run service or IAP resource each one touched, or which Access Context
// Manager access level. It trusts nothing in an
// entry beyond "this resource may have changed": runguard re-reads Google before it decides.
// Pure functions over bytes; no network.
package auditlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// activityLog is the suffix of an Admin Activity audit log name, URL-encoded as Google writes it.
const activityLog = "cloudaudit.googleapis.com%2Factivity"

// dataAccessLog is the suffix of a Data Access audit log name.
const dataAccessLog = "cloudaudit.googleapis.com%2Fdata_access"

// Entry is the part of a LogEntry runguard reads. Target is the Cloud Run service the entry
// touched; it is zero for an access level's entry (AccessLevelName names the level).
type Entry struct {
	Timestamp    time.Time
	ServiceName  string
	MethodName   string
	ResourceName string
	Principal    string
	Target       Target
}

// logEntry mirrors the JSON of google.logging.v2.LogEntry as a sink publishes it; only the
// fields runguard reads.
type logEntry struct {
	LogName      string    `json:"logName"`
	Timestamp    time.Time `json:"timestamp"`
	ProtoPayload struct {
		Type               string `json:"@type"`
		ServiceName        string `json:"serviceName"`
		MethodName         string `json:"methodName"`
		ResourceName       string `json:"resourceName"`
		AuthenticationInfo struct {
			PrincipalEmail string `json:"principalEmail"`
		} `json:"authenticationInfo"`
	} `json:"protoPayload"`
}

// Errors Parse returns; callers count them by kind.
var (
	ErrMalformed  = errors.New("not an audit log entry")
	ErrIrrelevant = errors.New("not a change runguard manages")
)

// methods are the Admin Activity methods that can change what runguard manages. Sources are
// listed in docs/drift-events.md.
var methods = map[string]bool{
	"google.cloud.run.v2.Services.UpdateService":                      true,
	"google.cloud.run.v2.Services.CreateService":                      true,
	"google.cloud.run.v2.Services.DeleteService":                      true,
	"google.cloud.run.v2.Services.SetIamPolicy":                       true,
	"google.cloud.run.v1.Services.ReplaceService":                     true,
	"google.cloud.run.v1.Services.CreateService":                      true,
	"google.cloud.run.v1.Services.DeleteService":                      true,
	"google.cloud.run.v1.Services.SetIamPolicy":                       true,
	"google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy": true,
	// Logged as Admin Activity by mistake for a while in 2024 (docs/drift-events.md).
	"google.cloud.iap.v1.IdentityAwareProxyAdminService.UpdateIapSettings": true,
	// Policies above services (aboveMethods).
	"google.cloud.resourcemanager.v3.Projects.SetIamPolicy":      true,
	"google.cloud.resourcemanager.v3.Folders.SetIamPolicy":       true,
	"google.cloud.resourcemanager.v3.Organizations.SetIamPolicy": true,
	"SetIamPolicy": true, // Resource Manager v1, as gcloud's add-iam-policy-binding logs it
	// Access levels (accessLevelMethods).
	methodCreateAccessLevel: true,
	methodUpdateAccessLevel: true,
	methodDeleteAccessLevel: true,
}

// Access Context Manager's level writes: ADMIN_WRITE, logged under the level's full name in the
// organization's Admin Activity log (its audit logging page, docs/google-apis-acm.md).
const (
	methodCreateAccessLevel = "google.identity.accesscontextmanager.v1.AccessContextManager.CreateAccessLevel"
	methodUpdateAccessLevel = "google.identity.accesscontextmanager.v1.AccessContextManager.UpdateAccessLevel"
	methodDeleteAccessLevel = "google.identity.accesscontextmanager.v1.AccessContextManager.DeleteAccessLevel"
)

var accessLevelMethods = map[string]bool{methodCreateAccessLevel: true, methodUpdateAccessLevel: true, methodDeleteAccessLevel: true}

// dataAccessMethods are the methods Google logs as Data Access (off by default), which a sink
// carries only when the project turned those logs on: IAP settings writes are DATA_WRITE.
var dataAccessMethods = map[string]bool{
	"google.cloud.iap.v1.IdentityAwareProxyAdminService.UpdateIapSettings": true,
}

// Parse reads one message. It returns ErrMalformed for anything that is not an Admin Activity
// audit entry with a resource, and ErrIrrelevant for a method or resource runguard does not
// manage; the entry is filled in as far as it was read either way, for counting. An access
// level's entry parses with a zero Target: AccessLevelName says which level it touched.
func Parse(data []byte) (Entry, error) {
	var le logEntry
	if err := json.Unmarshal(data, &le); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	p := le.ProtoPayload
	e := Entry{Timestamp: le.Timestamp, ServiceName: p.ServiceName, MethodName: p.MethodName,
		ResourceName: p.ResourceName, Principal: p.AuthenticationInfo.PrincipalEmail}
	dataAccess := strings.HasSuffix(le.LogName, "/logs/"+dataAccessLog)
	if !strings.HasSuffix(le.LogName, "/logs/"+activityLog) && !dataAccess || !strings.HasSuffix(p.Type, "google.cloud.audit.AuditLog") || p.ResourceName == "" {
		return e, ErrMalformed
	}
	if dataAccess && !dataAccessMethods[p.MethodName] || !dataAccess && !methods[p.MethodName] {
		return e, ErrIrrelevant
	}
	if _, ok := Above(e); ok {
		return e, nil
	}
	if accessLevelMethods[p.MethodName] {
		if _, ok := AccessLevelName(e); !ok {
			return e, ErrIrrelevant
		}
		return e, nil
	}
	t, ok := ParseResource(p.ResourceName)
	if !ok {
		return e, ErrIrrelevant
	}
	e.Target = t
	return e, nil
}

// Target is the Cloud Run service a resource name designates. Project is an ID, or a number when
// Number is set; Location is empty for the v1 form, which does not carry one.
type Target struct {
	Project  string
	Number   bool
	Location string
	Service  string
}

// ParseResource accepts the forms Google logs: Cloud Run v2
// projects/{id or number}/locations/{l}/services/{s}, Cloud Run v1 namespaces/{project}/services/{s}
// (with or without a leading apis/serving.knative.dev/v1/), and the IAP resource
// projects/{number or id}/iap_web/cloud_run-{region}/services/{s}.
func ParseResource(name string) (Target, bool) {
	name = strings.TrimPrefix(name, "apis/serving.knative.dev/v1/")
	parts := strings.Split(name, "/")
	switch {
	case len(parts) == 6 && parts[0] == "projects" && parts[2] == "locations" && parts[4] == "services":
		return target(parts[1], parts[3], parts[5])
	case len(parts) == 4 && parts[0] == "namespaces" && parts[2] == "services":
		return target(parts[1], "", parts[3])
	case len(parts) == 6 && parts[0] == "projects" && parts[2] == "iap_web" && strings.HasPrefix(parts[3], "cloud_run-") && parts[4] == "services":
		// IAP names resources by project number; a project ID is accepted too, since reports
		// disagree on whether Google ever logs one.
		t, ok := target(parts[1], strings.TrimPrefix(parts[3], "cloud_run-"), parts[5])
		return t, ok && t.Location != ""
	}
	return Target{}, false
}

func target(project, location, service string) (Target, bool) {
	if project == "" || service == "" {
		return Target{}, false
	}
	_, err := strconv.ParseUint(project, 10, 64)
	return Target{Project: project, Number: err == nil, Location: location, Service: service}, true
}

// Designates reports whether t is the Cloud Run service project/location/service, whose
// project number is number (0 when not known yet): Google logs the project by ID or by number,
// and the v1 form carries no location.
func (t Target) Designates(project, location, service string, number int64) bool {
	if t.Service != service || (t.Location != "" && t.Location != location) {
		return false
	}
	if t.Number {
		return number > 0 && t.Project == strconv.FormatInt(number, 10)
	}
	return t.Project == project
}

// Relevant reports whether runguard reacts to method.
func Relevant(method string) bool { return methods[method] }

// AccessLevelName is the full name of the access level an entry of a level write names
// (accessPolicies/{number}/accessLevels/{short name}); false for any other entry.
func AccessLevelName(e Entry) (string, bool) {
	if !accessLevelMethods[e.MethodName] {
		return "", false
	}
	parts := strings.Split(e.ResourceName, "/")
	if len(parts) != 4 || parts[0] != "accessPolicies" || parts[2] != "accessLevels" || parts[3] == "" {
		return "", false
	}
	if _, err := strconv.ParseUint(parts[1], 10, 64); err != nil {
		return "", false
	}
	return e.ResourceName, true
}

// Above is the resource whose IAM policy an entry reports changed, when that policy is one above
// Cloud Run services that can grant IAP access: a project (projects/{id or number}), a folder, an
// organization, or IAP's project or region level (projects/{number}/iap_web[/cloud_run-{region}]).
func Above(e Entry) (string, bool) {
	name := e.ResourceName
	parts := strings.Split(name, "/")
	switch {
	case !strings.HasSuffix(e.MethodName, "SetIamPolicy"):
		return "", false
	case len(parts) == 2 && (parts[0] == "projects" || parts[0] == "folders" || parts[0] == "organizations") && parts[1] != "":
		return name, true
	case len(parts) == 3 && parts[0] == "projects" && parts[2] == "iap_web",
		len(parts) == 4 && parts[0] == "projects" && parts[2] == "iap_web" && strings.HasPrefix(parts[3], "cloud_run-"):
		return name, true
	}
	return "", false
}
