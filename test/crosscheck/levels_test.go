package crosscheck_test

import (
	"testing"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
	"google.golang.org/genproto/googleapis/type/expr"

	"github.com/runguard/runguard/internal/reach"
)

type accessLevel = accesscontextmanagerpb.AccessLevel

// The organization's access levels (in accessPolicy), each in the order ACM needs them: a level
// after the levels it requires.
const (
	levelCorp    = accessPolicy + "/accessLevels/corp_network"
	levelGermany = accessPolicy + "/accessLevels/germany"
	levelManaged = accessPolicy + "/accessLevels/managed_device"
	levelNoEmbgo = accessPolicy + "/accessLevels/not_embargoed"
	levelCorpVPN = accessPolicy + "/accessLevels/corp_or_vpn"
	levelBoth    = accessPolicy + "/accessLevels/managed_on_corp"
	levelMac     = accessPolicy + "/accessLevels/corp_mac"
	levelModern  = accessPolicy + "/accessLevels/modern_mac"
	levelAlice   = accessPolicy + "/accessLevels/alice_only"
)

func testLevels() []*accessLevel {
	type c = accesscontextmanagerpb.Condition
	and, or := accesscontextmanagerpb.BasicLevel_AND, accesscontextmanagerpb.BasicLevel_OR
	return []*accessLevel{
		basicLevel(levelCorp, and, &c{IpSubnetworks: []string{"203.0.113.0/24"}}),
		basicLevel(levelGermany, and, &c{Regions: []string{"DE"}}),
		basicLevel(levelManaged, and, &c{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{RequireScreenlock: true,
			AllowedEncryptionStatuses: []devicetype.DeviceEncryptionStatus{devicetype.DeviceEncryptionStatus_ENCRYPTED}}}),
		basicLevel(levelNoEmbgo, and, &c{Regions: []string{"KP", "IR"}, Negate: true}),
		basicLevel(levelCorpVPN, or, &c{IpSubnetworks: []string{"203.0.113.0/24"}}, &c{IpSubnetworks: []string{"192.0.2.0/24"}}),
		basicLevel(levelBoth, and, &c{RequiredAccessLevels: []string{levelCorp, levelManaged}}),
		{Name: levelMac, Title: "corp_mac", Level: &accesscontextmanagerpb.AccessLevel_Custom{Custom: &accesscontextmanagerpb.CustomLevel{
			Expr: &expr.Expr{Expression: `device.os_type == OsType.DESKTOP_MAC && device.is_corp_owned_device == true`}}}},
		basicLevel(levelModern, and, &c{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{OsConstraints: []*accesscontextmanagerpb.OsConstraint{
			{OsType: devicetype.OsType_DESKTOP_MAC, MinimumVersion: "14.0.0"}}}}),
		basicLevel(levelAlice, and, &c{Members: []string{alice}}),
	}
}

func basicLevel(name string, combine accesscontextmanagerpb.BasicLevel_ConditionCombiningFunction, conditions ...*accesscontextmanagerpb.Condition) *accessLevel {
	return &accessLevel{Name: name, Title: name[len(accessPolicy+"/accessLevels/"):], Level: &accesscontextmanagerpb.AccessLevel_Basic{
		Basic: &accesscontextmanagerpb.BasicLevel{Conditions: conditions, CombiningFunction: combine}}}
}

// inLevel is the clause IAP's documentation gives for requiring a level.
func inLevel(level string) string { return `"` + level + `" in request.auth.access_levels` }

// requires grants alice the accessor role on the service under a condition.
func requires(condition string) []grant { return []grant{when(onService, condition, accessor, alice)} }

var managed = map[string]string{"screen_lock": "true", "encryption": "ENCRYPTED"}

// Access levels, evaluated from the fake's stored definitions.
func TestCrossCheck_AccessLevels(t *testing.T) { runCases(t, levelCases) }

var levelCases = []crossCase{{
	name: "IP inside the level's subnetwork", source: srcLevelProto + ": the originating IP must be in one of the listed subnets",
	grants: requires(inLevel(levelCorp)), req: caller{principal: alice, ip: "203.0.113.40"}, want: reach.Allow,
	hide: func(r *reach.Request) { r.IP = "" },
}, {
	name: "IP outside the level's subnetwork", source: srcLevelProto + ": the originating IP must be in one of the listed subnets",
	grants: requires(inLevel(levelCorp)), req: caller{principal: alice, ip: "198.51.100.9"}, want: reach.Deny,
	hide: func(r *reach.Request) { r.IP = "" },
}, {
	name: "region in the level's regions", source: srcLevelProto + ": the request must originate from one of the provided countries/regions",
	grants: requires(inLevel(levelGermany)), req: caller{principal: alice, region: "DE"}, want: reach.Allow,
	hide: func(r *reach.Request) { r.RegionCode = "" },
}, {
	name: "region outside the level's regions", source: srcLevelProto + ": the request must originate from one of the provided countries/regions",
	grants: requires(inLevel(levelGermany)), req: caller{principal: alice, region: "FR"}, want: reach.Deny,
}, {
	name: "device policy met", source: srcLevelProto + ": DevicePolicy is an AND over its fields (screen lock, allowed encryption statuses)",
	grants: requires(inLevel(levelManaged)), req: caller{principal: alice, device: managed}, want: reach.Allow,
	hide: func(r *reach.Request) { r.Device = nil },
}, {
	name: "device without a screen lock", source: srcLevelProto + ": require_screenlock must hold for the DevicePolicy to be true",
	grants: requires(inLevel(levelManaged)), req: caller{principal: alice, device: map[string]string{"screen_lock": "false", "encryption": "ENCRYPTED"}},
	want: reach.Deny,
}, {
	name: "negated condition: from an excluded region", source: srcLevelProto + ": negate makes the Condition a NAND over its non-empty fields",
	grants: requires(inLevel(levelNoEmbgo)), req: caller{principal: alice, region: "KP"}, want: reach.Deny,
}, {
	name: "negated condition: from elsewhere", source: srcLevelProto + ": negate makes the Condition a NAND over its non-empty fields",
	grants: requires(inLevel(levelNoEmbgo)), req: caller{principal: alice, region: "DE"}, want: reach.Allow,
	hide: func(r *reach.Request) { r.RegionCode = "" },
}, {
	name: "OR combining: the second condition holds", source: srcLevelProto + ": with OR, at least one Condition must be satisfied",
	grants: requires(inLevel(levelCorpVPN)), req: caller{principal: alice, ip: "192.0.2.7"}, want: reach.Allow,
}, {
	name: "OR combining: neither holds", source: srcLevelProto + ": with OR, at least one Condition must be satisfied",
	grants: requires(inLevel(levelCorpVPN)), req: caller{principal: alice, ip: "198.51.100.1"}, want: reach.Deny,
}, {
	name: "required levels all granted", source: srcLevelProto + ": all access levels listed in required_access_levels must be granted",
	grants: requires(inLevel(levelBoth)), req: caller{principal: alice, ip: "203.0.113.1", device: managed}, want: reach.Allow,
	hide: func(r *reach.Request) { r.IP = "" },
}, {
	name: "required levels: one not granted", source: srcLevelProto + ": all access levels listed in required_access_levels must be granted",
	grants: requires(inLevel(levelBoth)), req: caller{principal: alice, ip: "198.51.100.9", device: managed}, want: reach.Deny,
}, {
	name: "custom CEL level met", source: srcCustomSpec + ": device.os_type, OsType.DESKTOP_MAC and device.is_corp_owned_device",
	grants: requires(inLevel(levelMac)), req: caller{principal: alice, device: map[string]string{"os": "DESKTOP_MAC", "corp_owned": "true"}},
	want: reach.Allow, hide: func(r *reach.Request) { r.Device = nil },
}, {
	name: "custom CEL level not met", source: srcCustomSpec + ": device.os_type, OsType.DESKTOP_MAC and device.is_corp_owned_device",
	grants: requires(inLevel(levelMac)), req: caller{principal: alice, device: map[string]string{"os": "DESKTOP_WINDOWS", "corp_owned": "true"}},
	want: reach.Deny,
}, {
	name: "minimum OS version met", source: srcLevelProto + ": OsConstraint.minimum_version is the minimum allowed OS version",
	grants: requires(inLevel(levelModern)), req: caller{principal: alice, device: map[string]string{"os": "DESKTOP_MAC", "os_version": "14.2.1"}},
	want: reach.Allow,
}, {
	name: "minimum OS version not met", source: srcLevelProto + ": OsConstraint.minimum_version is the minimum allowed OS version",
	grants: requires(inLevel(levelModern)), req: caller{principal: alice, device: map[string]string{"os": "DESKTOP_MAC", "os_version": "13.6.0"}},
	want: reach.Deny,
}, {
	name: "a level's members: the caller listed", source: srcLevelProto + ": members — the request must come from one of the user or service accounts",
	grants: requires(inLevel(levelAlice)), req: caller{principal: alice}, want: reach.Allow,
}, {
	name: "a level's members: the caller not listed", source: srcLevelProto + ": members — the request must come from one of the user or service accounts",
	grants: []grant{when(onService, inLevel(levelAlice), accessor, "domain:acme.com")}, req: caller{principal: "user:bob@acme.com"}, want: reach.Deny,
}, {
	name: "every level a condition requires must be satisfied", source: srcContextAware + ": access levels in a conditional binding; && requires both",
	grants: requires(inLevel(levelCorp) + " && " + inLevel(levelGermany)), req: caller{principal: alice, ip: "203.0.113.1", region: "FR"},
	want: reach.Deny,
}, {
	name: "either of two levels", source: srcContextAware + ": conditional bindings on access levels; || accepts either",
	grants: requires(inLevel(levelCorp) + " || " + inLevel(levelGermany)), req: caller{principal: alice, region: "DE"}, want: reach.Allow,
}, {
	name:   "a condition naming a level that does not exist blocks the binding",
	source: srcRewriteGuide + ": a level string outside the organization's levels is invalid and blocks access",
	grants: []grant{when(onService, `!("`+accessPolicy+`/accessLevels/typo" in request.auth.access_levels)`, accessor, alice),
		when(onService, inLevel(accessPolicy+"/accessLevels/missing"), accessor, alice)},
	req: caller{principal: alice}, want: reach.Deny,
}}
