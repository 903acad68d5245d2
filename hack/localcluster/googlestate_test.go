package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// A /state answer as the fake writes it (adminapi.State), trimmed to what matters.
const sampleState = `{
  "projects": [{"id": "acme-prod", "number": 512345678901}],
  "services": [
    {"name": "projects/acme-prod/locations/us-central1/services/public-site", "iapEnabled": false,
     "uri": "https://public-site-x-uc.a.run.app",
     "servicePolicy": {"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]},
     "iapResource": "projects/512345678901/iap_web/cloud_run-us-central1/services/public-site",
     "iapPolicy": {}},
    {"name": "projects/acme-prod/locations/europe-west1/services/ops-console", "iapEnabled": true,
     "servicePolicy": {"bindings": [{"role": "roles/run.invoker", "members": ["serviceAccount:service-512345678901@gcp-sa-iap.iam.gserviceaccount.com"]}]},
     "iapResource": "projects/512345678901/iap_web/cloud_run-europe-west1/services/ops-console",
     "iapPolicy": {"version": 3, "bindings": [
       {"role": "roles/iap.httpsResourceAccessor", "members": ["user:legacy-admin@acme.com"]},
       {"role": "roles/iap.httpsResourceAccessor", "members": ["group:sre@acme.com"],
        "condition": {"title": "runguard:sre", "description": "managed-by=runguard cluster=demo namespace=platform name=ops-console",
                      "expression": "request.time >= timestamp(\"1970-01-01T00:00:00Z\")"}}]}}
  ],
  "accessPolicies": [
    {"policy": {"name": "accessPolicies/123456789", "parent": "organizations/100200300400", "title": "acme organization policy"},
     "accessLevels": [
       {"name": "accessPolicies/123456789/accessLevels/corp_managed_device", "title": "Corp-managed device",
        "description": "Made in the console.", "basic": {"conditions": [{"devicePolicy": {"requireScreenlock": true}}]}},
       {"name": "accessPolicies/123456789/accessLevels/corp_network", "title": "Corp network",
        "description": "The office networks.\n\nmanaged by runguard: cluster \"demo\", AccessLevel \"corp-network\"",
        "basic": {"conditions": [{"ipSubnetworks": ["203.0.113.0/24", "198.51.100.0/24"]}]}},
       {"name": "accessPolicies/123456789/accessLevels/mentions_runguard", "title": "Look-alike",
        "description": "This level is managed by runguard.", "custom": {"expr": {"expression": "device.is_corp_owned_device"}}}
     ]},
    {"policy": {"name": "accessPolicies/666", "parent": "organizations/100200300400", "title": "perimeters", "scopes": ["projects/512345678901"]},
     "accessLevels": []}
  ]
}`

func TestFormatState_ShowsWhatAReaderNeeds(t *testing.T) {
	var st adminapi.State
	if err := json.Unmarshal([]byte(sampleState), &st); err != nil {
		t.Fatal(err)
	}
	out := formatState(st, nil)
	for _, want := range []string{
		"project acme-prod (number 512345678901)",
		"public         YES: allUsers may invoke",
		"nobody may pass IAP",
		"<- IAP's service agent",
		"[other]    unconditional binding (not runguard's)",
		"[runguard] runguard:sre  (cluster=demo namespace=platform name=ops-console)",
		"when     always (",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Services are listed by name within a project, whatever order the fake used.
	if strings.Index(out, "ops-console") > strings.Index(out, "public-site") {
		t.Errorf("ops-console should come before public-site:\n%s", out)
	}
}

// Who wrote each service in Google: the namespace's identity for platform's objects.
func TestFormatState_NamesTheIdentitiesThatWrote(t *testing.T) {
	var st adminapi.State
	if err := json.Unmarshal([]byte(sampleState), &st); err != nil {
		t.Fatal(err)
	}
	const platform = "serviceAccount:platform-team@acme-ops.iam.gserviceaccount.com"
	calls := []adminapi.Call{
		{Method: "iap.SetIamPolicy", Resource: "projects/512345678901/iap_web/cloud_run-europe-west1/services/ops-console", Code: "OK", Write: true, Caller: platform},
		{Method: "run.SetIamPolicy", Resource: "projects/acme-prod/locations/europe-west1/services/ops-console", Code: "OK", Write: true, Caller: platform},
		{Method: "run.GetService", Resource: "projects/acme-prod/locations/europe-west1/services/ops-console", Code: "OK", Caller: platform},
		{Method: "run.UpdateService", Resource: "projects/acme-prod/locations/europe-west1/services/ops-console", Code: "PERMISSION_DENIED", Write: true, Caller: "user:eve@acme.com"},
	}
	out := formatState(st, calls)
	if !strings.Contains(out, "written by     "+platform+" (2)") {
		t.Errorf("no written-by line with the two successful writes:\n%s", out)
	}
	if strings.Contains(out, "eve@acme.com") {
		t.Errorf("a denied write is listed as a write:\n%s", out)
	}
}

// The access levels the conditions can require: runguard's told apart from other tools' by the
// exact mark runguard writes (a description that only mentions runguard is not one), each with
// what it admits and who wrote it.
func TestFormatState_ShowsAccessLevelsAndWhoseTheyAre(t *testing.T) {
	var st adminapi.State
	if err := json.Unmarshal([]byte(sampleState), &st); err != nil {
		t.Fatal(err)
	}
	calls := []adminapi.Call{{Method: "acm.CreateAccessLevel", Resource: "accessPolicies/123456789/accessLevels/corp_network", Code: "OK", Write: true,
		Caller: "serviceAccount:runguard@acme-ops.iam.gserviceaccount.com"}}
	out := formatState(st, calls)
	for _, want := range []string{
		`access policy accessPolicies/123456789 "acme organization policy" (organizations/100200300400)`,
		`[other]    corp_managed_device "Corp-managed device" (not runguard's)`,
		`[runguard] corp_network "Corp network"  (cluster=demo AccessLevel=corp-network)`,
		"admits         from 198.51.100.0/24 or 203.0.113.0/24",
		"written by     serviceAccount:runguard@acme-ops.iam.gserviceaccount.com (1)",
		`[other]    mentions_runguard "Look-alike" (not runguard's)`,
		"scoped to projects/512345678901: IAP ignores its levels",
		"no access levels",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "access policy") < strings.Index(out, "ops-console") {
		t.Errorf("access policies should follow the services:\n%s", out)
	}
}
