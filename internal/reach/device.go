package reach

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
)

// judgeDevice decides a device policy from the device facts: "DevicePolicy
// acts as an AND over all specified fields, and each repeated field is an
// OR over its elements. Any unset fields are ignored" (access_level.proto).
// A fact not given leaves its requirement undecided.
func judgeDevice(level string, facts map[string]string, p *accesscontextmanagerpb.DevicePolicy) judgement {
	at := " (" + level + ")"
	var parts []judgement
	if p.GetRequireScreenlock() {
		parts = append(parts, boolFact(facts, DeviceScreenLock, "the device has a screen lock"+at, "the device has no screen lock"+at))
	}
	if s := p.GetAllowedEncryptionStatuses(); len(s) > 0 {
		parts = append(parts, enumFact(facts, DeviceEncryption, "the device's storage encryption", names(s), at))
	}
	if m := p.GetAllowedDeviceManagementLevels(); len(m) > 0 {
		parts = append(parts, enumFact(facts, DeviceManagement, "the device's management level", names(m), at))
	}
	if p.GetRequireAdminApproval() {
		parts = append(parts, boolFact(facts, DeviceAdminApproved,
			"the device is approved by an administrator"+at, "the device is not approved by an administrator"+at))
	}
	if p.GetRequireCorpOwned() {
		parts = append(parts, boolFact(facts, DeviceCorpOwned, "the device is company-owned"+at, "the device is not company-owned"+at))
	}
	if oses := p.GetOsConstraints(); len(oses) > 0 {
		alternatives := make([]judgement, 0, len(oses))
		for _, o := range oses {
			alternatives = append(alternatives, judgeOS(facts, o, at))
		}
		parts = append(parts, anyOf(alternatives))
	}
	return allOf(parts)
}

// judgeOS: the OS type, "The minimum allowed OS version. If not set, any
// version of this OS satisfies the constraint", and a verified Chrome OS
// when required.
func judgeOS(facts map[string]string, o *accesscontextmanagerpb.OsConstraint, at string) judgement {
	parts := []judgement{enumFact(facts, DeviceOS, "the device's OS", []string{o.GetOsType().String()}, at)}
	if min := o.GetMinimumVersion(); min != "" {
		parts = append(parts, versionFact(facts, min, at))
	}
	if o.GetRequireVerifiedChromeOs() {
		parts = append(parts, boolFact(facts, DeviceVerifiedChromeOS,
			"the device runs a verified Chrome OS"+at, "the device's Chrome OS is not verified"+at))
	}
	return allOf(parts)
}

func boolFact(facts map[string]string, key, holds, fails string) judgement {
	v, err := strconv.ParseBool(facts[key])
	if err != nil {
		return undecided(holds)
	}
	return certain(v, fails)
}

func enumFact(facts map[string]string, key, what string, allowed []string, at string) judgement {
	list := strings.Join(allowed, " or ")
	v, ok := facts[key]
	if !ok {
		return undecided(what + " is " + list + at)
	}
	return certain(slices.Contains(allowed, strings.ToUpper(v)), what+" is "+v+", not "+list+at)
}

func versionFact(facts map[string]string, minimum, at string) judgement {
	v, ok := facts[DeviceOSVersion]
	cmp, comparable := compareVersions(v, minimum)
	if !ok || !comparable {
		return undecided("the device's OS version is at least " + minimum + at)
	}
	return certain(cmp >= 0, fmt.Sprintf("the device's OS version %s is below %s%s", v, minimum, at))
}

// compareVersions compares "major.minor.patch" versions numerically, a
// missing part counting as 0; false when either is not such a version.
func compareVersions(a, b string) (int, bool) {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		x, okA := versionPart(as, i)
		y, okB := versionPart(bs, i)
		if !okA || !okB {
			return 0, false
		}
		if x != y {
			if x < y {
				return -1, true
			}
			return 1, true
		}
	}
	return 0, true
}

func versionPart(parts []string, i int) (uint64, bool) {
	if i >= len(parts) {
		return 0, true
	}
	n, err := strconv.ParseUint(parts[i], 10, 64)
	return n, err == nil
}

func names[E interface{ String() string }](values []E) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		out = append(out, v.String())
	}
	return out
}
