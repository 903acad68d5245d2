package accesslevel

import (
	"maps"
	"slices"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
)

// The CEL environment of a custom access level, declared from three pages
// of Google's documentation (fetched 2026; each entry below says which):
//
//	[spec]  https://cloud.google.com/access-context-manager/docs/custom-access-level-spec
//	[ev]    https://cloud.google.com/endpoint-verification/docs/device-information
//	[certs] https://cloud.google.com/access-context-manager/docs/enterprise-certificates
//
// Enum attributes are ints and their constants are declared under the
// enum's name (OsType.DESKTOP_MAC), as the examples on [spec] write them.
// Attributes are declared as object types with a fixed field list, so an
// attribute the documentation does not name fails to compile.
var (
	peerType        = cel.ObjectType("Peer")
	requestType     = cel.ObjectType("Request")
	authType        = cel.ObjectType("Auth")
	claimsType      = cel.ObjectType("Claims")
	credStrType     = cel.ObjectType("CredentialStrength")
	deviceType      = cel.ObjectType("DeviceType")
	vendorType      = cel.ObjectType("Vendor")
	clientType      = cel.ObjectType("Client")
	androidType     = cel.ObjectType("AndroidDeviceSecurity")
	iosType         = cel.ObjectType("IOSDeviceSecurity")
	chromeType      = cel.ObjectType("ChromeAttributes")
	certificateType = cel.ObjectType("Certificate")
)

// attributeFields lists each object type's fields.
var attributeFields = map[string]map[string]*cel.Type{
	// [spec] origin: ip, region_code.
	"Peer": {"ip": cel.StringType, "region_code": cel.StringType},
	// [spec] request.auth and request.time.
	"Request":            {"auth": authType, "time": cel.TimestampType},
	"Auth":               {"principal": cel.StringType, "claims": claimsType},
	"Claims":             {"crd_str": credStrType},
	"CredentialStrength": boolFields("pwd", "push", "sms", "swk", "hwk", "otp", "mfa"),
	"DeviceType": {
		// [spec]
		"encryption_status":          cel.IntType,
		"is_admin_approved_device":   cel.BoolType,
		"is_corp_owned_device":       cel.BoolType,
		"is_secured_with_screenlock": cel.BoolType,
		"os_type":                    cel.IntType,
		"vendors":                    cel.MapType(cel.StringType, vendorType),
		"android_device_security":    androidType,
		"ios_device_security":        iosType,
		"verified_chrome_os":         cel.BoolType,
		"chrome":                     chromeType,
		"certificates":               cel.ListType(certificateType),
		// [ev]
		"os_version":                 cel.StringType,
		"model":                      cel.StringType,
		"is_managed_browser_profile": cel.BoolType,
		"clients":                    cel.MapType(cel.StringType, clientType),
	},
	// [spec] vendors: is_compliant_device, is_managed_device,
	// device_health_score, and vendor-defined data of any type.
	"Vendor": {
		"is_compliant_device": cel.BoolType,
		"is_managed_device":   cel.BoolType,
		"device_health_score": cel.IntType,
		"data":                cel.MapType(cel.StringType, cel.DynType),
	},
	// [ev] device.clients["bce"].data["..."].
	"Client":                {"data": cel.MapType(cel.StringType, cel.DynType)},
	"AndroidDeviceSecurity": boolFields("verified_boot", "cts_profile_match", "verify_apps_enabled", "has_potentially_harmful_apps"),
	"IOSDeviceSecurity":     boolFields("is_device_jailbroken"),
	// [spec] and [ev] device.chrome.
	"ChromeAttributes": withFields(boolFields(
		"is_realtime_url_check_enabled", "is_file_upload_analysis_enabled", "is_file_download_analysis_enabled",
		"is_bulk_data_entry_analysis_enabled", "is_security_event_analysis_enabled", "is_site_isolation_enabled",
		"is_built_in_dns_client_enabled", "is_chrome_remote_desktop_app_blocked", "is_chrome_cleanup_enabled",
		"is_third_party_blocking_enabled"),
		map[string]*cel.Type{
			"management_state":                    cel.IntType,
			"safe_browsing_protection_level":      cel.IntType,
			"password_protection_warning_trigger": cel.IntType,
		}),
	// [certs] the attributes of each element of device.certificates.
	"Certificate": withFields(boolFields("is_valid"), stringFields(
		"cert_fingerprint", "root_ca_fingerprint", "issuer", "subject", "serial_number", "template_id")),
}

// enumConstants are the enum values expressions may name. The values of
// DeviceEncryptionStatus and OsType come from the proto; the others are the
// numbers [ev] documents, except CertificateBindingState, whose numbers no
// page gives (only their names matter for compiling).
var enumConstants = map[string]map[string]int32{
	"DeviceEncryptionStatus": devicetype.DeviceEncryptionStatus_value, // [spec]
	"OsType":                 devicetype.OsType_value,                 // [spec]
	"DeviceHealthScore": { // [spec]
		"DEVICE_HEALTH_SCORE_UNSPECIFIED": 0, "VERY_POOR": 1, "POOR": 2, "NEUTRAL": 3, "GOOD": 4, "VERY_GOOD": 5,
	},
	"CertificateBindingState": { // [spec]
		"CERT_STATE_UNKNOWN": 0, "CERT_MATCHES_EXISTING_DEVICE": 1, "CERT_NOT_MATCHING_EXISTING_DEVICE": 2,
	},
	"ChromeManagementState": { // [ev]
		"CHROME_MANAGEMENT_STATE_UNSPECIFIED": 0, "CHROME_MANAGEMENT_STATE_UNMANAGED": 1,
		"CHROME_MANAGEMENT_STATE_MANAGED_BY_OTHER_DOMAIN": 2, "CHROME_MANAGEMENT_STATE_PROFILE_MANAGED": 3,
		"CHROME_MANAGEMENT_STATE_BROWSER_MANAGED": 4,
	},
	"SafeBrowsingLevel": { // [ev]
		"SAFE_BROWSING_LEVEL_UNSPECIFIED": 0, "SAFE_BROWSING_LEVEL_DISABLED": 1,
		"SAFE_BROWSING_LEVEL_STANDARD": 2, "SAFE_BROWSING_LEVEL_ENHANCED": 3,
	},
	"PasswordProtectionTrigger": { // [ev]
		"PASSWORD_PROTECTION_TRIGGER_UNSPECIFIED": 0, "PASSWORD_PROTECTION_TRIGGER_PROTECTION_OFF": 1,
		"PASSWORD_PROTECTION_TRIGGER_PASSWORD_REUSE": 2, "PASSWORD_PROTECTION_TRIGGER_PHISHING_REUSE": 3,
	},
	"PresenceValue": { // [ev] configurable device attributes
		"VALUE_UNKNOWN": 0, "VALUE_INACCESSIBLE": 1, "VALUE_NOT_FOUND": 2, "VALUE_FOUND": 3,
	},
}

// customLevelEnvOptions declares the variables, functions, constants and
// macros of a custom access level.
func customLevelEnvOptions() ([]cel.EnvOption, error) {
	base, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	opts := []cel.EnvOption{
		cel.CustomTypeProvider(&attributeProvider{Provider: base}),
		cel.Variable("origin", peerType),                                  // [spec]
		cel.Variable("request", requestType),                              // [spec]
		cel.Variable("device", deviceType),                                // [spec]
		cel.Variable("levels", cel.MapType(cel.StringType, cel.BoolType)), // [spec] levels.NAME
		// [spec] "custom access levels only support" has, all, exists and
		// exists_one among CEL's macros.
		cel.ClearMacros(),
		cel.Macros(cel.HasMacro, cel.AllMacro, cel.ExistsMacro, cel.ExistsOneMacro),
		// [spec] Functions.
		cel.Function("inIpRange",
			cel.Overload("inIpRange_string_list", []*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType)),
		cel.Function("certificateBindingState",
			cel.Overload("certificateBindingState_peer_device", []*cel.Type{peerType, deviceType}, cel.IntType)),
		cel.Function("versionAtLeast",
			cel.MemberOverload("device_versionAtLeast_string", []*cel.Type{deviceType, cel.StringType}, cel.BoolType),
			cel.MemberOverload("chrome_versionAtLeast_string", []*cel.Type{chromeType, cel.StringType}, cel.BoolType)),
		cel.Function("clientCertFingerprint",
			cel.MemberOverload("peer_clientCertFingerprint", []*cel.Type{peerType}, cel.StringType)),
	}
	for _, enum := range slices.Sorted(maps.Keys(enumConstants)) {
		values := enumConstants[enum]
		for _, name := range slices.Sorted(maps.Keys(values)) {
			opts = append(opts, cel.Constant(enum+"."+name, cel.IntType, types.Int(values[name])))
		}
	}
	return opts, nil
}

// attributeProvider adds attributeFields' object types to CEL's registry.
// Only compiling needs them; no expression is ever evaluated here.
type attributeProvider struct{ types.Provider }

func (p *attributeProvider) FindStructType(name string) (*types.Type, bool) {
	if _, ok := attributeFields[name]; ok {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Provider.FindStructType(name)
}

func (p *attributeProvider) FindStructFieldNames(name string) ([]string, bool) {
	if fields, ok := attributeFields[name]; ok {
		return slices.Sorted(maps.Keys(fields)), true
	}
	return p.Provider.FindStructFieldNames(name)
}

func (p *attributeProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	fields, ok := attributeFields[name]
	if !ok {
		return p.Provider.FindStructFieldType(name, field)
	}
	t, ok := fields[field]
	if !ok {
		return nil, false
	}
	return &types.FieldType{Type: t}, true
}

// NewValue refuses to build attribute objects: an expression describes a
// request, it does not construct one.
func (p *attributeProvider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := attributeFields[name]; ok {
		return types.NewErr("%s cannot be constructed", name)
	}
	return p.Provider.NewValue(name, fields)
}

func boolFields(names ...string) map[string]*cel.Type   { return typedFields(cel.BoolType, names) }
func stringFields(names ...string) map[string]*cel.Type { return typedFields(cel.StringType, names) }

func typedFields(t *cel.Type, names []string) map[string]*cel.Type {
	m := make(map[string]*cel.Type, len(names))
	for _, n := range names {
		m[n] = t
	}
	return m
}

func withFields(a, b map[string]*cel.Type) map[string]*cel.Type {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}
