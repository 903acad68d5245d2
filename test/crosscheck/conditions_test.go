package crosscheck_test

import (
	"testing"
	"time"

	"github.com/runguard/runguard/internal/reach"
)

const (
	window      = `request.time >= timestamp("2026-06-01T00:00:00Z") && request.time < timestamp("2026-07-01T00:00:00Z")`
	officeHours = `request.time.getHours("Europe/Berlin") >= 9 && request.time.getHours("Europe/Berlin") < 17`
)

// when grants role to members at a place under a condition.
func when(at place, condition, role string, members ...string) grant {
	return grant{at: at, role: role, members: members, condition: condition}
}

// IAM conditions on request.path, request.host and request.time.
func TestCrossCheck_RequestAttributes(t *testing.T) { runCases(t, conditionCases) }

var conditionCases = []crossCase{{
	name:   "path under the allowed prefix",
	source: srcContextAware + ": IAM conditions restrict access on URL paths",
	grants: []grant{when(onService, `request.path.startsWith("/reports/")`, accessor, alice)},
	req:    caller{principal: alice, path: "/reports/q3"},
	want:   reach.Allow,
	hide:   func(r *reach.Request) { r.Path = "" },
}, {
	name:   "path outside the allowed prefix",
	source: srcAttributes + ": request.path, compared with startsWith",
	grants: []grant{when(onService, `request.path.startsWith("/reports/")`, accessor, alice)},
	req:    caller{principal: alice, path: "/admin"},
	want:   reach.Deny,
	hide:   func(r *reach.Request) { r.Path = "" },
}, {
	name:   "host equal to the service's host",
	source: srcContextAware + ": values compared to request.host must be exact",
	grants: []grant{when(onService, `request.host == "`+hostVar+`"`, accessor, alice)},
	req:    caller{principal: alice},
	want:   reach.Allow,
}, {
	name:   "host of another name",
	source: srcContextAware + ": values compared to request.host must be exact",
	grants: []grant{when(onService, `request.host == "reports.acme.com"`, accessor, alice)},
	req:    caller{principal: alice},
	want:   reach.Deny,
}, {
	name:   "inside the time window",
	source: srcAttributes + ": request.time compared with timestamp() limits access to a window",
	grants: []grant{when(onService, window, accessor, alice)},
	req:    caller{principal: alice, time: "2026-06-15T12:00:00Z"},
	want:   reach.Allow,
	hide:   func(r *reach.Request) { r.Time = time.Time{} },
}, {
	name:   "before the time window",
	source: srcAttributes + ": request.time compared with timestamp() limits access to a window",
	grants: []grant{when(onService, window, accessor, alice)},
	req:    caller{principal: alice, time: "2026-05-31T23:59:59Z"},
	want:   reach.Deny,
}, {
	name:   "after the time window",
	source: srcAttributes + ": request.time compared with timestamp() limits access to a window",
	grants: []grant{when(onService, window, accessor, alice)},
	req:    caller{principal: alice, time: "2026-07-01T00:00:00Z"},
	want:   reach.Deny,
}, {
	name:   "office hours in the condition's time zone",
	source: srcAttributes + ": request.time.getHours(time zone) gives the hour in that zone",
	grants: []grant{when(onService, officeHours, accessor, alice)},
	req:    caller{principal: alice, time: "2026-07-01T08:30:00Z"}, // 10:30 in Berlin (CEST)
	want:   reach.Allow,
}, {
	name:   "before office hours in the condition's time zone",
	source: srcAttributes + ": request.time.getHours(time zone) gives the hour in that zone",
	grants: []grant{when(onService, officeHours, accessor, alice)},
	req:    caller{principal: alice, time: "2026-07-01T06:30:00Z"}, // 08:30 in Berlin
	want:   reach.Deny,
}, {
	name: "a condition on a project-level binding restricts the IAP resources below",
	source: srcManagingAccess + " (project-level principals apply to all IAP-secured resources) and " +
		srcPolicyProto + " (the condition decides whether the binding applies)",
	grants: []grant{when(onProject, `request.path.startsWith("/public/")`, accessor, alice)},
	req:    caller{principal: alice, path: "/private/x"},
	want:   reach.Deny,
}, {
	name:   "of two bindings, the one that holds lets the request in",
	source: srcPolicyProto + ": if a condition is false the binding does not apply, but a different role binding might grant the same role",
	grants: []grant{when(onService, `request.path.startsWith("/admin/")`, accessor, alice), on(onProject, accessor, finance)},
	req:    caller{principal: alice, path: "/reports/q3", groups: []string{finance}},
	want:   reach.Allow,
}}
