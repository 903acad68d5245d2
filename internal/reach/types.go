package reach

import "time"

// Kind names where in the hierarchy above a Cloud Run service a binding
// was found.
type Kind string

// The places a binding can come from, innermost first. IAP checks the
// service's own IAP resource and inherits every policy above it.
const (
	// Service: projects/N/iap_web/cloud_run-REGION/services/SERVICE.
	Service Kind = "service"
	// IAPRegion: projects/N/iap_web/cloud_run-REGION.
	IAPRegion Kind = "iap-region"
	// IAPProject: projects/N/iap_web ("All Web Services" in the console).
	IAPProject Kind = "iap-project"
	// Project: the project's own IAM policy.
	Project Kind = "project"
	// Folder: any folder above the project.
	Folder Kind = "folder"
	// Organization: the organization above the project.
	Organization Kind = "organization"
)

// Where is the resource whose allow policy holds a binding.
type Where struct {
	Kind     Kind
	Resource string
}

// Binding is one role binding of one allow policy, as read.
type Binding struct {
	Where   Where
	Role    string
	Members []string
	// Condition is the binding's CEL expression; "" means unconditional.
	Condition string
	// Title is the condition's title, used to name it in messages.
	Title string
}

// Request is what is known about one request. Every fact left empty is
// unknown, never assumed: answers that turn on it are DEPENDS.
type Request struct {
	// Member is the caller as IAM names it: "user:alice@acme.com",
	// "serviceAccount:…", "principal://…".
	Member string
	// Groups are the groups (group:EMAIL) and principal sets
	// (principalSet://…) the member belongs to, directly or not.
	Groups []string
	// GroupsKnown says Groups is complete: a group or principal set not
	// listed does not contain the member. When false, membership of any
	// group not listed is unknown.
	GroupsKnown bool
	// IP is the address the request comes from, as IAP sees it.
	IP string
	// RegionCode is the ISO 3166-1 alpha-2 code of where the request
	// comes from ("DE").
	RegionCode string
	// Path and Host are request.path and request.host after IAP's
	// normalization.
	Path, Host string
	// Time is request.time. The zero value is unknown: the current time is
	// not assumed.
	Time time.Time
	// Device holds the device facts known, keyed by the Device* constants.
	Device map[string]string
}

// The keys of Request.Device. Each is one attribute an access level's
// device policy or custom expression can test; a key left out is unknown.
const (
	// DeviceScreenLock: "true" or "false".
	DeviceScreenLock = "screen_lock"
	// DeviceEncryption: ENCRYPTED, UNENCRYPTED, ENCRYPTION_UNSUPPORTED or
	// ENCRYPTION_UNSPECIFIED.
	DeviceEncryption = "encryption"
	// DeviceOS: DESKTOP_MAC, DESKTOP_WINDOWS, DESKTOP_LINUX,
	// DESKTOP_CHROME_OS, ANDROID or IOS.
	DeviceOS = "os"
	// DeviceOSVersion: "major.minor.patch", e.g. "14.2.1".
	DeviceOSVersion = "os_version"
	// DeviceVerifiedChromeOS: "true" or "false".
	DeviceVerifiedChromeOS = "verified_chrome_os"
	// DeviceCorpOwned: "true" or "false".
	DeviceCorpOwned = "corp_owned"
	// DeviceAdminApproved: "true" or "false".
	DeviceAdminApproved = "admin_approved"
	// DeviceManagement: NONE, BASIC, COMPLETE or MANAGEMENT_UNSPECIFIED.
	DeviceManagement = "management"
)

// Verdict is the three-valued answer.
type Verdict string

const (
	Allow   Verdict = "ALLOW"
	Deny    Verdict = "DENY"
	Depends Verdict = "DEPENDS"
)

// Answer is the decision on one request.
type Answer struct {
	Verdict Verdict
	// Binding is, for ALLOW, the binding that lets the request in; for
	// DEPENDS, the first binding that might; for DENY, the closest one (its
	// member matched, its condition failed), or nil when no binding of a
	// role carrying the permission names the member.
	Binding *Binding
	// Failed says, for DENY, which clause of the closest binding's
	// condition failed and why, or that no binding names the member.
	Failed string
	// Depends lists, for DEPENDS, what would decide: "user:alice@acme.com
	// is in group:finance@acme.com", "the device has a screen lock
	// (accessPolicies/1/accessLevels/managed)".
	Depends []string
	// Assumptions lists what the answer took as given without knowing it,
	// e.g. that a level named in a condition but not among the levels
	// passed in is not satisfied.
	Assumptions []string
}
