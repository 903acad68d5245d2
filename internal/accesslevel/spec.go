package accesslevel

// Spec is what an AccessLevel object declares, in plain values.
type Spec struct {
	Title, Description string
	// Exactly one of Basic or Custom is set (Validate checks it).
	Basic *Basic
	// Custom is an expression in ACM's CEL dialect (see ValidateCustom).
	Custom string
}

// Basic is a basic level: conditions combined by AND or OR.
type Basic struct {
	// CombiningFunction is "AND" (the default when empty) or "OR".
	CombiningFunction string
	Conditions        []Condition
}

// Condition is an AND over its non-empty fields; each list is an OR over
// its elements, except RequiredAccessLevels, which must all be granted.
type Condition struct {
	IPSubnetworks []string
	// Regions are ISO 3166-1 alpha-2 codes.
	Regions []string
	// Members are "user:EMAIL" or "serviceAccount:EMAIL"; ACM takes no groups.
	Members      []string
	DevicePolicy *DevicePolicy
	// RequiredAccessLevels are full ACM names
	// (accessPolicies/N/accessLevels/SHORT); the controller resolves
	// AccessLevel object names before calling this package.
	RequiredAccessLevels []string
	// Negate turns the condition into a NAND over its non-empty fields.
	Negate bool
}

// DevicePolicy restricts the device a request comes from. Enum values are
// the proto's names (google.identity.accesscontextmanager.type).
type DevicePolicy struct {
	RequireScreenLock, RequireCorpOwned, RequireAdminApproval bool
	// AllowedEncryptionStatuses: ENCRYPTION_UNSPECIFIED,
	// ENCRYPTION_UNSUPPORTED, UNENCRYPTED, ENCRYPTED.
	AllowedEncryptionStatuses []string
	// AllowedDeviceManagementLevels: MANAGEMENT_UNSPECIFIED, NONE, BASIC,
	// COMPLETE.
	AllowedDeviceManagementLevels []string
	OSConstraints                 []OSConstraint
}

// OSConstraint allows one OS type, optionally from a minimum version.
type OSConstraint struct {
	// OSType: DESKTOP_MAC, DESKTOP_WINDOWS, DESKTOP_LINUX,
	// DESKTOP_CHROME_OS, ANDROID, IOS.
	OSType string
	// MinimumVersion is "major.minor.patch" (e.g. "10.5.301"); empty
	// allows every version.
	MinimumVersion          string
	RequireVerifiedChromeOS bool
}

// Owner identifies the AccessLevel object that owns a level in Google.
type Owner struct{ Cluster, Name string }
