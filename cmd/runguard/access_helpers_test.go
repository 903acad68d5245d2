package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"

	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/iampolicy"
)

// The world of who-can's and can's tests: the fake's hierarchy seed (acme-prod in folder apps, in
// folder platform, in the acme.com organization; group:everyone@acme.com holds a custom role
// carrying the permission IAP checks on the organization, group:platform@acme.com the IAP role on
// folder platform, user:oncall@acme.com on the project), and an access policy of the organization
// with two levels, which runguard's own identity may read.
const (
	billing       = "acme-prod/us-central1/billing-dashboard"
	billingIAP    = "projects/512345678901/iap_web/cloud_run-us-central1/services/billing-dashboard"
	reachPolicy   = "accessPolicies/444000444"
	corpNetwork   = reachPolicy + "/accessLevels/corp_network"
	managedDevice = reachPolicy + "/accessLevels/managed_device"
	hierarchyOwn  = "serviceAccount:runguard@acme-ops.iam.gserviceaccount.com"
	// A service account that may read the service and its IAP policy, and nothing above it.
	narrowReader = "narrow@acme-ops.iam.gserviceaccount.com"
)

// startAccessFake starts that world, with on billing-dashboard's own IAP policy:
//   - runguard's binding for ProtectedService finance/billing-dashboard, group finance:
//     group:finance@acme.com and user:cfo@acme.com, from corp_network (203.0.113.0/24) on /reports/;
//   - a grant by hand, "drafts only": user:tech-writer@acme.com on /drafts/;
//   - a grant by hand requiring managed_device (a screen lock): user:mobile@acme.com;
//
// and above it user:auditor@acme.com on the project's IAP level (iap_web) and user:viewer@acme.com
// holding roles/viewer (which does not let anyone through IAP) on the project.
func startAccessFake(t *testing.T) *gcpfake.Server {
	t.Helper()
	seed, err := gcpfake.LoadSeed(filepath.Join("..", "..", "internal", "gcpfake", "testdata", "seed-hierarchy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	corp := accesslevel.Spec{Basic: &accesslevel.Basic{Conditions: []accesslevel.Condition{{IPSubnetworks: []string{"203.0.113.0/24"}}}}}
	device := accesslevel.Spec{Basic: &accesslevel.Basic{Conditions: []accesslevel.Condition{{DevicePolicy: &accesslevel.DevicePolicy{RequireScreenLock: true}}}}}
	seed.AccessPolicies = append(seed.AccessPolicies, gcpfake.AccessPolicy{Name: reachPolicy, Parent: "organizations/123456789", Title: "acme",
		Grants:       map[string][]string{hierarchyOwn: {"roles/accesscontextmanager.policyReader"}},
		AccessLevels: []json.RawMessage{levelJSON(t, corpNetwork, "Corp network", corp, nil), levelJSON(t, managedDevice, "Managed device", device, nil)}})
	seed.ServiceAccounts = append(seed.ServiceAccounts, gcpfake.ServiceAccount{Email: narrowReader, TokenCreators: []string{hierarchyOwn}})
	fake, err := gcpfake.Start(gcpfake.Options{Seed: seed, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	for _, role := range []string{"roles/run.viewer", "roles/iap.admin"} {
		if err := fake.Grant("acme-prod", "serviceAccount:"+narrowReader, role); err != nil {
			t.Fatal(err)
		}
	}
	finance, err := iampolicy.CompileCondition(iampolicy.Owner{Cluster: "demo", Namespace: "finance", Name: "billing-dashboard"},
		iampolicy.AccessGroup{Name: "finance", Members: []string{"group:finance@acme.com", "user:cfo@acme.com"},
			Context: iampolicy.Context{AccessLevels: []string{corpNetwork}, PathPrefixes: []string{"/reports/"}}})
	if err != nil {
		t.Fatal(err)
	}
	setPolicy(t, fake.SetIAPPolicy, billingIAP,
		&iampb.Binding{Role: iampolicy.AccessorRole, Members: []string{"group:finance@acme.com", "user:cfo@acme.com"}, Condition: finance},
		&iampb.Binding{Role: iampolicy.AccessorRole, Members: []string{"user:tech-writer@acme.com"},
			Condition: &expr.Expr{Title: "drafts only", Expression: `request.path.startsWith("/drafts/")`}},
		&iampb.Binding{Role: iampolicy.AccessorRole, Members: []string{"user:mobile@acme.com"},
			Condition: &expr.Expr{Title: "managed devices", Expression: `"` + managedDevice + `" in request.auth.access_levels`}})
	setPolicy(t, fake.SetPolicy, "projects/512345678901/iap_web", &iampb.Binding{Role: iampolicy.AccessorRole, Members: []string{"user:auditor@acme.com"}})
	if err := fake.Grant("acme-prod", "user:viewer@acme.com", "roles/viewer"); err != nil {
		t.Fatal(err)
	}
	return fake
}

func setPolicy(t *testing.T, set func(string, *iampb.Policy) error, resource string, bindings ...*iampb.Binding) {
	t.Helper()
	if err := set(resource, &iampb.Policy{Version: 3, Bindings: bindings}); err != nil {
		t.Fatalf("set the policy of %s: %v", resource, err)
	}
}

// reachCLI runs the CLI against the access fake, as runguard's own identity unless args
// impersonate.
func reachCLI(t *testing.T, fake *gcpfake.Server, args ...string) result {
	t.Helper()
	ep := fake.Endpoint()
	args = append(args, "--run-endpoint", ep, "--iap-endpoint", ep, "--resourcemanager-endpoint", ep, "--acm-endpoint", ep,
		"--iam-endpoint", ep, "--iamcredentials-endpoint", fake.HTTPEndpoint())
	return runCLI(t, "", args...)
}
