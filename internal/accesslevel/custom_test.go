package accesslevel

import (
	"strings"
	"testing"
)

// The accepted expressions are the examples of the pages celenv.go cites.
func TestValidateCustom_AcceptsTheDocumentedExamples(t *testing.T) {
	for _, expression := range []string{
		`inIpRange(origin.ip, ["203.0.113.24"])`,
		`origin.region_code == "GB"`,
		`origin.region_code in ["US", "FR", "JP"]`,
		`request.auth.principal == "https://accounts.google.com/1134924314572461055"`,
		`request.auth.claims.crd_str.mfa == true`,
		`request.auth.claims.crd_str.pwd && request.auth.claims.crd_str.hwk`,
		`request.time.getDayOfWeek("America/Los_Angeles") == 1`,
		`request.time.getHours("Europe/Berlin") >= 9 && request.time < timestamp("2027-01-01T00:00:00Z")`,
		`levels.allow_corp_ips`,
		`device.encryption_status == DeviceEncryptionStatus.ENCRYPTED`,
		`device.is_admin_approved_device == true`,
		`device.is_secured_with_screenlock`,
		`device.os_type != OsType.OS_UNSPECIFIED`,
		`device.vendors["some_vendor"].is_compliant_device == true`,
		`device.vendors["some_vendor"].device_health_score == DeviceHealthScore.VERY_GOOD`,
		`device.vendors["some_vendor"].data["is_device_compromised"] == true`,
		`device.vendors["some_vendor"].data["some_num"] == 1.0`,
		`has(device.vendors.some_vendor)`,
		`device.android_device_security.verified_boot == true`,
		`device.ios_device_security.is_device_jailbroken == false`,
		`device.verified_chrome_os == true`,
		`device.chrome.management_state in [ChromeManagementState.CHROME_MANAGEMENT_STATE_BROWSER_MANAGED, ChromeManagementState.CHROME_MANAGEMENT_STATE_PROFILE_MANAGED]`,
		`device.chrome.versionAtLeast("88.0.4321.44")`,
		`device.chrome.safe_browsing_protection_level == SafeBrowsingLevel.SAFE_BROWSING_LEVEL_STANDARD`,
		`device.certificates.exists(cert, cert.is_valid && cert.cert_fingerprint == origin.clientCertFingerprint())`,
		`device.certificates.exists(cert, cert.is_valid && cert.root_ca_fingerprint == "FP" && cert.template_id != "")`,
		`device.os_version == "MacOS 13.4.0" && device.model == "MacBookPro16,1"`,
		`device.clients["bce"].data["windows_domain_name"] == "GOOGLE"`,
		`device.clients["bce"].data["file_config"]["config_name"]["presence"] == PresenceValue.VALUE_FOUND`,
		`device.clients["bce"].data["av_installed"].exists(x, x == "mcafee") == true`,
		`device.versionAtLeast("10.0") == true`,
		`certificateBindingState(origin, device) == CertificateBindingState.CERT_MATCHES_EXISTING_DEVICE`,
		`"Sample string".startsWith("Sample") && "Sample string".endsWith("string")`,
		`[1,2,3].all(x, x > 1) || [1,2,3].exists_one(x, x > 1)`,
		`device.encryption_status == DeviceEncryptionStatus.ENCRYPTED && (origin.region_code in ["US"] || device.is_admin_approved_device)`,
		`(device.os_type == OsType.DESKTOP_WINDOWS && device.is_corp_owned_device) || (device.os_type == OsType.DESKTOP_MAC && device.is_admin_approved_device && device.versionAtLeast("10.11.0"))`,
	} {
		t.Run(expression, func(t *testing.T) {
			if err := ValidateCustom(expression); err != nil {
				t.Errorf("ValidateCustom = %v, want nil", err)
			}
		})
	}
}

func TestValidateCustom_RejectsWhatACMWouldNotTake(t *testing.T) {
	for _, tc := range []struct{ name, expression, wantErr string }{
		{"empty", "  ", "the custom expression is empty"},
		{"syntax error", `device.is_corp_owned_device ==`, "Syntax error"},
		{"unknown attribute", `device.is_corp_owned == true`, "undefined field 'is_corp_owned'"},
		{"unknown object", `user.email == "a@example.com"`, "undeclared reference to 'user'"},
		{"unknown origin attribute", `origin.country == "US"`, "undefined field 'country'"},
		{"unknown enum constant", `device.os_type == DesktopOS.MAC`, "undeclared reference to 'DesktopOS'"},
		{"not a bool", `origin.region_code`, "evaluates to string; ACM requires a bool"},
		{"dyn is not a bool", `device.vendors["v"].data["k"]`, "evaluates to dyn"},
		{"wrong argument type", `inIpRange(origin.ip, "203.0.113.0/24")`, "found no matching overload for 'inIpRange'"},
		{"undocumented macro", `[1, 2].map(x, x * 2) == [2, 4]`, "undeclared reference to 'map'"},
		{"constructing an attribute", `Peer{ip: "1.2.3.4"}.ip == origin.ip`, "constructs a Peer"},
		{"a list over ACM's limit", `origin.region_code in [` + strings.Repeat(`"US", `, 201) + `"CA"]`, "a list of 202 items; ACM allows at most 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, ValidateCustom(tc.expression), tc.wantErr)
		})
	}
}

func TestValidateCustom_ReportsTheCheckersPosition(t *testing.T) {
	err := ValidateCustom("device.is_corp_owned_device &&\n  device.encrypted")
	if err == nil || !strings.Contains(err.Error(), "<input>:2:") {
		t.Errorf("ValidateCustom = %v, want the line of the error", err)
	}
}
