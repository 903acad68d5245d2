package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccessGrantSpec asks for temporary access to one access group of a ProtectedService: its
// members pass IAP in that group's context (access levels, paths, hosts, time window), narrowed
// by spec.context, for spec.duration. The spec cannot change once created: ask again instead.
// The spec is compared field by field: a Go client writes a duration of 2h back as 2h0m0s, which
// is the same request.
// +kubebuilder:validation:XValidation:rule="self.protectedService == oldSelf.protectedService && self.accessGroup == oldSelf.accessGroup && self.members == oldSelf.members && has(self.context) == has(oldSelf.context) && (!has(self.context) || self.context == oldSelf.context) && duration(self.duration) == duration(oldSelf.duration) && has(self.startsAt) == has(oldSelf.startsAt) && (!has(self.startsAt) || self.startsAt == oldSelf.startsAt) && self.reason == oldSelf.reason && self.requestedBy == oldSelf.requestedBy && (has(self.breakGlass) && self.breakGlass) == (has(oldSelf.breakGlass) && oldSelf.breakGlass)",message="an AccessGrant cannot be changed once requested: delete it and request a new one"
// +kubebuilder:validation:XValidation:rule="!has(self.breakGlass) || !self.breakGlass || !has(self.startsAt)",message="a break-glass grant is active at once: leave startsAt out"
type AccessGrantSpec struct {
	// ProtectedService is the name of the ProtectedService, in this namespace, to grant access to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ProtectedService string `json:"protectedService"`

	// AccessGroup is the name of one of the ProtectedService's access groups. The grant's members
	// get that group's context: every access level, path, host and time window it declares.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
	AccessGroup string `json:"accessGroup"`

	// Members are the IAM principals granted access, spelled as in access groups.
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	Members []Member `json:"members"`

	// Context narrows the access group's context; it can never widen it. Each path prefix must
	// lie under one of the group's, each host must be one of the group's (when the group names
	// any). A grant that would widen the group's context is Denied.
	// +optional
	Context *GrantContext `json:"context,omitempty"`

	// Duration is how long the grant lasts once active, such as 2h or 30m. The namespace bounds
	// it: annotation iap.runguard.dev/max-grant-duration (default 8h), and for break-glass
	// grants iap.runguard.dev/max-break-glass-duration (default 1h).
	// +kubebuilder:validation:XValidation:rule="self.size() <= 20 && self.matches('^([0-9]{1,6}([.][0-9]*)?(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('720h')",message="duration must be a duration such as 2h or 90m, between 1s and 720h (30 days); the namespace may allow less"
	Duration metav1.Duration `json:"duration"`

	// StartsAt makes the grant active at that time (once approved), not at once.
	// +optional
	StartsAt *metav1.Time `json:"startsAt,omitempty"`

	// Reason says why access is needed (a ticket, an incident); approvers read it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`

	// RequestedBy is the Kubernetes user who requests the grant. The admission policy requires
	// it to be the user creating the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	RequestedBy string `json:"requestedBy"`

	// BreakGlass makes the grant active at once, without approval, for at most the namespace's
	// iap.runguard.dev/max-break-glass-duration (default 1h). It raises a Warning Event and
	// ReviewRequired until an approval is given after the fact.
	// +optional
	BreakGlass bool `json:"breakGlass,omitempty"`
}

// GrantContext narrows the context of the access group a grant names. Its clauses are ANDed
// with the group's.
type GrantContext struct {
	// PathPrefixes admit only requests whose path starts with one of them; each must start with
	// one of the group's path prefixes when the group declares any.
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +optional
	PathPrefixes []PathPrefix `json:"pathPrefixes,omitempty"`

	// Hosts admit only requests for one of these host names; each must be one of the group's
	// hosts when the group declares any.
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Hosts []Host `json:"hosts,omitempty"`
}

// GrantPhase is where a grant is in its life.
// +kubebuilder:validation:Enum=Pending;Active;Expired;Revoked;Denied
type GrantPhase string

const (
	// GrantPending: waiting for approvals, or approved and waiting for startsAt.
	GrantPending GrantPhase = "Pending"
	// GrantActive: the members have access until expiresAt.
	GrantActive GrantPhase = "Active"
	// GrantExpired: the grant ran its duration (or its window passed before approval).
	GrantExpired GrantPhase = "Expired"
	// GrantRevoked: access ended early (a Deny after activation, the service or group gone, a
	// member no longer allowed).
	GrantRevoked GrantPhase = "Revoked"
	// GrantDenied: the grant never became active (an approver denied it, or it is invalid).
	GrantDenied GrantPhase = "Denied"
)

// Finished reports whether the phase is final: Expired, Revoked and Denied never change.
func (p GrantPhase) Finished() bool {
	return p == GrantExpired || p == GrantRevoked || p == GrantDenied
}

// AccessGrantStatus is what runguard decided about the grant and what Google holds.
type AccessGrantStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase: Pending → Active → Expired | Revoked, or Pending → Denied.
	// +optional
	Phase GrantPhase `json:"phase,omitempty"`

	// Conditions: Approved, Active (with Bound once the binding is in Google), ReviewRequired
	// (break-glass grants).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ActiveFrom is when the grant became (or becomes) active.
	// +optional
	ActiveFrom *metav1.Time `json:"activeFrom,omitempty"`

	// ExpiresAt is when access ends. Google's own condition (request.time < ExpiresAt) ends it
	// then even if runguard is not running.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// Approvals are the decisions on this grant, in the order given; one that does not count
	// says why (ignored).
	// +optional
	Approvals []GrantDecision `json:"approvals,omitempty"`

	// EndedAt is when the grant left the Active phase, or was Denied.
	// +optional
	EndedAt *metav1.Time `json:"endedAt,omitempty"`
}

// GrantDecision is one approver's decision as the grant counted it.
type GrantDecision struct {
	// Approval is the AccessGrantApproval object's name.
	Approval string `json:"approval"`
	// By is the approver.
	By string `json:"by"`
	// Decision is Approve or Deny.
	Decision ApprovalDecision `json:"decision"`
	// At is when the approval was created.
	At metav1.Time `json:"at"`
	// Ignored says why the decision does not count (an approval by the requester).
	// +optional
	Ignored string `json:"ignored,omitempty"`
}

// AccessGrant asks for temporary access to a ProtectedService's access group. While Active,
// runguard binds its members with a condition that ends at expiresAt, so Google itself denies
// them afterwards even if runguard is down.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=agrant,categories=runguard
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="an AccessGrant's name may be at most 63 characters: it is written into the IAM condition title"
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.protectedService`
// +kubebuilder:printcolumn:name="Group",type=string,JSONPath=`.spec.accessGroup`
// +kubebuilder:printcolumn:name="Members",type=string,JSONPath=`.spec.members`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Break-glass",type=boolean,JSONPath=`.spec.breakGlass`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Active")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AccessGrant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AccessGrantSpec   `json:"spec"`
	Status AccessGrantStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AccessGrantList is a list of AccessGrant.
type AccessGrantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessGrant `json:"items"`
}

// ApprovalDecision is an approver's answer.
// +kubebuilder:validation:Enum=Approve;Deny
type ApprovalDecision string

const (
	DecisionApprove ApprovalDecision = "Approve"
	DecisionDeny    ApprovalDecision = "Deny"
)

// AccessGrantApprovalSpec is one approver's decision on one AccessGrant in the same namespace.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="an approval cannot be changed once given: a Deny given later overrides an Approve"
type AccessGrantApprovalSpec struct {
	// Grant is the AccessGrant's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Grant string `json:"grant"`

	// ApprovedBy is the approver. The admission policy requires it to be the user creating the
	// object, and refuses the grant's requester.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	ApprovedBy string `json:"approvedBy"`

	// Decision is Approve or Deny. One Deny denies (or, once active, revokes) the grant.
	Decision ApprovalDecision `json:"decision"`

	// Comment is the approver's note.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Comment string `json:"comment,omitempty"`
}

// AccessGrantApproval approves or denies an AccessGrant. Who may approve is RBAC: create on
// accessgrantapprovals.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=agapproval,categories=runguard
// +kubebuilder:printcolumn:name="Grant",type=string,JSONPath=`.spec.grant`
// +kubebuilder:printcolumn:name="By",type=string,JSONPath=`.spec.approvedBy`
// +kubebuilder:printcolumn:name="Decision",type=string,JSONPath=`.spec.decision`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AccessGrantApproval struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AccessGrantApprovalSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// AccessGrantApprovalList is a list of AccessGrantApproval.
type AccessGrantApprovalList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessGrantApproval `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AccessGrant{}, &AccessGrantList{}, &AccessGrantApproval{}, &AccessGrantApprovalList{})
}
