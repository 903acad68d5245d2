package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProtectedServiceSpec declares which Cloud Run service IAP protects and who may pass it.
// +kubebuilder:validation:XValidation:rule="!has(self.inheritedAccess) || self.inheritedAccess != 'Deny' || (has(self.bindingPolicy) && self.bindingPolicy == 'Exclusive')",message="inheritedAccess: Deny needs bindingPolicy: Exclusive; with Merge other grants are allowed by design"
// +kubebuilder:validation:XValidation:rule="!has(self.accessGroups) || self.accessGroups.map(g, size(g.members)).sum() <= 1500",message="IAM allows at most 1,500 principals in one policy; the access groups list more members than that in total"
type ProtectedServiceSpec struct {
	// Service is the Cloud Run service to protect. It cannot be changed once set: create a new
	// ProtectedService to protect another service.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.service is immutable: delete this ProtectedService and create a new one to protect a different Cloud Run service"
	Service ServiceRef `json:"service"`

	// IAP controls Identity-Aware Proxy on the service.
	// +kubebuilder:default={}
	// +optional
	IAP IAPSpec `json:"iap,omitempty"`

	// AccessGroups lists who may pass IAP (role roles/iap.httpsResourceAccessor), group by group,
	// each with optional context conditions. Names are unique.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	// +optional
	AccessGroups []AccessGroup `json:"accessGroups,omitempty"`

	// PublicAccess says whether the service may stay publicly invocable. Deny (default) removes
	// allUsers and allAuthenticatedUsers from roles/run.invoker and keeps the invoker IAM check on.
	// +kubebuilder:default=Deny
	// +optional
	PublicAccess PublicAccess `json:"publicAccess,omitempty"`

	// BindingPolicy says which accessor bindings runguard manages. Merge (default): only the
	// bindings it wrote for this object. Exclusive: the accessor role holds exactly what is
	// declared here; bindings other tools wrote are removed (never those of another runguard owner).
	// +kubebuilder:default=Merge
	// +optional
	BindingPolicy BindingPolicy `json:"bindingPolicy,omitempty"`

	// InheritedAccess says what to do about IAP access granted above the service (on its
	// project, its IAP levels, folders or the organization), which runguard never edits.
	// Report (default): listed in status.inheritedAccess and the InheritedAccess condition.
	// Deny (only with bindingPolicy Exclusive): the object is Stalled with InheritedAccessFound,
	// naming each grant to remove and where, until there is none.
	// +kubebuilder:default=Report
	// +optional
	InheritedAccess InheritedAccessPolicy `json:"inheritedAccess,omitempty"`

	// AccessTests are requests whose outcome the declaration must produce. Each pass evaluates
	// them against the policy it would write, with the inherited grants as read, before any IAM
	// write: a failing test stalls the object (AccessTestFailed) and nothing but the lockdown is
	// written. runguard plan runs them too.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	// +optional
	AccessTests []AccessTest `json:"accessTests,omitempty"`

	// Mode is Enforce (default): runguard writes to Google Cloud to make it match the spec; or
	// Observe: runguard makes no Google write of any kind, runs every check, and shows in status
	// what Enforce would change (condition InSync, status.pendingChanges). Switching to Enforce
	// then applies exactly that.
	// +kubebuilder:default=Enforce
	// +optional
	Mode Mode `json:"mode,omitempty"`

	// DeletionPolicy says what happens in Google Cloud when this object is deleted. Delete
	// (default) removes this object's accessor bindings and leaves IAP on, so the service fails
	// closed. Abandon leaves Google Cloud as it is.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// ServiceRef names a Cloud Run service.
type ServiceRef struct {
	// Project is the Google Cloud project ID (not the number).
	// +kubebuilder:validation:MinLength=6
	// +kubebuilder:validation:MaxLength=30
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9-]*[a-z0-9]$`
	Project string `json:"project"`

	// Location is the Cloud Run region, for example us-central1.
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z]+(-[a-z]+)+[0-9]+$`
	Location string `json:"location"`

	// Name is the Cloud Run service name.
	// +kubebuilder:validation:MaxLength=49
	// +kubebuilder:validation:Pattern=`^[a-z]([a-z0-9-]*[a-z0-9])?$`
	Name string `json:"name"`
}

// IAPSpec controls Identity-Aware Proxy on the service.
// +kubebuilder:validation:XValidation:rule="!has(self.settings) || !has(self.enabled) || self.enabled",message="iap.settings apply only while IAP is on: remove them, or set iap.enabled: true"
type IAPSpec struct {
	// Enabled switches IAP on (default) or off. Switching it off while the service stays publicly
	// invocable needs the namespace annotation iap.runguard.dev/allow-public: "true".
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// Settings are IAP's settings for the service (Google's IapSettings). Only the settings
	// declared here are managed: runguard compares and writes exactly those and leaves every
	// other setting, which another tool may own, as it is. Removing a setting from the spec stops
	// managing it without resetting it; list it under clear to reset it on purpose.
	// +optional
	Settings *IAPSettings `json:"settings,omitempty"`
}

// IAPSettings are the IAP settings that apply to a Cloud Run service. docs/api.md says where
// each comes from in Google's IAP Admin API.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="!has(self.clear) || !self.clear.exists(c, c == 'AccessDeniedPage' && has(self.accessDeniedPage) || c == 'Reauthentication' && has(self.reauthentication) || c == 'AllowedDomains' && has(self.allowedDomains) || c == 'CORS' && has(self.cors) || c == 'ProgrammaticClients' && has(self.programmaticClients))",message="a setting cannot be both declared and listed under clear"
type IAPSettings struct {
	// AccessDeniedPage is where IAP sends users it refuses, instead of its own error page.
	// +optional
	AccessDeniedPage *AccessDeniedPage `json:"accessDeniedPage,omitempty"`

	// Reauthentication makes users prove who they are again after maxAge. Google sets its
	// fields together, so they are managed as one setting.
	// +optional
	Reauthentication *Reauthentication `json:"reauthentication,omitempty"`

	// AllowedDomains are the domains IAP may redirect to after sign-in (besides the service's
	// own), for services reached through other host names. Declaring it turns the check on.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +listType=set
	// +optional
	AllowedDomains []AllowedDomain `json:"allowedDomains,omitempty"`

	// CORS says how IAP treats cross-origin preflight requests.
	// +optional
	CORS *CORSSettings `json:"cors,omitempty"`

	// ProgrammaticClients are the OAuth client IDs, besides IAP's own, whose tokens IAP accepts
	// from programs (service-to-service calls, desktop and mobile apps).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +listType=set
	// +optional
	ProgrammaticClients []OAuthClientID `json:"programmaticClients,omitempty"`

	// Clear lists settings to reset to Google's default (as if never set) and keep that way.
	// A setting only removed from the spec is left as it is.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	// +listType=set
	// +optional
	Clear []SettingName `json:"clear,omitempty"`
}

// AccessDeniedPage customises what a refused user sees. Each field is managed only when set.
// +kubebuilder:validation:MinProperties=1
type AccessDeniedPage struct {
	// URI is the page IAP redirects refused users to.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''",message="uri must be an absolute https:// URL"
	// +optional
	URI *string `json:"uri,omitempty"`

	// TroubleshootingLink adds a link to a troubleshooting page, with why access was denied,
	// to IAP's access-denied responses.
	// +optional
	TroubleshootingLink *bool `json:"troubleshootingLink,omitempty"`
}

// Reauthentication is IAP's re-authentication policy for the service.
type Reauthentication struct {
	// Method is how users re-authenticate: Login (sign in again), SecureKey (a security key)
	// or EnrolledSecondFactors (any second factor they enrolled).
	Method ReauthMethod `json:"method"`

	// MaxAge is how long a sign-in lasts before users must re-authenticate, at least 5 minutes
	// (Google's minimum), in Go duration syntax (30m, 12h).
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5m')",message="maxAge must be at least 5m: Google's minimum re-authentication age is 300 seconds"
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+s)?$')",message="maxAge must be hours, minutes and whole seconds, such as 12h or 1h30m: IAP keeps whole seconds"
	MaxAge metav1.Duration `json:"maxAge"`

	// Policy is IAP's policy type: Minimum (this setting is a floor for levels below it in the
	// resource hierarchy, which may only be stricter) or Default (it applies where nothing
	// lower sets one). A Cloud Run service is the lowest level, so either behaves the same
	// there; Minimum is what gcloud's examples use.
	// +kubebuilder:default=Minimum
	// +optional
	Policy ReauthPolicy `json:"policy,omitempty"`
}

// ReauthMethod is IAP's ReauthSettings.Method.
// +kubebuilder:validation:Enum=Login;SecureKey;EnrolledSecondFactors
type ReauthMethod string

const (
	ReauthLogin                 ReauthMethod = "Login"
	ReauthSecureKey             ReauthMethod = "SecureKey"
	ReauthEnrolledSecondFactors ReauthMethod = "EnrolledSecondFactors"
)

// ReauthPolicy is IAP's ReauthSettings.PolicyType.
// +kubebuilder:validation:Enum=Minimum;Default
type ReauthPolicy string

const (
	ReauthPolicyMinimum ReauthPolicy = "Minimum"
	ReauthPolicyDefault ReauthPolicy = "Default"
)

// CORSSettings is IAP's CorsSettings.
type CORSSettings struct {
	// AllowHTTPOptions lets HTTP OPTIONS requests (CORS preflights) through IAP without
	// authentication, so browsers can call the service from other origins.
	AllowHTTPOptions bool `json:"allowHTTPOptions"`
}

// AllowedDomain is a host name, or a wildcard "*." followed by one, that IAP may redirect to.
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:Pattern=`^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
type AllowedDomain string

// OAuthClientID is an OAuth 2.0 client ID, as Google issues them.
// +kubebuilder:validation:MaxLength=255
// +kubebuilder:validation:Pattern=`^[0-9A-Za-z._-]+$`
type OAuthClientID string

// SettingName names one IAP setting of IAPSettings.
// +kubebuilder:validation:Enum=AccessDeniedPage;Reauthentication;AllowedDomains;CORS;ProgrammaticClients
type SettingName string

const (
	SettingAccessDeniedPage    SettingName = "AccessDeniedPage"
	SettingReauthentication    SettingName = "Reauthentication"
	SettingAllowedDomains      SettingName = "AllowedDomains"
	SettingCORS                SettingName = "CORS"
	SettingProgrammaticClients SettingName = "ProgrammaticClients"
)

// AccessGroup is one set of members who may pass IAP under one context.
type AccessGroup struct {
	// Name identifies the group within this object; it is written into the IAM condition title.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
	Name string `json:"name"`

	// Members are IAM principals: user:, group:, serviceAccount: (an email), domain: (a domain
	// name), principal:// or principalSet:// (workforce or workload identity).
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1500
	Members []Member `json:"members"`

	// Context restricts when the members may pass; every clause given must hold.
	// +optional
	Context *AccessContext `json:"context,omitempty"`
}

// Member is an IAM principal identifier.
// allUsers, allAuthenticatedUsers and deleted: principals are rejected with a reason.
// +kubebuilder:validation:MaxLength=512
// +kubebuilder:validation:XValidation:rule="self != 'allUsers' && self != 'allAuthenticatedUsers'",message="allUsers and allAuthenticatedUsers cannot be IAP members: that would let anyone through IAP; use publicAccess: Allow with iap.enabled: false to make a service public"
// +kubebuilder:validation:XValidation:rule="!self.startsWith('deleted:')",message="deleted: principals cannot be granted; remove the member or name the re-created principal"
// +kubebuilder:validation:Pattern=`^((user|group|serviceAccount):[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}|domain:[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}|principal://iam\.googleapis\.com/(locations/global/workforcePools|projects/[0-9]+/locations/global/workloadIdentityPools)/[a-z0-9-]+/subject/[^\s]+|principalSet://iam\.googleapis\.com/(locations/global/workforcePools|projects/[0-9]+/locations/global/workloadIdentityPools)/[a-z0-9-]+/(group/[^\s]+|attribute\.[a-z0-9_]+/[^\s]+|\*))$`
type Member string

// AccessContext is the context in which an access group's members may pass IAP.
// +kubebuilder:validation:XValidation:rule="!has(self.notBefore) || !has(self.notAfter) || self.notBefore < self.notAfter",message="notBefore must be earlier than notAfter"
type AccessContext struct {
	// AccessLevels are Access Context Manager levels the request must be granted, all of them:
	// the name of an AccessLevel object (corp-network), or a full name
	// accessPolicies/N/accessLevels/NAME from the organization's access policy. runguard checks
	// that each exists before any IAM write.
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +optional
	AccessLevels []AccessLevelRef `json:"accessLevels,omitempty"`

	// PathPrefixes admit requests whose path starts with any one of them.
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +optional
	PathPrefixes []PathPrefix `json:"pathPrefixes,omitempty"`

	// Hosts admit requests for any one of these host names (exact match).
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Hosts []Host `json:"hosts,omitempty"`

	// NotBefore admits requests from this time on.
	// +optional
	NotBefore *metav1.Time `json:"notBefore,omitempty"`

	// NotAfter admits requests only before this time.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`

	// Expression is a raw IAM condition (CEL) ANDed with the clauses above. runguard writes it to
	// IAM in canonical form (parsed and printed back, so comments and line breaks are dropped).
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'[\x00-\x08\x0B-\x1F\x7F-\x9F\x{2028}\x{2029}]')`,message="expression may not contain carriage returns, Unicode line or paragraph separators, NUL or other control characters (newlines and tabs are fine): CEL implementations disagree on where a // comment ends, so such a character could change the meaning of the condition"
	// +optional
	Expression string `json:"expression,omitempty"`
}

// PathPrefix is a URL path prefix; it starts with a slash.
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:Pattern=`^/[^\s]*$`
type PathPrefix string

// Host is a bare host name: no scheme, port or path.
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:Pattern=`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
type Host string

// PublicAccess says whether a service may stay publicly invocable.
// +kubebuilder:validation:Enum=Deny;Allow
type PublicAccess string

const (
	PublicAccessDeny  PublicAccess = "Deny"
	PublicAccessAllow PublicAccess = "Allow"
)

// BindingPolicy says which accessor bindings runguard manages.
// +kubebuilder:validation:Enum=Merge;Exclusive
type BindingPolicy string

const (
	BindingPolicyMerge     BindingPolicy = "Merge"
	BindingPolicyExclusive BindingPolicy = "Exclusive"
)

// Mode says whether runguard writes to Google Cloud or only observes it.
// +kubebuilder:validation:Enum=Enforce;Observe
type Mode string

const (
	ModeEnforce Mode = "Enforce"
	ModeObserve Mode = "Observe"
)

// DeletionPolicy says what deleting the object does in Google Cloud.
// +kubebuilder:validation:Enum=Delete;Abandon
type DeletionPolicy string

const (
	DeletionPolicyDelete  DeletionPolicy = "Delete"
	DeletionPolicyAbandon DeletionPolicy = "Abandon"
)

// ProtectedServiceStatus is what the controller last observed and did.
type ProtectedServiceStatus struct {
	// ObservedGeneration is the spec generation the conditions describe. It defaults to 0, so a
	// new object reads as in progress (kstatus InProgress) until runguard has evaluated it.
	// +kubebuilder:default=0
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready summarizes; Reconciling and Stalled follow kstatus; InvokerGranted,
	// AccessBound, IAPEnabled and PublicAccessRevoked report each step.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ProjectNumber is the number of spec.service.project.
	// +optional
	ProjectNumber string `json:"projectNumber,omitempty"`

	// ServiceURI is the service's run.app address.
	// +optional
	ServiceURI string `json:"serviceURI,omitempty"`

	// IAPResource is the IAP resource whose IAM policy holds the access bindings.
	// +optional
	IAPResource string `json:"iapResource,omitempty"`

	// ManagedBindings caches the bindings runguard's markers in Google say this object owns.
	// Google's policy, not this list, is the record.
	// +listType=map
	// +listMapKey=group
	// +optional
	ManagedBindings []ManagedBinding `json:"managedBindings,omitempty"`

	// AccessLevels say, for each access group that requires access levels, what each level
	// means, as runguard resolved them before writing the group's binding.
	// +listType=map
	// +listMapKey=group
	// +optional
	AccessLevels []GroupAccessLevels `json:"accessLevels,omitempty"`

	// InheritedAccess are the grants above the service that let members through IAP (at most
	// 20; the InheritedAccess condition gives the count).
	// +listType=atomic
	// +optional
	InheritedAccess []InheritedGrant `json:"inheritedAccess,omitempty"`

	// AccessTests are the results of spec.accessTests, as last evaluated.
	// +listType=map
	// +listMapKey=name
	// +optional
	AccessTests []AccessTestResult `json:"accessTests,omitempty"`

	// MemberCount is the number of members bound across all access groups.
	// +optional
	MemberCount int32 `json:"memberCount,omitempty"`

	// ActiveGrants is the number of active AccessGrants whose binding this pass wrote or found
	// (their bindings are in managedBindings as group grant.NAME).
	// +optional
	ActiveGrants int32 `json:"activeGrants,omitempty"`

	// PublicAccessRevokedTime is when runguard last removed public access to the service. With
	// iap.enabled false, IAP is switched off only once that revocation has had time to propagate.
	// +optional
	PublicAccessRevokedTime *metav1.Time `json:"publicAccessRevokedTime,omitempty"`

	// PendingChanges are, in Observe mode, the changes Enforce would make in Google Cloud, in
	// the order it would make them (at most 20; PendingChangeCount is the total).
	// +optional
	PendingChanges []string `json:"pendingChanges,omitempty"`
	// PendingChangeCount is how many changes Enforce would make (Observe mode).
	// +optional
	PendingChangeCount int32 `json:"pendingChangeCount,omitempty"`

	// LastSyncTime is when the controller last confirmed Google Cloud matches the spec.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
}

// GroupAccessLevels are the access levels one access group requires, resolved.
type GroupAccessLevels struct {
	// Group is the access group.
	Group string `json:"group"`
	// Summary says who passes and from where, in one line: "finance: 3 members from
	// corp-network (from 203.0.113.0/24) and managed-device (on a device with screen lock)".
	Summary string `json:"summary"`
	// Levels are the levels, in the order the group lists them.
	// +listType=atomic
	// +optional
	Levels []ResolvedAccessLevel `json:"levels,omitempty"`
}

// ResolvedAccessLevel is one access level a group requires, as runguard found it.
type ResolvedAccessLevel struct {
	// Ref is the level as the group names it: an AccessLevel object or a full name.
	Ref string `json:"ref"`
	// Name is the level's full name in Access Context Manager.
	Name string `json:"name"`
	// Title is the level's title in Google.
	// +optional
	Title string `json:"title,omitempty"`
	// Meaning is the level's definition in words.
	// +optional
	Meaning string `json:"meaning,omitempty"`
}

// ManagedBinding is one accessor binding runguard wrote for this object.
type ManagedBinding struct {
	// Group is the access group the binding belongs to, or grant.NAME for AccessGrant NAME's.
	Group string `json:"group"`
	// Role is the IAM role bound.
	Role string `json:"role"`
	// ConditionTitle is the IAM condition title that marks the binding.
	ConditionTitle string `json:"conditionTitle"`
	// Members are the principals bound.
	// +listType=atomic
	// +optional
	Members []string `json:"members,omitempty"`
}

// ProtectedService protects one Cloud Run service with Identity-Aware Proxy.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=psvc,categories=runguard
// +kubebuilder:printcolumn:name="Project",type=string,JSONPath=`.spec.service.project`
// +kubebuilder:printcolumn:name="Location",type=string,JSONPath=`.spec.service.location`
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.service.name`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="In Sync",type=string,JSONPath=`.status.conditions[?(@.type=="InSync")].status`
// +kubebuilder:printcolumn:name="IAP",type=string,JSONPath=`.status.conditions[?(@.type=="IAPEnabled")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Members",type=integer,JSONPath=`.status.memberCount`
// +kubebuilder:printcolumn:name="Grants",type=integer,JSONPath=`.status.activeGrants`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be at most 63 characters: it is written into the IAM condition that marks runguard's bindings"
type ProtectedService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ProtectedServiceSpec `json:"spec"`
	// +kubebuilder:default={}
	Status ProtectedServiceStatus `json:"status,omitempty"`
}

// ProtectedServiceList is a list of ProtectedService.
// +kubebuilder:object:root=true
type ProtectedServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProtectedService `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ProtectedService{}, &ProtectedServiceList{})
}
