package accesslevel

import (
	"strings"
	"testing"
	"unicode/utf8"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
)

func describeSpec(s Spec) string { return Describe(Build(s, corpNetworkName, prodOwner)) }

func TestDescribe_SaysWhatTheLevelMeansInOneLine(t *testing.T) {
	screenLockEncrypted := &DevicePolicy{RequireScreenLock: true, AllowedEncryptionStatuses: []string{"ENCRYPTED"}}
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"networks", basicOf("", Condition{IPSubnetworks: []string{"203.0.113.0/24", "198.51.100.0/24"}}),
			"from 198.51.100.0/24 or 203.0.113.0/24"},
		{"network and device", basicOf("", Condition{IPSubnetworks: []string{"203.0.113.0/24"}, DevicePolicy: screenLockEncrypted}),
			"from 203.0.113.0/24, on a device with screen lock and encrypted storage"},
		{"regions", basicOf("", Condition{Regions: []string{"US", "CA"}}), "in CA or US"},
		{"negated", basicOf("", Condition{IPSubnetworks: []string{"10.0.0.0/8"}, Negate: true}), "NOT (from 10.0.0.0/8)"},
		{"required levels", basicOf("", Condition{RequiredAccessLevels: []string{corpNetworkName}}), "requires corp_network"},
		{"members", basicOf("", Condition{Members: []string{"user:a@example.com"}}), "as user:a@example.com"},
		{"conditions joined by OR", basicOf("OR",
			Condition{Regions: []string{"US"}},
			Condition{IPSubnetworks: []string{"10.0.0.0/8"}, RequiredAccessLevels: []string{corpNetworkName}}),
			"(from 10.0.0.0/8, requires corp_network) or in US"},
		{"conditions joined by AND", basicOf("", Condition{Regions: []string{"US"}}, Condition{Members: []string{"user:a@example.com"}}),
			"in US and as user:a@example.com"},
		{"every device feature", basicOf("", Condition{DevicePolicy: &DevicePolicy{
			RequireCorpOwned: true, RequireAdminApproval: true,
			AllowedEncryptionStatuses:     []string{"ENCRYPTED", "ENCRYPTION_UNSUPPORTED"},
			AllowedDeviceManagementLevels: []string{"COMPLETE"},
			OSConstraints:                 []OSConstraint{{OSType: "DESKTOP_MAC", MinimumVersion: "13.0.0"}, {OSType: "DESKTOP_CHROME_OS", RequireVerifiedChromeOS: true}},
		}}), "on a device with encryption ENCRYPTION_UNSUPPORTED or ENCRYPTED and corporate ownership and admin approval and " +
			"management COMPLETE and OS DESKTOP_MAC ≥ 13.0.0 or DESKTOP_CHROME_OS (verified)"},
		{"custom", Spec{Custom: "device.is_corp_owned_device &&\n\t  levels.base"}, "custom: device.is_corp_owned_device && levels.base"},
		{"neither", Spec{}, "no conditions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describeSpec(tc.spec); got != tc.want {
				t.Errorf("Describe =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestDescribe_CutsALongLevelAtTheLimitWithoutSplittingARune(t *testing.T) {
	long := Spec{Custom: "origin.region_code == \"" + strings.Repeat("ü", 300) + "\""}
	got := describeSpec(long)
	if n := utf8.RuneCountInString(got); n != MaxDescribeRunes {
		t.Errorf("Describe is %d characters, want %d", n, MaxDescribeRunes)
	}
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "ü…") {
		t.Errorf("Describe = %q, want valid UTF-8 ending in ü…", got)
	}
}

func TestDescribe_SaysNothingForANilLevel(t *testing.T) {
	if got := Describe(nil); got != "" {
		t.Errorf("Describe(nil) = %q", got)
	}
	if got := Describe(&accesscontextmanagerpb.AccessLevel{}); got != "no conditions" {
		t.Errorf("Describe(empty) = %q", got)
	}
}

func basicOf(combine string, conditions ...Condition) Spec {
	return Spec{Basic: &Basic{CombiningFunction: combine, Conditions: conditions}}
}
