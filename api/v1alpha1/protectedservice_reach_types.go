package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InheritedAccessPolicy says what to do about IAP access granted above the service.
// +kubebuilder:validation:Enum=Report;Deny
type InheritedAccessPolicy string

const (
	InheritedAccessReport InheritedAccessPolicy = "Report"
	InheritedAccessDeny   InheritedAccessPolicy = "Deny"
)

// InheritedGrant is one grant above the service that lets members through IAP.
type InheritedGrant struct {
	// Member is the principal granted.
	Member string `json:"member"`
	// Where is the resource whose IAM policy holds the grant (projects/N, projects/N/iap_web,
	// folders/N, organizations/N).
	Where string `json:"where"`
	// Role is the role granted; it carries iap.webServiceVersions.accessViaIAP.
	Role string `json:"role"`
	// Condition is the grant's IAM condition in words; empty when unconditional.
	// +optional
	Condition string `json:"condition,omitempty"`
}

// AccessTest is one request and the outcome the declaration must give it.
type AccessTest struct {
	// Name identifies the test.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
	Name string `json:"name"`

	// Member is who makes the request: a user, a service account or a workforce/workload
	// principal (a group or domain makes no request).
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^((user|serviceAccount):[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}|principal://iam\.googleapis\.com/[^\s]+)$`
	Member string `json:"member"`

	// Groups are the groups (group:EMAIL) the member is taken to belong to; unlisted groups
	// are taken as not held.
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Groups []TestGroup `json:"groups,omitempty"`

	// From is the request's context; what is left out cannot satisfy a clause that needs it.
	// +optional
	From *TestContext `json:"from,omitempty"`

	// Expect is Allow or Deny.
	// +kubebuilder:validation:Enum=Allow;Deny
	Expect TestOutcome `json:"expect"`
}

// TestGroup is a group the test's member belongs to.
// +kubebuilder:validation:MaxLength=320
// +kubebuilder:validation:Pattern=`^group:[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}$`
type TestGroup string

// TestContext is where a test's request comes from and what it asks for.
type TestContext struct {
	// IP is the client's address.
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="ip must be an IPv4 or IPv6 address"
	// +optional
	IP string `json:"ip,omitempty"`
	// Region is the client's ISO 3166-1 alpha-2 country or region.
	// +optional
	Region RegionCode `json:"region,omitempty"`
	// Path is the request's URL path.
	// +optional
	Path PathPrefix `json:"path,omitempty"`
	// Host is the request's host name.
	// +optional
	Host Host `json:"host,omitempty"`
	// At is when the request is made; empty: when the test runs.
	// +optional
	At *metav1.Time `json:"at,omitempty"`
	// Device are facts about the client's device (docs/effective-access.md lists the keys).
	// +kubebuilder:validation:MaxProperties=10
	// +optional
	Device map[string]string `json:"device,omitempty"`
}

// TestOutcome is what an access test expects.
type TestOutcome string

const (
	TestAllow TestOutcome = "Allow"
	TestDeny  TestOutcome = "Deny"
)

// AccessTestResult is the last evaluation of one access test.
type AccessTestResult struct {
	// Name is the test's.
	Name string `json:"name"`
	// Result is ALLOW, DENY or DEPENDS (what decides is in Message).
	Result string `json:"result"`
	// Passed: the result is the one expected.
	Passed bool `json:"passed"`
	// Message names the binding that decided, or, for DENY, the closest one and the clause
	// that failed.
	// +optional
	Message string `json:"message,omitempty"`
}
