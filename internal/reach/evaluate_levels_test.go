package reach

import "testing"

// Access levels, evaluated from their definitions.
func TestEvaluate_AccessLevels(t *testing.T) { runCases(t, accessLevelCases) }

// managedFacts meet levelManaged.
var managedFacts = map[string]string{DeviceScreenLock: "true", DeviceEncryption: "ENCRYPTED"}

var accessLevelCases = []reachCase{{
	name:     "IP inside the level's subnetwork",
	source:   srcLevelProto + ": the originating IP must be in one of the listed subnets",
	bindings: []Binding{grant(accessor, inLevel(levelCorp), alice)},
	req:      Request{Member: alice, IP: "10.20.30.40"},
	want:     Allow,
}, {
	name:       "IP outside the level's subnetwork",
	source:     srcLevelProto + ": the originating IP must be in one of the listed subnets",
	bindings:   []Binding{grant(accessor, inLevel(levelCorp), alice)},
	req:        Request{Member: alice, IP: "203.0.113.9"},
	want:       Deny,
	wantFailed: []string{levelCorp, "203.0.113.9 is not in 10.0.0.0/8"},
}, {
	name:        "IP not given",
	source:      srcLevelProto + ": the originating IP must be in one of the listed subnets",
	bindings:    []Binding{grant(accessor, inLevel(levelCorp), alice)},
	req:         Request{Member: alice},
	want:        Depends,
	wantDepends: []string{"the request comes from 10.0.0.0/8 (" + levelCorp + ")"},
}, {
	name:     "region in the level's regions",
	source:   srcLevelProto + ": the request must originate from one of the provided countries/regions",
	bindings: []Binding{grant(accessor, inLevel(levelGermany), alice)},
	req:      Request{Member: alice, RegionCode: "DE"},
	want:     Allow,
}, {
	name:     "region outside the level's regions",
	source:   srcLevelProto + ": the request must originate from one of the provided countries/regions",
	bindings: []Binding{grant(accessor, inLevel(levelGermany), alice)},
	req:      Request{Member: alice, RegionCode: "FR"},
	want:     Deny,
}, {
	name:     "device policy met by the device facts",
	source:   srcLevelProto + ": DevicePolicy is an AND over its fields (screen lock, allowed encryption statuses)",
	bindings: []Binding{grant(accessor, inLevel(levelManaged), alice)},
	req:      Request{Member: alice, Device: managedFacts},
	want:     Allow,
}, {
	name:       "device without a screen lock",
	source:     srcLevelProto + ": require_screenlock must hold for the DevicePolicy to be true",
	bindings:   []Binding{grant(accessor, inLevel(levelManaged), alice)},
	req:        Request{Member: alice, Device: map[string]string{DeviceScreenLock: "false", DeviceEncryption: "ENCRYPTED"}},
	want:       Deny,
	wantFailed: []string{"no screen lock"},
}, {
	name:     "device facts missing",
	source:   srcLevelProto + ": DevicePolicy is an AND over its fields; unknown facts leave it undecided",
	bindings: []Binding{grant(accessor, inLevel(levelManaged), alice)},
	req:      Request{Member: alice},
	want:     Depends,
	wantDepends: []string{
		"the device has a screen lock (" + levelManaged + ")",
		"the device's storage encryption is ENCRYPTED (" + levelManaged + ")",
	},
}, {
	name:       "negated condition: a request from an excluded region",
	source:     srcLevelProto + ": negate makes the Condition a NAND over its non-empty fields",
	bindings:   []Binding{grant(accessor, inLevel(levelNoEmbgo), alice)},
	req:        Request{Member: alice, RegionCode: "KP"},
	want:       Deny,
	wantFailed: []string{"in IR or KP, which a negated condition"},
}, {
	name:     "negated condition: a request from elsewhere",
	source:   srcLevelProto + ": negate makes the Condition a NAND over its non-empty fields",
	bindings: []Binding{grant(accessor, inLevel(levelNoEmbgo), alice)},
	req:      Request{Member: alice, RegionCode: "DE"},
	want:     Allow,
}, {
	name:     "OR combining: the second condition holds",
	source:   srcLevelProto + ": with OR, at least one Condition must be satisfied",
	bindings: []Binding{grant(accessor, inLevel(levelCorpVPN), alice)},
	req:      Request{Member: alice, IP: "192.0.2.7"},
	want:     Allow,
}, {
	name:     "OR combining: neither holds",
	source:   srcLevelProto + ": with OR, at least one Condition must be satisfied",
	bindings: []Binding{grant(accessor, inLevel(levelCorpVPN), alice)},
	req:      Request{Member: alice, IP: "198.51.100.1"},
	want:     Deny,
}, {
	name:     "required levels all granted",
	source:   srcLevelProto + ": all access levels listed in required_access_levels must be granted",
	bindings: []Binding{grant(accessor, inLevel(levelBoth), alice)},
	req:      Request{Member: alice, IP: "10.0.0.1", Device: managedFacts},
	want:     Allow,
}, {
	name:        "required levels: one undecided",
	source:      srcLevelProto + ": all access levels listed in required_access_levels must be granted",
	bindings:    []Binding{grant(accessor, inLevel(levelBoth), alice)},
	req:         Request{Member: alice, Device: managedFacts},
	want:        Depends,
	wantDepends: []string{"the request comes from 10.0.0.0/8 (" + levelCorp + ")"},
}, {
	name:     "required levels: one not granted",
	source:   srcLevelProto + ": all access levels listed in required_access_levels must be granted",
	bindings: []Binding{grant(accessor, inLevel(levelBoth), alice)},
	req:      Request{Member: alice, IP: "203.0.113.9", Device: managedFacts},
	want:     Deny,
}, {
	name:     "custom CEL level met",
	source:   srcCustomSpec + ": device.os_type, OsType.DESKTOP_MAC and device.is_corp_owned_device",
	bindings: []Binding{grant(accessor, inLevel(levelMac), alice)},
	req:      Request{Member: alice, Device: map[string]string{DeviceOS: "DESKTOP_MAC", DeviceCorpOwned: "true"}},
	want:     Allow,
}, {
	name:     "custom CEL level not met",
	source:   srcCustomSpec + ": device.os_type, OsType.DESKTOP_MAC and device.is_corp_owned_device",
	bindings: []Binding{grant(accessor, inLevel(levelMac), alice)},
	req:      Request{Member: alice, Device: map[string]string{DeviceOS: "DESKTOP_WINDOWS", DeviceCorpOwned: "true"}},
	want:     Deny,
}, {
	name:        "custom CEL level without device facts",
	source:      srcCustomSpec + ": device.os_type and device.is_corp_owned_device describe the device",
	bindings:    []Binding{grant(accessor, inLevel(levelMac), alice)},
	req:         Request{Member: alice},
	want:        Depends,
	wantDepends: []string{"the device's OS type (" + levelMac + ")"},
}, {
	name:     "minimum OS version met",
	source:   srcLevelProto + ": OsConstraint.minimum_version is the minimum allowed OS version",
	bindings: []Binding{grant(accessor, inLevel(levelModern), alice)},
	req:      Request{Member: alice, Device: map[string]string{DeviceOS: "DESKTOP_MAC", DeviceOSVersion: "14.2.1"}},
	want:     Allow,
}, {
	name:     "minimum OS version not met",
	source:   srcLevelProto + ": OsConstraint.minimum_version is the minimum allowed OS version",
	bindings: []Binding{grant(accessor, inLevel(levelModern), alice)},
	req:      Request{Member: alice, Device: map[string]string{DeviceOS: "DESKTOP_MAC", DeviceOSVersion: "13.6"}},
	want:     Deny,
}, {
	name:     "every level a condition requires must be satisfied",
	source:   srcContextAware + ": access levels in a conditional binding further restrict access; && requires both",
	bindings: []Binding{grant(accessor, inLevel(levelCorp)+" && "+inLevel(levelGermany), alice)},
	req:      Request{Member: alice, IP: "10.0.0.1", RegionCode: "FR"},
	want:     Deny,
}, {
	name:     "either of two levels",
	source:   srcContextAware + ": conditional bindings on access levels; || accepts either",
	bindings: []Binding{grant(accessor, inLevel(levelCorp)+" || "+inLevel(levelGermany), alice)},
	req:      Request{Member: alice, RegionCode: "DE"},
	want:     Allow,
}, {
	name:   "a condition naming a level that is not known blocks the binding",
	source: srcRewriteGuide + ": a level string outside the organization's levels is invalid and blocks access",
	bindings: []Binding{grant(accessor, `!("accessPolicies/1/accessLevels/typo" in request.auth.access_levels)`, alice),
		grant(accessor, inLevel("accessPolicies/1/accessLevels/missing"), alice)},
	req:         Request{Member: alice},
	want:        Deny,
	wantFailed:  []string{"accessPolicies/1/accessLevels/typo"},
	wantAssumed: []string{"accessPolicies/1/accessLevels/missing is not among the access levels given"},
}}
