package accesslevel

import (
	"testing"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"github.com/google/go-cmp/cmp"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

const corpNetworkName = "accessPolicies/123/accessLevels/corp_network"

func TestBuild_TranslatesABasicSpecIntoTheProto(t *testing.T) {
	spec := Spec{
		Title: "Corp network",
		Basic: &Basic{CombiningFunction: "OR", Conditions: []Condition{{
			IPSubnetworks: []string{"203.0.113.0/24"},
			DevicePolicy: &DevicePolicy{
				RequireScreenLock:             true,
				RequireCorpOwned:              true,
				AllowedEncryptionStatuses:     []string{"ENCRYPTED"},
				AllowedDeviceManagementLevels: []string{"COMPLETE"},
				OSConstraints:                 []OSConstraint{{OSType: "DESKTOP_CHROME_OS", MinimumVersion: "10.5.301", RequireVerifiedChromeOS: true}},
			},
			RequiredAccessLevels: []string{"accessPolicies/123/accessLevels/base"},
			Negate:               true,
		}}},
	}
	got := Build(spec, corpNetworkName, prodOwner)
	want := &accesscontextmanagerpb.AccessLevel{
		Name:        corpNetworkName,
		Title:       "Corp network",
		Description: markerLine(prodOwner),
		Level: &accesscontextmanagerpb.AccessLevel_Basic{Basic: &accesscontextmanagerpb.BasicLevel{
			CombiningFunction: accesscontextmanagerpb.BasicLevel_OR,
			Conditions: []*accesscontextmanagerpb.Condition{{
				IpSubnetworks: []string{"203.0.113.0/24"},
				DevicePolicy: &accesscontextmanagerpb.DevicePolicy{
					RequireScreenlock:             true,
					RequireCorpOwned:              true,
					AllowedEncryptionStatuses:     []devicetype.DeviceEncryptionStatus{devicetype.DeviceEncryptionStatus_ENCRYPTED},
					AllowedDeviceManagementLevels: []devicetype.DeviceManagementLevel{devicetype.DeviceManagementLevel_COMPLETE},
					OsConstraints: []*accesscontextmanagerpb.OsConstraint{{
						OsType: devicetype.OsType_DESKTOP_CHROME_OS, MinimumVersion: "10.5.301", RequireVerifiedChromeOs: true,
					}},
				},
				RequiredAccessLevels: []string{"accessPolicies/123/accessLevels/base"},
				Negate:               true,
			}},
		}},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Build (-want +got):\n%s", diff)
	}
}

func TestBuild_SortsAndDeduplicatesListsWhoseOrderACMIgnores(t *testing.T) {
	a := Condition{
		IPSubnetworks: []string{"198.51.100.0/24", "2001:DB8::/32", "198.51.100.0/24"},
		Regions:       []string{"US", "CA", "US"},
		Members:       []string{"user:b@example.com", "user:a@example.com"},
		DevicePolicy: &DevicePolicy{
			AllowedEncryptionStatuses: []string{"ENCRYPTED", "UNENCRYPTED", "ENCRYPTED"},
			OSConstraints:             []OSConstraint{{OSType: "IOS"}, {OSType: "DESKTOP_MAC"}, {OSType: "IOS"}},
		},
		RequiredAccessLevels: []string{"accessPolicies/1/accessLevels/b", "accessPolicies/1/accessLevels/a"},
	}
	b := Condition{Regions: []string{"GB"}}
	forward := Build(Spec{Basic: &Basic{Conditions: []Condition{a, b, a}}}, "", prodOwner)
	backward := Build(Spec{Basic: &Basic{Conditions: []Condition{b, a}}}, "", prodOwner)
	if !proto.Equal(forward, backward) {
		t.Fatalf("the order of conditions changed the level:\n%v\n%v", forward, backward)
	}
	conditions := forward.GetBasic().GetConditions()
	if len(conditions) != 2 {
		t.Fatalf("got %d conditions, want the repeated one dropped: %v", len(conditions), conditions)
	}
	var got *accesscontextmanagerpb.Condition
	for _, c := range conditions {
		if len(c.GetMembers()) > 0 {
			got = c
		}
	}
	want := &accesscontextmanagerpb.Condition{
		IpSubnetworks:        []string{"198.51.100.0/24", "2001:db8::/32"},
		Regions:              []string{"CA", "US"},
		Members:              []string{"user:a@example.com", "user:b@example.com"},
		RequiredAccessLevels: []string{"accessPolicies/1/accessLevels/a", "accessPolicies/1/accessLevels/b"},
		DevicePolicy: &accesscontextmanagerpb.DevicePolicy{
			AllowedEncryptionStatuses: []devicetype.DeviceEncryptionStatus{devicetype.DeviceEncryptionStatus_UNENCRYPTED, devicetype.DeviceEncryptionStatus_ENCRYPTED},
			OsConstraints: []*accesscontextmanagerpb.OsConstraint{
				{OsType: devicetype.OsType_DESKTOP_MAC}, {OsType: devicetype.OsType_IOS},
			},
		},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("canonical condition (-want +got):\n%s", diff)
	}
}

func TestBuild_DefaultsTheCombiningFunctionToAND(t *testing.T) {
	got := Build(Spec{Basic: &Basic{Conditions: []Condition{{Regions: []string{"US"}}}}}, "", prodOwner)
	if f := got.GetBasic().GetCombiningFunction(); f != accesscontextmanagerpb.BasicLevel_AND {
		t.Errorf("combining function = %v, want AND", f)
	}
}

func TestBuild_LeavesOutADevicePolicyThatSetsNothing(t *testing.T) {
	got := Build(Spec{Basic: &Basic{Conditions: []Condition{{Regions: []string{"US"}, DevicePolicy: &DevicePolicy{}}}}}, "", prodOwner)
	if p := got.GetBasic().GetConditions()[0].GetDevicePolicy(); p != nil {
		t.Errorf("device policy = %v, want none", p)
	}
}

func TestBuild_PutsACustomExpressionIntoACustomLevel(t *testing.T) {
	got := Build(Spec{Title: "Corp devices", Custom: "device.is_corp_owned_device"}, corpNetworkName, prodOwner)
	want := &accesscontextmanagerpb.CustomLevel{Expr: &expr.Expr{Expression: "device.is_corp_owned_device"}}
	if !proto.Equal(got.GetCustom(), want) || got.GetBasic() != nil {
		t.Errorf("level = %v, want custom %v", got.GetLevel(), want)
	}
}

func TestFromProto_StripsTheMarkerAndReportsTheOwner(t *testing.T) {
	spec := Spec{Title: "Corp", Description: "Office networks.", Custom: "origin.region_code == \"GB\""}
	got, owner, owned := FromProto(Build(spec, corpNetworkName, prodOwner))
	if !owned || owner != prodOwner {
		t.Errorf("owner = %+v, %v; want %+v, true", owner, owned, prodOwner)
	}
	if diff := cmp.Diff(spec, got); diff != "" {
		t.Errorf("FromProto (-want +got):\n%s", diff)
	}
}

func TestFromProto_KeepsTheWholeDescriptionOfALevelRunguardDoesNotOwn(t *testing.T) {
	level := &accesscontextmanagerpb.AccessLevel{
		Title:       "Hand-made",
		Description: "managed by the network team\n\nmanaged by runguard (not really)",
		Level: &accesscontextmanagerpb.AccessLevel_Basic{Basic: &accesscontextmanagerpb.BasicLevel{
			Conditions: []*accesscontextmanagerpb.Condition{{Regions: []string{"US", "CA"}}},
		}},
	}
	got, _, owned := FromProto(level)
	if owned {
		t.Fatal("a hand-made level is owned")
	}
	want := Spec{Title: "Hand-made", Description: level.Description,
		Basic: &Basic{CombiningFunction: "AND", Conditions: []Condition{{Regions: []string{"CA", "US"}}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromProto (-want +got):\n%s", diff)
	}
}

func TestBuild_FromProtoThenBuildGivesTheSameLevel(t *testing.T) {
	for name, spec := range map[string]Spec{
		"custom":     {Title: "T", Description: "D", Custom: "levels.base && device.is_corp_owned_device"},
		"empty text": {Title: "T", Basic: &Basic{Conditions: []Condition{{Regions: []string{"US"}}}}},
		"every field": {Title: "T", Description: "line one\nline two", Basic: &Basic{CombiningFunction: "OR", Conditions: []Condition{
			{IPSubnetworks: []string{"10.0.0.0/8", "2001:db8::/32"}, Negate: true},
			{Members: []string{"serviceAccount:ci@p.iam.gserviceaccount.com"}, RequiredAccessLevels: []string{corpNetworkName}},
			{DevicePolicy: &DevicePolicy{RequireAdminApproval: true, AllowedDeviceManagementLevels: []string{"BASIC", "COMPLETE"},
				AllowedEncryptionStatuses: []string{"ENCRYPTION_UNSUPPORTED"},
				OSConstraints:             []OSConstraint{{OSType: "ANDROID", MinimumVersion: "12"}}}},
		}}},
	} {
		t.Run(name, func(t *testing.T) {
			first := Build(spec, corpNetworkName, prodOwner)
			back, owner, owned := FromProto(first)
			if !owned {
				t.Fatal("the built level is not owned")
			}
			second := Build(back, corpNetworkName, owner)
			if diff := cmp.Diff(first, second, protocmp.Transform()); diff != "" {
				t.Errorf("Build→FromProto→Build changed the level (-first +second):\n%s", diff)
			}
			if diff := cmp.Diff(spec.Description, back.Description); diff != "" {
				t.Errorf("description (-want +got):\n%s", diff)
			}
			if Mask(second, first) != nil {
				t.Errorf("Mask = %v, want nothing to update", Mask(second, first))
			}
		})
	}
}
