package frontdoor

import (
	"net/netip"
	"testing"
	"time"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/genproto/googleapis/type/expr"
)

func custom(name, expression string) *accesscontextmanagerpb.AccessLevel {
	return &accesscontextmanagerpb.AccessLevel{Name: name, Level: &accesscontextmanagerpb.AccessLevel_Custom{
		Custom: &accesscontextmanagerpb.CustomLevel{Expr: &expr.Expr{Expression: expression}}}}
}

func basic(name string, combine accesscontextmanagerpb.BasicLevel_ConditionCombiningFunction, conditions ...*accesscontextmanagerpb.Condition) *accesscontextmanagerpb.AccessLevel {
	return &accesscontextmanagerpb.AccessLevel{Name: name, Level: &accesscontextmanagerpb.AccessLevel_Basic{
		Basic: &accesscontextmanagerpb.BasicLevel{Conditions: conditions, CombiningFunction: combine}}}
}

// Custom levels in CEL (https://cloud.google.com/access-context-manager/docs/custom-access-level-spec)
// and the corners of basic levels (access_level.proto).
func TestLevels_CustomAndBasicCorners(t *testing.T) {
	const corp, self, p = "accessPolicies/7/accessLevels/corp", "accessPolicies/7/accessLevels/self", "accessPolicies/7/accessLevels/x"
	macOnCorp := map[string]string{DeviceOS: "DESKTOP_MAC", DeviceOSVersion: "14.2.1", DeviceEncryption: "ENCRYPTED"}
	for _, tc := range []struct {
		name   string
		level  *accesscontextmanagerpb.AccessLevel
		region string
		device map[string]string
		want   bool
	}{
		{"inIpRange over a list", custom(p, `inIpRange(origin.ip, ["198.51.100.0/24", "203.0.113.0/24"])`), "", nil, true},
		{"inIpRange with a bare address", custom(p, `inIpRange(origin.ip, "203.0.113.9")`), "", nil, true},
		{"another level by short name", custom(p, `levels.corp && origin.region_code == "DE"`), "DE", nil, true},
		{"a region not known is an error", custom(p, `origin.region_code == "DE"`), "", nil, false},
		{"a region not known, ORed away", custom(p, `origin.region_code == "DE" || levels.corp`), "", nil, true},
		{"enums and versionAtLeast", custom(p, `device.os_type == OsType.DESKTOP_MAC && device.versionAtLeast("14.0.0") && device.encryption_status == DeviceEncryptionStatus.ENCRYPTED`), "", macOnCorp, true},
		{"versionAtLeast not met", custom(p, `device.versionAtLeast("15.0.0")`), "", macOnCorp, false},
		{"a level requiring itself is not met", custom(self, `levels.self`), "", nil, false},
		{"basic members", basic(p, 0, &accesscontextmanagerpb.Condition{Members: []string{"user:alice@acme.com"}}), "", nil, true},
		{"negated: NAND over the non-empty fields", basic(p, 0, &accesscontextmanagerpb.Condition{Regions: []string{"KP"}, IpSubnetworks: []string{"203.0.113.0/24"}, Negate: true}), "DE", nil, true},
		{"an empty allowed list allows every status", basic(p, 0, &accesscontextmanagerpb.Condition{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{}}), "", nil, true},
		{"a device fact not given meets no requirement", basic(p, 0, &accesscontextmanagerpb.Condition{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{RequireScreenlock: true}}), "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs := map[string]*accesscontextmanagerpb.AccessLevel{
				corp:          basic(corp, 0, &accesscontextmanagerpb.Condition{IpSubnetworks: []string{"203.0.113.0/24"}}),
				tc.level.Name: tc.level,
			}
			req := request{principal: "user:alice@acme.com", ip: netip.MustParseAddr("203.0.113.9"), region: tc.region, device: tc.device, time: time.Now()}
			if got := newLevels(defs, req, newCELCache()).satisfied(tc.level.Name); got != tc.want {
				t.Errorf("satisfied = %v, want %v", got, tc.want)
			}
		})
	}
}
