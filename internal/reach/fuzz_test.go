package reach

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// FuzzEvaluate: whatever the condition, the custom level and the request,
// Evaluate answers one of the three verdicts without panicking, a DEPENDS
// says what it depends on, and DescribeCondition returns.
func FuzzEvaluate(f *testing.F) {
	f.Add(`request.path.startsWith("/a")`, `device.os_type == OsType.IOS`, "user:a@x.com", "10.0.0.1", "/a", int64(0), "true")
	f.Add(inLevel(levelCorp)+" && "+inLevel("accessPolicies/1/accessLevels/fuzz"), `levels.corp_network && inIpRange(origin.ip, ["10.0.0.0/8"])`,
		"group:g@x.com", "", "", int64(1_800_000_000), "")
	f.Add(`request.time.getHours("Mars/Olympus") > 3`, `device.versionAtLeast("1.2") || levels.fuzz`, "", "not-an-ip", "", int64(-1), "maybe")
	f.Add(`[1, 2][5] == 1 || size(request.auth.access_levels) > 0`, `certificateBindingState(origin, device) == 1`, "allUsers", "::1", "//", int64(42), "false")
	f.Fuzz(func(t *testing.T, condition, custom, member, ip, path string, unix int64, fact string) {
		levels := maps.Clone(testLevels)
		levels["accessPolicies/1/accessLevels/fuzz"] = customLevel(custom)
		req := Request{Member: member, IP: ip, Path: path, Groups: []string{member},
			Device: map[string]string{DeviceScreenLock: fact, DeviceOSVersion: fact}}
		if unix != 0 {
			req.Time = time.Unix(unix, 0)
		}
		bindings := []Binding{grant(accessor, condition, member, "group:g@x.com"), grant(accessor, inLevel("accessPolicies/1/accessLevels/fuzz"), member)}
		got := Evaluate(bindings, RoleCarrier(nil), levels, req)
		if !slices.Contains([]Verdict{Allow, Deny, Depends}, got.Verdict) {
			t.Fatalf("verdict %q", got.Verdict)
		}
		if got.Verdict == Depends && len(got.Depends) == 0 {
			t.Fatalf("DEPENDS without what it depends on: %+v", got)
		}
		_ = DescribeCondition(condition)
	})
}
