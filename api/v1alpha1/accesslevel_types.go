package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccessLevelSpec declares one Access Context Manager access level: the context (network, region,
// device) a request must come from. ProtectedService access groups require it by this object's
// name. Exactly one of basic or custom is given.
// +kubebuilder:validation:XValidation:rule="has(self.basic) != has(self.custom)",message="give exactly one of basic (conditions on IP ranges, regions, members and devices) or custom (a CEL expression)"
type AccessLevelSpec struct {
	// AccessPolicy is the organization's access policy that holds the level,
	// accessPolicies/NUMBER. Empty: the manager's --access-policy. IAP honours levels only from
	// the organization-level policy, never from a policy scoped to a folder or project. It
	// cannot be changed once set.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^accessPolicies/[0-9]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.accessPolicy is immutable: create a new AccessLevel to define a level in another policy"
	// +optional
	AccessPolicy string `json:"accessPolicy,omitempty"`

	// LevelName is the level's short name in Google (accessPolicies/N/accessLevels/LEVELNAME).
	// Empty: this object's name with "-" written as "_" (corp-network → corp_network). Set it to
	// manage a level whose name has capitals. It cannot be changed once set.
	// +kubebuilder:validation:MaxLength=50
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.levelName is immutable: create a new AccessLevel to manage another level"
	// +optional
	LevelName string `json:"levelName,omitempty"`

	// Title is the level's human-readable title in Google; Access Context Manager requires it to
	// be unique in the policy. Empty: the object's name.
	// +kubebuilder:validation:MaxLength=200
	// +optional
	Title string `json:"title,omitempty"`

	// Description is shown with the level in Google. runguard appends one line that marks the
	// level as its own (access levels have no labels), within 1,024 bytes in all.
	// +kubebuilder:validation:MaxLength=700
	// +optional
	Description string `json:"description,omitempty"`

	// Basic is a level made of conditions on where the request comes from and the device.
	// +optional
	Basic *BasicLevel `json:"basic,omitempty"`

	// Custom is a level written in Access Context Manager's CEL dialect.
	// +optional
	Custom *CustomLevel `json:"custom,omitempty"`

	// Mode is Enforce (default): runguard creates and updates the level in Google; or Observe:
	// runguard writes nothing and shows in status what Enforce would change.
	// +kubebuilder:default=Enforce
	// +optional
	Mode Mode `json:"mode,omitempty"`

	// DeletionPolicy says what deleting this object does to the level in Google. Delete (default)
	// deletes it, once no ProtectedService requires it; Abandon leaves it.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// BasicLevel is a list of conditions combined with AND or OR.
type BasicLevel struct {
	// CombiningFunction: AND (default) requires every condition, OR any one.
	// +kubebuilder:validation:Enum=AND;OR
	// +kubebuilder:default=AND
	// +optional
	CombiningFunction CombiningFunction `json:"combiningFunction,omitempty"`

	// Conditions are what a request must satisfy; Access Context Manager allows 40.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=40
	Conditions []LevelCondition `json:"conditions"`
}

// CombiningFunction says how a basic level combines its conditions.
type CombiningFunction string

const (
	CombineAND CombiningFunction = "AND"
	CombineOR  CombiningFunction = "OR"
)

// LevelCondition holds when every clause it gives holds (or, with negate, when one does not).
// +kubebuilder:validation:XValidation:rule="has(self.ipSubnetworks) || has(self.regions) || has(self.members) || has(self.devicePolicy) || has(self.requiredAccessLevels)",message="a condition needs at least one of ipSubnetworks, regions, members, devicePolicy or requiredAccessLevels"
type LevelCondition struct {
	// IPSubnetworks are IPv4 or IPv6 CIDR ranges with the host bits zero (192.0.2.0/24, not
	// 192.0.2.1/24). The request must come from one of them.
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +optional
	IPSubnetworks []IPSubnetwork `json:"ipSubnetworks,omitempty"`

	// Regions are ISO 3166-1 alpha-2 country or region codes (US, DE); the request must come
	// from one of them.
	// +listType=set
	// +kubebuilder:validation:MaxItems=200
	// +optional
	Regions []RegionCode `json:"regions,omitempty"`

	// Members are users and service accounts (user:, serviceAccount:) the condition admits;
	// Access Context Manager refuses groups and domains here.
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Members []LevelMember `json:"members,omitempty"`

	// DevicePolicy requires the device to meet a policy (Endpoint Verification).
	// +optional
	DevicePolicy *DevicePolicy `json:"devicePolicy,omitempty"`

	// RequiredAccessLevels are other levels that must also be granted: an AccessLevel object's
	// name, or a full accessPolicies/N/accessLevels/NAME in the same policy.
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +optional
	RequiredAccessLevels []AccessLevelRef `json:"requiredAccessLevels,omitempty"`

	// Negate makes the condition hold when its clauses do not. Access Context Manager refuses
	// a negated condition that only requires levels or members.
	// +optional
	Negate bool `json:"negate,omitempty"`
}

// IPSubnetwork is a CIDR range in canonical form.
// +kubebuilder:validation:MaxLength=43
// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="must be a CIDR range such as 192.0.2.0/24 or 2001:db8::/32"
// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).masked().ip() == cidr(self).ip()",message="the host bits must be zero: Access Context Manager refuses a range such as 192.0.2.1/24; write its network address (192.0.2.0/24)"
type IPSubnetwork string

// RegionCode is an ISO 3166-1 alpha-2 code, as Access Context Manager takes them: one of the 249
// codes ISO assigns (https://www.iso.org/obp/ui/#search/code/), upper case.
// +kubebuilder:validation:Enum=AD;AE;AF;AG;AI;AL;AM;AO;AQ;AR;AS;AT;AU;AW;AX;AZ;BA;BB;BD;BE;BF;BG;BH;BI;BJ;BL;BM;BN;BO;BQ;BR;BS;BT;BV;BW;BY;BZ;CA;CC;CD;CF;CG;CH;CI;CK;CL;CM;CN;CO;CR;CU;CV;CW;CX;CY;CZ;DE;DJ;DK;DM;DO;DZ;EC;EE;EG;EH;ER;ES;ET;FI;FJ;FK;FM;FO;FR;GA;GB;GD;GE;GF;GG;GH;GI;GL;GM;GN;GP;GQ;GR;GS;GT;GU;GW;GY;HK;HM;HN;HR;HT;HU;ID;IE;IL;IM;IN;IO;IQ;IR;IS;IT;JE;JM;JO;JP;KE;KG;KH;KI;KM;KN;KP;KR;KW;KY;KZ;LA;LB;LC;LI;LK;LR;LS;LT;LU;LV;LY;MA;MC;MD;ME;MF;MG;MH;MK;ML;MM;MN;MO;MP;MQ;MR;MS;MT;MU;MV;MW;MX;MY;MZ;NA;NC;NE;NF;NG;NI;NL;NO;NP;NR;NU;NZ;OM;PA;PE;PF;PG;PH;PK;PL;PM;PN;PR;PS;PT;PW;PY;QA;RE;RO;RS;RU;RW;SA;SB;SC;SD;SE;SG;SH;SI;SJ;SK;SL;SM;SN;SO;SR;SS;ST;SV;SX;SY;SZ;TC;TD;TF;TG;TH;TJ;TK;TL;TM;TN;TO;TR;TT;TV;TW;TZ;UA;UG;UM;US;UY;UZ;VA;VC;VE;VG;VI;VN;VU;WF;WS;YE;YT;ZA;ZM;ZW
type RegionCode string

// LevelMember is a user or service account, the only principals an access level may name.
// +kubebuilder:validation:MaxLength=320
// +kubebuilder:validation:XValidation:rule="self.startsWith('user:') || self.startsWith('serviceAccount:')",message="an access level admits only user: and serviceAccount: members; Access Context Manager refuses groups and domains (grant those in a ProtectedService access group instead)"
// +kubebuilder:validation:Pattern=`^(user|serviceAccount):[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}$`
type LevelMember string

// AccessLevelRef names an access level: an AccessLevel object, or a full Access Context Manager
// name accessPolicies/N/accessLevels/NAME.
// +kubebuilder:validation:MaxLength=200
// +kubebuilder:validation:Pattern=`^(accessPolicies/[0-9]+/accessLevels/[A-Za-z][A-Za-z0-9_]{0,49}|[a-z]([a-z0-9-]{0,48}[a-z0-9])?)$`
type AccessLevelRef string

// DevicePolicy is what a device must meet. Access Context Manager learns it from Endpoint
// Verification; a request from an unknown device fails any device policy.
type DevicePolicy struct {
	// RequireScreenLock requires a screen lock.
	// +optional
	RequireScreenLock bool `json:"requireScreenLock,omitempty"`
	// RequireCorpOwned requires a device the organization owns.
	// +optional
	RequireCorpOwned bool `json:"requireCorpOwned,omitempty"`
	// RequireAdminApproval requires a device an administrator approved.
	// +optional
	RequireAdminApproval bool `json:"requireAdminApproval,omitempty"`
	// AllowedEncryptionStatuses are the storage encryption states admitted.
	// +listType=set
	// +kubebuilder:validation:MaxItems=4
	// +optional
	AllowedEncryptionStatuses []EncryptionStatus `json:"allowedEncryptionStatuses,omitempty"`
	// AllowedDeviceManagementLevels are the management levels admitted.
	// +listType=set
	// +kubebuilder:validation:MaxItems=4
	// +optional
	AllowedDeviceManagementLevels []DeviceManagementLevel `json:"allowedDeviceManagementLevels,omitempty"`
	// OSConstraints: the device's operating system must be one of these (at the minimum version
	// when one is given).
	// +kubebuilder:validation:MaxItems=10
	// +optional
	OSConstraints []OSConstraint `json:"osConstraints,omitempty"`
}

// EncryptionStatus is Access Context Manager's DeviceEncryptionStatus.
// +kubebuilder:validation:Enum=ENCRYPTED;UNENCRYPTED;ENCRYPTION_UNSUPPORTED;ENCRYPTION_UNSPECIFIED
type EncryptionStatus string

// DeviceManagementLevel is Access Context Manager's DeviceManagementLevel.
// +kubebuilder:validation:Enum=NONE;BASIC;COMPLETE;MANAGEMENT_UNSPECIFIED
type DeviceManagementLevel string

// OSConstraint is an operating system a device may run.
type OSConstraint struct {
	// OSType is Access Context Manager's OsType.
	// +kubebuilder:validation:Enum=DESKTOP_MAC;DESKTOP_WINDOWS;DESKTOP_LINUX;DESKTOP_CHROME_OS;ANDROID;IOS
	OSType string `json:"osType"`
	// MinimumVersion is the lowest version admitted, as MAJOR[.MINOR[.PATCH]].
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+){0,2}$`
	// +optional
	MinimumVersion string `json:"minimumVersion,omitempty"`
	// RequireVerifiedChromeOS requires a verified Chrome OS (DESKTOP_CHROME_OS only).
	// +optional
	RequireVerifiedChromeOS bool `json:"requireVerifiedChromeOS,omitempty"`
}

// CustomLevel is an access level written in Access Context Manager's CEL dialect.
type CustomLevel struct {
	// Expression must evaluate to a boolean over the attributes Access Context Manager documents
	// (origin.ip, origin.region_code, device.*, levels.*). runguard compiles it before sending it;
	// one that does not compile is Stalled with reason InvalidExpression.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Expression string `json:"expression"`
}

// AccessLevelStatus is what the controller last observed and did.
type AccessLevelStatus struct {
	// ObservedGeneration is the spec generation the conditions describe.
	// +kubebuilder:default=0
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready summarizes; Reconciling and Stalled follow kstatus.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Name is the level's full name in Google, accessPolicies/N/accessLevels/NAME.
	// +optional
	Name string `json:"name,omitempty"`

	// Meaning is the level in words, as ProtectedService status shows it.
	// +optional
	Meaning string `json:"meaning,omitempty"`

	// PendingChanges are, in Observe mode, the fields Enforce would write.
	// +optional
	PendingChanges []string `json:"pendingChanges,omitempty"`
}

// AccessLevel manages one Access Context Manager access level that ProtectedService access
// groups can require. It is cluster-scoped: cluster administrators define levels, namespaces
// reference them.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=acl,categories=runguard
// +kubebuilder:validation:XValidation:rule="has(self.spec.levelName) || self.metadata.name.matches('^[a-z]([a-z0-9-]{0,48}[a-z0-9])?$')",message="an AccessLevel without spec.levelName needs a name of at most 50 lowercase letters, digits and '-', starting with a letter: it becomes the level's name in Google ('-' written as '_')"
// +kubebuilder:printcolumn:name="Level",type=string,JSONPath=`.status.name`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Meaning",type=string,JSONPath=`.status.meaning`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AccessLevel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AccessLevelSpec `json:"spec"`
	// +optional
	Status AccessLevelStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AccessLevelList is a list of AccessLevel.
type AccessLevelList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessLevel `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AccessLevel{}, &AccessLevelList{})
}
