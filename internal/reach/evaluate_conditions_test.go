package reach

import "testing"

// IAM conditions on request.path, request.host and request.time.
func TestEvaluate_RequestAttributes(t *testing.T) { runCases(t, requestAttributeCases) }

const (
	window      = `request.time >= timestamp("2026-06-01T00:00:00Z") && request.time < timestamp("2026-07-01T00:00:00Z")`
	officeHours = `request.time.getHours("Europe/Berlin") >= 9 && request.time.getHours("Europe/Berlin") < 17`
)

var requestAttributeCases = []reachCase{{
	name:     "path under the allowed prefix",
	source:   srcContextAware + ": IAM conditions restrict access on URL paths, e.g. only paths starting with /admin",
	bindings: []Binding{grant(accessor, `request.path.startsWith("/reports/")`, alice)},
	req:      Request{Member: alice, Path: "/reports/q3"},
	want:     Allow,
}, {
	name:       "path outside the allowed prefix",
	source:     srcAttributes + ": request.path, compared with startsWith",
	bindings:   []Binding{grant(accessor, `request.path.startsWith("/reports/")`, alice)},
	req:        Request{Member: alice, Path: "/admin"},
	want:       Deny,
	wantFailed: []string{`request.path.startsWith("/reports/")`},
}, {
	name:        "path not given",
	source:      srcAttributes + ": request.path is an attribute of the request; without it the condition cannot be decided",
	bindings:    []Binding{grant(accessor, `request.path.startsWith("/reports/")`, alice)},
	req:         Request{Member: alice},
	want:        Depends,
	wantDepends: []string{"the request's path"},
}, {
	name:     "host equal to the allowed host",
	source:   srcContextAware + ": values compared to request.host must be exact",
	bindings: []Binding{grant(accessor, `request.host == "reports.acme.com"`, alice)},
	req:      Request{Member: alice, Host: "reports.acme.com"},
	want:     Allow,
}, {
	name:     "a host that only starts like the allowed one",
	source:   srcContextAware + ": values compared to request.host must be exact",
	bindings: []Binding{grant(accessor, `request.host == "reports.acme.com"`, alice)},
	req:      Request{Member: alice, Host: "reports.acme.com.evil.example"},
	want:     Deny,
}, {
	name:       "before the time window",
	source:     srcAttributes + ": request.time compared with timestamp() limits access to a window",
	bindings:   []Binding{grant(accessor, window, alice)},
	req:        Request{Member: alice, Time: at("2026-05-31T23:59:59Z")},
	want:       Deny,
	wantFailed: []string{`request.time >= timestamp("2026-06-01T00:00:00Z")`},
}, {
	name:     "inside the time window",
	source:   srcAttributes + ": request.time compared with timestamp() limits access to a window",
	bindings: []Binding{grant(accessor, window, alice)},
	req:      Request{Member: alice, Time: at("2026-06-15T12:00:00Z")},
	want:     Allow,
}, {
	name:       "after the time window",
	source:     srcAttributes + ": request.time compared with timestamp() limits access to a window",
	bindings:   []Binding{grant(accessor, window, alice)},
	req:        Request{Member: alice, Time: at("2026-07-01T00:00:00Z")},
	want:       Deny,
	wantFailed: []string{`request.time < timestamp("2026-07-01T00:00:00Z")`},
}, {
	name:        "time window without a time",
	source:      srcAttributes + ": request.time is the time of the request; none given, none assumed",
	bindings:    []Binding{grant(accessor, window, alice)},
	req:         Request{Member: alice},
	want:        Depends,
	wantDepends: []string{"the time of the request"},
}, {
	name:     "a lower bound in 1970 holds without a time",
	source:   srcAttributes + ": request.time is the time of the request, and every request is later than 1970",
	bindings: []Binding{grant(accessor, `request.time >= timestamp("1970-01-01T00:00:00Z")`, alice)},
	req:      Request{Member: alice},
	want:     Allow,
}, {
	name:     "office hours in the condition's time zone",
	source:   srcAttributes + ": request.time.getHours(time zone) gives the hour in that zone",
	bindings: []Binding{grant(accessor, officeHours, alice)},
	req:      Request{Member: alice, Time: at("2026-07-01T08:30:00Z")}, // 10:30 in Berlin (CEST)
	want:     Allow,
}, {
	name:     "before office hours in the condition's time zone",
	source:   srcAttributes + ": request.time.getHours(time zone) gives the hour in that zone",
	bindings: []Binding{grant(accessor, officeHours, alice)},
	req:      Request{Member: alice, Time: at("2026-07-01T06:30:00Z")}, // 08:30 in Berlin
	want:     Deny,
}, {
	name:   "a condition on the IAP resource's attributes cannot be decided here",
	source: srcAttributes + ": resource.name is supported for Identity-Aware Proxy; runguard does not model it",
	bindings: []Binding{{Where: Where{Kind: Project, Resource: "projects/acme-prod"}, Role: accessor, Members: []string{alice},
		Condition: `resource.name.startsWith("projects/123/iap_web/cloud_run-europe-west1/")`}},
	req:         Request{Member: alice},
	want:        Depends,
	wantDepends: []string{"the IAP resource's name"},
}, {
	name:   "a condition on a project-level binding restricts the IAP resources below",
	source: srcManagingAccess + " (project-level principals apply to all IAP-secured resources) and " + srcPolicyProto + " (the condition decides whether the binding applies)",
	bindings: []Binding{{Where: Where{Kind: Project, Resource: "projects/acme-prod"}, Role: accessor, Members: []string{alice},
		Condition: `request.path.startsWith("/public/")`}},
	req:  Request{Member: alice, Path: "/private/x"},
	want: Deny,
}}
