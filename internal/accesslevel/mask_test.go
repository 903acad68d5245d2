package accesslevel

import (
	"slices"
	"testing"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/proto"
)

func TestMask_NamesTheTopLevelFieldsThatDiffer(t *testing.T) {
	basic := Spec{Title: "Corp", Description: "Offices.", Basic: &Basic{Conditions: []Condition{
		{IPSubnetworks: []string{"203.0.113.0/24", "198.51.100.0/24"}, Regions: []string{"US", "CA"}},
	}}}
	desired := Build(basic, corpNetworkName, prodOwner)
	reordered := proto.CloneOf(desired)
	c := reordered.GetBasic().GetConditions()[0]
	slices.Reverse(c.IpSubnetworks)
	slices.Reverse(c.Regions)

	custom := Build(Spec{Title: "Corp", Description: "Offices.", Custom: "levels.base"}, corpNetworkName, prodOwner)
	otherCustom := Build(Spec{Title: "Corp", Description: "Offices.", Custom: "!levels.base"}, corpNetworkName, prodOwner)
	retitled := proto.CloneOf(desired)
	retitled.Title = "Old title"
	redescribed := proto.CloneOf(desired)
	redescribed.Description = "Offices."
	otherBasic := Build(Spec{Title: "Corp", Description: "Offices.", Basic: &Basic{CombiningFunction: "OR", Conditions: basic.Basic.Conditions}},
		corpNetworkName, prodOwner)
	noLevel := proto.CloneOf(desired)
	noLevel.Level = nil
	for _, tc := range []struct {
		name            string
		desired, actual *accesscontextmanagerpb.AccessLevel
		want            []string
	}{
		{"in sync", desired, proto.CloneOf(desired), nil},
		{"lists in another order are in sync", desired, reordered, nil},
		{"title changed", desired, retitled, []string{"title"}},
		{"description lost its marker", desired, redescribed, []string{"description"}},
		{"combining function changed", desired, otherBasic, []string{"basic"}},
		{"custom expression changed", custom, otherCustom, []string{"custom"}},
		{"basic to custom names both", custom, desired, []string{"basic", "custom"}},
		{"custom to basic names both", desired, custom, []string{"basic", "custom"}},
		{"a level without conditions gets them", desired, noLevel, []string{"basic"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Mask(tc.desired, tc.actual); !slices.Equal(got, tc.want) {
				t.Errorf("Mask = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMask_DoesNotChangeItsArguments(t *testing.T) {
	desired := Build(Spec{Basic: &Basic{Conditions: []Condition{{Regions: []string{"US"}}}}}, "", prodOwner)
	actual := &accesscontextmanagerpb.AccessLevel{Level: &accesscontextmanagerpb.AccessLevel_Basic{Basic: &accesscontextmanagerpb.BasicLevel{
		Conditions: []*accesscontextmanagerpb.Condition{{Regions: []string{"US", "CA"}}},
	}}}
	before := proto.CloneOf(actual)
	Mask(desired, actual)
	if !proto.Equal(before, actual) {
		t.Errorf("Mask changed actual: %v", actual)
	}
}
