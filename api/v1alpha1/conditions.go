package v1alpha1

// Condition types on ProtectedService. Ready summarizes; Reconciling and Stalled follow kstatus
// (sigs.k8s.io/cli-utils/pkg/kstatus), which Argo CD and Flux read; the rest report each step.
const (
	ConditionReady               = "Ready"
	ConditionReconciling         = "Reconciling"
	ConditionStalled             = "Stalled"
	ConditionInvokerGranted      = "InvokerGranted"
	ConditionAccessBound         = "AccessBound"
	ConditionIAPEnabled          = "IAPEnabled"
	ConditionPublicAccessRevoked = "PublicAccessRevoked"
	// ConditionSettingsApplied reports spec.iap.settings; absent when the spec declares none.
	ConditionSettingsApplied = "SettingsApplied"
	// ConditionInSync is, in Observe mode, True when Google Cloud already matches the spec.
	ConditionInSync = "InSync"
	// ConditionDeleting is True while a deleted object waits for its cleanup in Google Cloud.
	ConditionDeleting = "Deleting"
	// ConditionInheritedAccess is True while grants above the service let members through IAP
	// (status.inheritedAccess), False when there is none, Unknown when runguard may not read a
	// policy above it.
	ConditionInheritedAccess = "InheritedAccess"
	// ConditionPaused is True while the object carries AnnotationPaused: runguard neither reads
	// nor writes Google Cloud for it.
	ConditionPaused = "Paused"
)

// Reasons that need a human: the object is Stalled until the cause is fixed. docs/controller.md
// says what to do about each.
const (
	ReasonProjectNotAllowed      = "ProjectNotAllowed"
	ReasonMemberNotAllowed       = "MemberNotAllowed"
	ReasonServiceClaimed         = "ServiceClaimed"
	ReasonWouldExposeService     = "WouldExposeService"
	ReasonInvalidCondition       = "InvalidCondition"
	ReasonPolicyTooLarge         = "PolicyTooLarge"
	ReasonPermissionDenied       = "PermissionDenied"
	ReasonAPIDisabled            = "APIDisabled"
	ReasonIAPServiceAgentMissing = "IAPServiceAgentMissing"
	ReasonMemberRejected         = "MemberRejected"
	ReasonRequestRejected        = "RequestRejected"
	ReasonUnauthenticated        = "Unauthenticated"
	// ReasonRolloutFailed: the Cloud Run rollout runguard started (to switch IAP on or off)
	// failed; the field is set but the new revision does not serve.
	ReasonRolloutFailed = "RolloutFailed"
	// ReasonNamespaceIdentityRequired: the manager runs with --require-namespace-identity and
	// the namespace names no Google service account to act as.
	ReasonNamespaceIdentityRequired = "NamespaceIdentityRequired"
	// ReasonNamespaceIdentityUnusable: runguard cannot get a token for the namespace's service
	// account (no token-creator grant, no such account, or not an account's email).
	ReasonNamespaceIdentityUnusable = "NamespaceIdentityUnusable"
)

// Reasons that need a human, about access levels: an AccessLevel, or a ProtectedService whose
// access group requires a level, is Stalled until the cause is fixed.
const (
	// ReasonAccessLevelNotFound: a level named by its full name does not exist in Access Context
	// Manager, or an AccessLevel object named in a reference does not exist.
	ReasonAccessLevelNotFound = "AccessLevelNotFound"
	// ReasonAccessPolicyUnset: the AccessLevel names no access policy and the manager has no
	// --access-policy.
	ReasonAccessPolicyUnset = "AccessPolicyUnset"
	// ReasonAccessPolicyNotFound: the access policy does not exist (or runguard may not see it).
	ReasonAccessPolicyNotFound = "AccessPolicyNotFound"
	// ReasonScopedAccessPolicy: the access policy is scoped to a folder or project; IAP honours
	// only levels of the organization's policy.
	ReasonScopedAccessPolicy = "ScopedAccessPolicy"
	// ReasonInvalidExpression: a custom level's CEL expression does not compile.
	ReasonInvalidExpression = "InvalidExpression"
	// ReasonReferenceCycle: levels require each other in a cycle.
	ReasonReferenceCycle = "ReferenceCycle"
	// ReasonAccessTestFailed: an access test of the spec does not get the outcome it expects
	// from the policy runguard would write; nothing but the lockdown is written.
	ReasonAccessTestFailed = "AccessTestFailed"
	// ReasonInheritedAccessFound: with inheritedAccess Deny, a grant above the service lets
	// members through IAP; runguard never edits policies above the service.
	ReasonInheritedAccessFound = "InheritedAccessFound"
	// ReasonAccessLevelNotOwned: a level of that name exists in Google and runguard did not
	// create it (or another cluster's runguard did); runguard never edits or deletes it.
	ReasonAccessLevelNotOwned = "AccessLevelNotOwned"
)

// Reasons of progress, about access levels.
const (
	// ReasonNoInheritedAccess: InheritedAccess=False, no grant above the service lets anyone in.
	ReasonNoInheritedAccess = "NoInheritedAccess"
	// ReasonAccessLevelNotReady: a required AccessLevel object is not Ready yet.
	ReasonAccessLevelNotReady = "AccessLevelNotReady"
	// ReasonInUse: a deleted AccessLevel waits until no ProtectedService requires it, so deleting
	// it never locks a service's users out.
	ReasonInUse = "InUse"
)

// AnnotationAdoptLevel: "true" on an AccessLevel lets runguard take over a level of that name
// that exists in Google without runguard's mark (made with another tool); runguard then writes
// its mark and manages the level from then on.
const AnnotationAdoptLevel = "iap.runguard.dev/adopt"

// Reasons of progress and success.
const (
	ReasonProtected       = "Protected"
	ReasonReconciled      = "Reconciled"
	ReasonProgressing     = "Progressing"
	ReasonServiceNotFound = "ServiceNotFound"
	ReasonRetrying        = "Retrying"
	// ReasonThrottled: a Google call waits for runguard's own rate limit of its project and
	// region (--run-writes-per-minute and friends); the pass resumes when it is due.
	ReasonThrottled             = "Throttled"
	ReasonPending               = "Pending"
	ReasonGranted               = "Granted"
	ReasonBound                 = "Bound"
	ReasonEnabled               = "Enabled"
	ReasonDisabled              = "Disabled"
	ReasonRollingOut            = "RollingOut"
	ReasonRevocationPropagating = "RevocationPropagating"
	// ReasonIAPServiceAgentPropagating: a just-created IAP service agent is not accepted by IAM
	// yet; retried for --iap-agent-propagation-timeout before IAPServiceAgentMissing.
	ReasonIAPServiceAgentPropagating = "IAPServiceAgentPropagating"
	ReasonRevoked                    = "Revoked"
	ReasonPublicAccessAllowed        = "PublicAccessAllowed"
	// ReasonNotNeeded: IAP is off, so its service agent needs no invoker grant.
	ReasonNotNeeded = "NotNeeded"
	// ReasonApplied: every declared IAP setting holds in Google.
	ReasonApplied  = "Applied"
	ReasonDeleting = "Deleting"
	// ReasonObserving: spec.mode is Observe; nothing is written to Google Cloud.
	ReasonObserving = "Observing"
	// ReasonChangesPending: in Observe mode, Enforce would change Google Cloud.
	ReasonChangesPending = "ChangesPending"
	// ReasonMatches: in Observe mode, Google Cloud already matches the spec.
	ReasonMatches = "Matches"
	// ReasonPaused: the object carries AnnotationPaused.
	ReasonPaused = "Paused"
)

// Finalizer keeps the object until its bindings are removed from Google Cloud (deletionPolicy Delete).
const Finalizer = "iap.runguard.dev/finalizer"

// AnnotationPaused: "true" on a ProtectedService pauses it (during an incident or a migration):
// runguard makes no Google call for it, neither read nor write, until the annotation is removed
// or set to anything else. Deleting a paused object with deletionPolicy Delete waits until it is
// resumed; with Abandon the object goes at once.
const AnnotationPaused = "iap.runguard.dev/paused"

// Namespace annotations: set by cluster admins, read by runguard. Tenants cannot change them
// (docs/tenancy.md); they are part of the user contract, like the finalizer.
const (
	// AnnotationAllowedProjects lists the Cloud Run services the namespace's objects may target:
	// "project", "project/location" or "project/location/service-glob", comma-separated.
	AnnotationAllowedProjects = "iap.runguard.dev/allowed-projects"
	// AnnotationAllowedMembers lists the member patterns the namespace's objects may grant.
	AnnotationAllowedMembers = "iap.runguard.dev/allowed-members"
	// AnnotationAllowPublic: "true" lets an object switch IAP off on a publicly invocable service.
	AnnotationAllowPublic = "iap.runguard.dev/allow-public"
	// AnnotationGoogleServiceAccount names the Google service account every Google call for the
	// namespace's objects is made as. Absent means runguard's own identity; present, it must
	// name a service account.
	AnnotationGoogleServiceAccount = "iap.runguard.dev/google-service-account"
	// AnnotationMaxGrantDuration bounds an AccessGrant's duration (a Go duration; default 8h).
	AnnotationMaxGrantDuration = "iap.runguard.dev/max-grant-duration"
	// AnnotationMaxBreakGlassDuration bounds a break-glass AccessGrant's duration (default 1h).
	AnnotationMaxBreakGlassDuration = "iap.runguard.dev/max-break-glass-duration"
	// AnnotationGrantApprovals is how many approvals, by distinct users other than the requester,
	// an AccessGrant needs (default 1; "0" lets grants activate without approval).
	AnnotationGrantApprovals = "iap.runguard.dev/grant-approvals"
)

// Defaults of the grant annotations.
const (
	DefaultMaxGrantDuration      = "8h"
	DefaultMaxBreakGlassDuration = "1h"
	DefaultGrantApprovals        = 1
)

// Condition types on AccessGrant.
const (
	// ConditionApproved: True once enough approvals are in (or none are needed, or break-glass).
	ConditionApproved = "Approved"
	// ConditionActive: True while the grant is active; reason Bound once its binding is in
	// Google, Binding until then.
	ConditionActive = "Active"
	// ConditionReviewRequired: True for a break-glass grant until an approval arrives.
	ConditionReviewRequired = "ReviewRequired"
)

// Reasons on AccessGrant conditions. docs/access-grants.md says what each means.
const (
	ReasonAwaitingApproval  = "AwaitingApproval"
	ReasonApproved          = "Approved"
	ReasonApprovalNotNeeded = "ApprovalNotNeeded"
	ReasonBreakGlass        = "BreakGlass"
	ReasonReviewed          = "Reviewed"
	ReasonApprovalDenied    = "ApprovalDenied"
	ReasonNotStarted        = "NotStarted"
	ReasonBinding           = "Binding"
	ReasonExpired           = "Expired"
	// Why a grant is Denied or Revoked by runguard rather than by an approver.
	ReasonDurationTooLong          = "DurationTooLong"
	ReasonProtectedServiceNotFound = "ProtectedServiceNotFound"
	ReasonAccessGroupNotFound      = "AccessGroupNotFound"
	ReasonContextWidened           = "ContextWidened"
	ReasonServiceNotEnforced       = "ServiceNotEnforced"
	ReasonInvalidNamespacePolicy   = "InvalidNamespacePolicy"
)

// GrantGroupPrefix starts the name of the group an AccessGrant's binding is written as
// (grant.NAME); access group names cannot contain a dot, so the two never collide.
const GrantGroupPrefix = "grant."
