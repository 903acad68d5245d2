package accesslevel

import (
	"strings"
	"testing"
)

func TestValidateCIDR_AcceptsOnlyNetworkAddresses(t *testing.T) {
	for _, tc := range []struct {
		cidr    string
		wantErr string // substring; "" means valid
	}{
		{"192.0.2.0/24", ""},
		{"0.0.0.0/0", ""},
		{"2001:db8::/32", ""},
		{"2001:DB8::/32", ""},
		{"192.0.2.1/32", ""},
		{"192.0.2.1/24", `"192.0.2.1/24" has host bits set; ACM accepts only the network address, use "192.0.2.0/24"`},
		{"2001:db8::1/32", `use "2001:db8::/32"`},
		{"192.0.2.0", "is not a CIDR block"},
		{"192.0.2.0/33", "is not a CIDR block"},
		{"example.com/24", "is not a CIDR block"},
		{"", "is not a CIDR block"},
	} {
		t.Run(tc.cidr, func(t *testing.T) {
			checkErr(t, ValidateCIDR(tc.cidr), tc.wantErr)
		})
	}
}

func TestValidRegion_KnowsAssignedCodesOnly(t *testing.T) {
	for code, want := range map[string]bool{
		"US": true, "GB": true, "JP": true, "AX": true, "ZW": true, "SS": true,
		"us": false, "UK": false, "EU": false, "XK": false, "ZZ": false, "USA": false, "": false,
	} {
		if got := ValidRegion(code); got != want {
			t.Errorf("ValidRegion(%q) = %v, want %v", code, got, want)
		}
	}
	if n := len(assignedRegions); n != 249 {
		t.Errorf("the embedded list has %d codes, want ISO's 249", n)
	}
}

func TestShortName_TurnsAnObjectNameIntoAValidShortName(t *testing.T) {
	for _, tc := range []struct {
		object, want string
		valid        bool
	}{
		{"corp-network", "corp_network", true},
		{"a", "a", true},
		{"office-2", "office_2", true},
		{"2fa-required", "2fa_required", false},
		{strings.Repeat("a", 50), strings.Repeat("a", 50), true},
		{strings.Repeat("a", 51), strings.Repeat("a", 51), false},
	} {
		t.Run(tc.object, func(t *testing.T) {
			got := ShortName(tc.object)
			if got != tc.want || ValidShortName(got) != tc.valid {
				t.Errorf("ShortName = %q (valid %v), want %q (valid %v)", got, ValidShortName(got), tc.want, tc.valid)
			}
		})
	}
}

func TestValidShortName_FollowsACMsRule(t *testing.T) {
	for s, want := range map[string]bool{
		"corp_network": true, "A1": true, "a": true,
		"": false, "_a": false, "1a": false, "corp-network": false, "corp.network": false, "ü": false,
	} {
		if got := ValidShortName(s); got != want {
			t.Errorf("ValidShortName(%q) = %v, want %v", s, got, want)
		}
	}
}

type validateCase struct {
	name    string
	spec    Spec
	wantErr []string // substrings; none means valid
}

var usOnly = []Condition{{Regions: []string{"US"}}}

func TestValidate_RequiresExactlyOneKindOfLevelWithinACMsLimits(t *testing.T) {
	checkValidate(t, []validateCase{
		{"a valid basic level", Spec{Title: "T", Basic: &Basic{Conditions: usOnly}}, nil},
		{"a valid custom level", Spec{Title: "T", Custom: "device.is_corp_owned_device"}, nil},
		{"no title", Spec{Basic: &Basic{Conditions: usOnly}}, []string{"title is empty"}},
		{"neither kind", Spec{Title: "T"}, []string{"neither basic nor custom is set"}},
		{"both kinds", Spec{Title: "T", Basic: &Basic{Conditions: usOnly}, Custom: "true"}, []string{"both basic and custom are set"}},
		{"unknown combining function", Spec{Title: "T", Basic: &Basic{CombiningFunction: "XOR", Conditions: usOnly}},
			[]string{`combining function "XOR" is unknown; use AND (the default) or OR`}},
		{"no conditions", Spec{Title: "T", Basic: &Basic{}}, []string{"has no conditions"}},
		{"too many conditions", Spec{Title: "T", Basic: &Basic{Conditions: make([]Condition, 41)}},
			[]string{"has 41 conditions; ACM allows at most 40"}},
	})
}

func TestValidate_NamesEveryOffendingValueAndWhatIsAccepted(t *testing.T) {
	checkValidate(t, []validateCase{
		{"an empty condition", Spec{Title: "T", Basic: &Basic{Conditions: []Condition{{Negate: true, DevicePolicy: &DevicePolicy{}}}}},
			[]string{"condition 1: sets nothing"}},
		{"bad values in one condition", Spec{Title: "T", Basic: &Basic{Conditions: []Condition{{
			IPSubnetworks:        []string{"192.0.2.1/24"},
			Regions:              []string{"us"},
			Members:              []string{"group:eng@example.com", "user:nobody"},
			RequiredAccessLevels: []string{"corp-network"},
		}}}}, []string{
			`condition 1: ipSubnetworks: "192.0.2.1/24" has host bits set`,
			`regions: "us" is not an assigned ISO 3166-1 alpha-2 code`,
			`members: "group:eng@example.com" is not accepted; ACM access levels take only user:EMAIL and serviceAccount:EMAIL members`,
			`members: "user:nobody" does not name an email address; write user:NAME@DOMAIN`,
			`requiredAccessLevels: "corp-network" is not a full access level name; write accessPolicies/POLICY_NUMBER/accessLevels/SHORT_NAME`,
		}},
		{"too many items in a list", Spec{Title: "T", Basic: &Basic{Conditions: []Condition{{Regions: repeat("US", 201)}}}},
			[]string{"regions has 201 items; ACM allows at most 200"}},
		{"bad device policy", Spec{Title: "T", Basic: &Basic{Conditions: []Condition{{DevicePolicy: &DevicePolicy{
			AllowedEncryptionStatuses:     []string{"ENCRYPTION_ENCRYPTED"},
			AllowedDeviceManagementLevels: []string{"FULL"},
			OSConstraints:                 []OSConstraint{{OSType: "OS_UNSPECIFIED"}, {OSType: "MACOS"}, {OSType: "IOS", MinimumVersion: "17.x"}},
		}}}}}, []string{
			`encryption status "ENCRYPTION_ENCRYPTED" is unknown; use one of ENCRYPTION_UNSPECIFIED, ENCRYPTION_UNSUPPORTED, UNENCRYPTED, ENCRYPTED`,
			`device management level "FULL" is unknown; use one of MANAGEMENT_UNSPECIFIED, NONE, BASIC, COMPLETE`,
			`OS type "OS_UNSPECIFIED" is not accepted; use one of DESKTOP_MAC, DESKTOP_WINDOWS, DESKTOP_LINUX, ANDROID, IOS, DESKTOP_CHROME_OS`,
			`OS type "MACOS" is not accepted`,
			`minimum version "17.x" of IOS is not a version; write major.minor.patch`,
		}},
		{"an expression that does not compile", Spec{Title: "T", Custom: "device.is_corp_owned"}, []string{"undefined field 'is_corp_owned'"}},
	})
}

func checkValidate(t *testing.T, cases []validateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.spec)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate = %q\nwant it to contain %q", err, want)
				}
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// checkErr fails t unless err is nil when want is "", or contains want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("error = %v, want none", err)
	case want != "" && err == nil:
		t.Fatalf("error = nil, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error = %q, want it to contain %q", err, want)
	}
}
