// Package adminapi is the wire format of the standalone fake's JSON admin endpoint
// (gcpfake.Server.AdminHandler): the paths and the bodies it reads and writes. It holds no
// logic and imports nothing of the fake, so the demo's tools and the end-to-end test can speak
// to a running cmd/gcpfake without linking it.
package adminapi

import (
	"encoding/json"
	"net/url"
	"time"
)

// The admin endpoint's paths. The per-service ones take "/{project}/{location}/{name}" after
// the path; DELETE FaultsPath takes an optional "/{id}".
const (
	// HealthPath answers GET with Health.
	HealthPath = "/healthz"
	// StatePath answers GET with State.
	StatePath = "/state"
	// CallsPath answers GET with []Call, oldest first; DELETE forgets them.
	CallsPath = "/calls"
	// CallCountsPath answers GET with the number of calls by method, as {"run.GetService": 2};
	// with ?code=RESOURCE_EXHAUSTED (any google.rpc.Code name) only the calls that ended so.
	CallCountsPath = "/calls/counts"
	// FaultsPath takes a FaultRule by POST and answers FaultAdded; DELETE removes every rule,
	// DELETE FaultsPath/{id} one.
	FaultsPath = "/faults"
	// QuotasPath answers GET with Quotas; PUT replaces them (every bucket starts full again)
	// and answers with the new ones.
	QuotasPath = "/quotas"
	// ServicesPath takes a Service by POST and answers with the created Cloud Run service in
	// protojson; GET ServicesPath/{project}/{location}/{name} answers with its ServiceState (as
	// in State, without building all of it); DELETE removes one.
	ServicesPath = "/services"
	// ServicePolicyPath/{project}/{location}/{name} takes a Policy by PUT and stores it as the
	// Cloud Run service's IAM policy out of band (no etag is checked); it answers with the
	// stored policy.
	ServicePolicyPath = "/policies/service"
	// IAPPolicyPath/{project}/{location}/{name} does the same for the policy of the service's
	// IAP resource.
	IAPPolicyPath = "/policies/iap"
	// AccessPath answers GET with Access: who may do what.
	AccessPath = "/access"
	// GrantsPath/{project}/{member}/{role or permission} (see GrantPath) grants a role or a
	// permission on a project by PUT and revokes it by DELETE; both answer 204, 409 when access
	// control is off, DELETE 404 when it was not granted. In place of the project, a folder
	// (folders/{number}), an organization (organizations/{number}) or an access policy
	// (accessPolicies/{number}), path-escaped, takes a grant on it. A grant is a binding in that
	// resource's allow policy (see ResourcePolicyPath), and is logged as its SetIamPolicy.
	GrantsPath = "/grants"
	// ServiceAccountsPath/{email}/tokenCreators/{member} (see TokenCreatorPath) makes member a
	// token creator of the seeded service account by PUT and revokes that by DELETE. Tokens
	// already issued stay valid until they expire.
	ServiceAccountsPath = "/serviceAccounts"
)

// GrantPath is the path that grants (PUT) or revokes (DELETE) roleOrPermission ("roles/run.admin",
// "projects/p/roles/runguard", "run.services.get") to member on project.
func GrantPath(project, member, roleOrPermission string) string {
	return GrantsPath + "/" + url.PathEscape(project) + "/" + url.PathEscape(member) + "/" + roleOrPermission
}

// TokenCreatorPath is the path that adds (PUT) or removes (DELETE) member as a token creator of
// the service account email.
func TokenCreatorPath(email, member string) string {
	return ServiceAccountsPath + "/" + url.PathEscape(email) + "/tokenCreators/" + url.PathEscape(member)
}

// Access is the answer to GET AccessPath.
type Access struct {
	// Enforced is false when the seed granted nothing and named no default caller: then every
	// caller may do everything.
	Enforced bool `json:"enforced"`
	// DefaultCaller is who a request without a bearer token is.
	DefaultCaller   string           `json:"defaultCaller,omitempty"`
	ServiceAccounts []ServiceAccount `json:"serviceAccounts"`
	// Grants is project ID, or organizations/{number} or accessPolicies/{number} → member →
	// roles and permissions.
	Grants map[string]map[string][]string `json:"grants"`
	// Denials are the deny rules: resource → the permissions no principal may use on it, whatever
	// it is granted, with access control on or off. A service is named with its project ID, an
	// IAP resource with the project number.
	Denials map[string][]string `json:"denials,omitempty"`
}

// Health is the answer to GET HealthPath.
type Health struct {
	// Endpoint is the fake's gRPC address.
	Endpoint string `json:"endpoint"`
	Status   string `json:"status"`
}

// Error is the body of every answer with an error status.
type Error struct {
	Error string `json:"error"`
}

// State is the answer to GET StatePath: everything the fake holds, for a test or a person to
// inspect.
type State struct {
	Projects []Project      `json:"projects"`
	Services []ServiceState `json:"services"`
	// AccessPolicies are Access Context Manager's policies, each with its levels.
	AccessPolicies []AccessPolicyState `json:"accessPolicies"`
	// Folders and Organizations are the resource hierarchy above the projects, each with the
	// grants on it.
	Folders       []Folder       `json:"folders"`
	Organizations []Organization `json:"organizations"`
}

// Project is a Google Cloud project of the fake's world, as seeded and as GET StatePath lists it.
type Project struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	// IAPAPIDisabled makes every IAP call on the project's resources fail
	// PERMISSION_DENIED with ErrorInfo reason SERVICE_DISABLED.
	IAPAPIDisabled bool `json:"iapApiDisabled,omitempty"`
	// NoIAPServiceAgent: service-{number}@gcp-sa-iap.iam.gserviceaccount.com
	// was never created, so granting it a role fails INVALID_ARGUMENT.
	NoIAPServiceAgent bool `json:"noIapServiceAgent,omitempty"`
	// IAPServiceAgentDelay (a Go duration, e.g. "90s") models an IAP service agent created just
	// before the fake started: IAM rejects it as not existing for that long, as it does for
	// minutes after `gcloud beta services identity create`.
	IAPServiceAgentDelay string `json:"iapServiceAgentDelay,omitempty"`
	// Principals are the users, groups and service accounts that exist, in
	// member form ("user:a@x.com"). IAM rejects members of those kinds that
	// are listed in no project and are not a project's service agent.
	Principals []string `json:"principals,omitempty"`
	// Grants are the roles and permissions each member holds on the project: member →
	// predefined roles ("roles/run.admin"), custom roles declared in the seed's customRoles, or
	// permissions ("run.services.get"). Any grant in a seed turns access control on. They are
	// bindings of the project's IAM policy (a permission as the custom role
	// projects/{id}/roles/{permission}), which Resource Manager's GetIamPolicy answers.
	Grants map[string][]string `json:"grants,omitempty"`
	// Parent is folders/{number} (a seeded folder) or organizations/{number}, as GetProject
	// answers it; empty: a project outside any organization.
	Parent string `json:"parent,omitempty"`
}

// ServiceAccount is a service account callers may impersonate through the IAM Credentials
// API, as seeded and as GET AccessPath lists it.
type ServiceAccount struct {
	Email string `json:"email"`
	// TokenCreators are the members that hold roles/iam.serviceAccountTokenCreator on it.
	TokenCreators []string `json:"tokenCreators,omitempty"`
}

// ServiceState is one Cloud Run service in State: the fields a test asks about most, both IAM
// policies the fake stores for it, and the whole service.
type ServiceState struct {
	// Name is the full resource name, projects/{project}/locations/{location}/services/{name}.
	Name               string `json:"name"`
	IAPEnabled         bool   `json:"iapEnabled"`
	InvokerIAMDisabled bool   `json:"invokerIamDisabled"`
	// Ingress is an IngressTraffic enum name.
	Ingress            string `json:"ingress"`
	Generation         int64  `json:"generation"`
	ObservedGeneration int64  `json:"observedGeneration"`
	// Reconciling is true while a change is still rolling out (gcpfake --reconcile-delay).
	Reconciling bool   `json:"reconciling"`
	Etag        string `json:"etag"`
	URI         string `json:"uri"`
	// Service is the Cloud Run v2 Service in protojson.
	Service json.RawMessage `json:"service"`
	// ServicePolicy is the service's own IAM policy (who may invoke it).
	ServicePolicy Policy `json:"servicePolicy"`
	// IAPResource names the service's IAP resource,
	// projects/{number}/iap_web/cloud_run-{location}/services/{name}.
	IAPResource string `json:"iapResource"`
	// IAPPolicy is the IAM policy of IAPResource (who may pass IAP).
	IAPPolicy Policy `json:"iapPolicy"`
}

// Policy is a google.iam.v1.Policy as protojson writes it: the same field names, the same
// omitted zero values and the etag in base64, so protojson reads it back unchanged.
type Policy struct {
	Version      int32         `json:"version,omitempty"`
	Bindings     []Binding     `json:"bindings,omitempty"`
	AuditConfigs []AuditConfig `json:"auditConfigs,omitempty"`
	Etag         []byte        `json:"etag,omitempty"`
}

// Binding is a google.iam.v1.Binding in Policy.
type Binding struct {
	Role      string     `json:"role,omitempty"`
	Members   []string   `json:"members,omitempty"`
	Condition *Condition `json:"condition,omitempty"`
}

// Condition is the google.type.Expr of a conditional Binding.
type Condition struct {
	Expression  string `json:"expression,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Location    string `json:"location,omitempty"`
}

// AuditConfig is a google.iam.v1.AuditConfig in Policy.
type AuditConfig struct {
	Service         string           `json:"service,omitempty"`
	AuditLogConfigs []AuditLogConfig `json:"auditLogConfigs,omitempty"`
}

// AuditLogConfig is a google.iam.v1.AuditLogConfig; LogType is the enum's name ("DATA_READ").
type AuditLogConfig struct {
	LogType         string   `json:"logType,omitempty"`
	ExemptedMembers []string `json:"exemptedMembers,omitempty"`
}

// Call is one gRPC call the fake answered, in the answer to GET CallsPath.
type Call struct {
	// Method is the short name, e.g. "iap.SetIamPolicy".
	Method   string `json:"method"`
	Resource string `json:"resource"`
	// Code is the google.rpc.Code name of the answer ("OK", "UNAVAILABLE").
	Code string    `json:"code"`
	Time time.Time `json:"time"`
	// Write is true for Create, Update, Delete and SetIamPolicy.
	Write bool `json:"write"`
	// Injected is true when a fault rule decided the answer.
	Injected bool `json:"injected,omitempty"`
	// Throttled is true when the quota mode refused the call (RESOURCE_EXHAUSTED).
	Throttled  bool    `json:"throttled,omitempty"`
	DurationMS float64 `json:"durationMs"`
	// Caller is who made the call in member form ("serviceAccount:…"); empty with access
	// control off and no bearer token.
	Caller string `json:"caller,omitempty"`
}

// FaultRule is the body of POST FaultsPath: a gcpfake.FaultRule with the code by name
// ("UNAVAILABLE") and the durations as Go duration strings ("1.5s").
type FaultRule struct {
	Method      string  `json:"method"`
	Resource    string  `json:"resource,omitempty"`
	Code        string  `json:"code,omitempty"`
	Message     string  `json:"message,omitempty"`
	Times       int     `json:"times,omitempty"`
	Probability float64 `json:"probability,omitempty"`
	RetryDelay  string  `json:"retryDelay,omitempty"`
	Latency     string  `json:"latency,omitempty"`
	AfterApply  bool    `json:"afterApply,omitempty"`
}

// Quotas are the fake's rate quotas, in calls per minute per consumer project and region, as
// Google's Cloud Run Admin API counts its own: every (API, project, region) has its own bucket
// for reads and one for writes. 0 turns a quota off. Writes are Create, Update, Delete,
// SetIamPolicy and UpdateIapSettings; reads are every other call of the API (Cloud Run's
// operations count as Cloud Run reads). Resource Manager, IAM and IAM Credentials have none. Access
// Context Manager counts per organization, as Google does (its writes are the level changes;
// its operations count as its reads).
type Quotas struct {
	RunWritesPerMinute int `json:"runWritesPerMinute,omitempty"`
	RunReadsPerMinute  int `json:"runReadsPerMinute,omitempty"`
	IAPWritesPerMinute int `json:"iapWritesPerMinute,omitempty"`
	IAPReadsPerMinute  int `json:"iapReadsPerMinute,omitempty"`
	ACMWritesPerMinute int `json:"acmWritesPerMinute,omitempty"`
	ACMReadsPerMinute  int `json:"acmReadsPerMinute,omitempty"`
}

// FaultAdded is the answer to POST FaultsPath.
type FaultAdded struct {
	// ID removes the rule again: DELETE FaultsPath/{id}.
	ID int `json:"id"`
}

// Service is a Cloud Run service to create: the body of POST ServicesPath, and the form of a
// service in a seed file.
type Service struct {
	Project            string `json:"project"`
	Location           string `json:"location"`
	Name               string `json:"name"`
	IAPEnabled         bool   `json:"iapEnabled,omitempty"`
	InvokerIAMDisabled bool   `json:"invokerIamDisabled,omitempty"`
	// Public grants allUsers roles/run.invoker.
	Public bool `json:"public,omitempty"`
	// Ingress is an IngressTraffic enum name; empty means INGRESS_TRAFFIC_ALL.
	Ingress string `json:"ingress,omitempty"`
	// InvokerPolicy seeds the service's IAM policy (merged with Public).
	InvokerPolicy *Policy `json:"invokerPolicy,omitempty"`
	// IAPPolicy seeds the policy of the service's IAP resource.
	IAPPolicy *Policy `json:"iapPolicy,omitempty"`
}
