package reach

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
	"google.golang.org/genproto/googleapis/type/expr"
)

// Sources the case tables cite. Each case names the fact it relies on.
const (
	srcManagingAccess = "https://cloud.google.com/iap/docs/managing-access"
	srcContextAware   = "https://cloud.google.com/iap/docs/cloud-iap-context-aware-access-howto"
	srcIAMRoles       = "https://cloud.google.com/iam/docs/roles-permissions/iap"
	srcHierarchy      = "https://cloud.google.com/iam/docs/resource-hierarchy-access-control"
	srcAttributes     = "https://cloud.google.com/iam/docs/conditions-attribute-reference"
	srcPolicyProto    = "google/iam/v1/policy.proto (Binding.members, Binding.condition)"
	srcPrincipals     = "https://cloud.google.com/iam/docs/principal-identifiers"
	srcLevelProto     = "google/identity/accesscontextmanager/v1/access_level.proto"
	srcCustomSpec     = "https://cloud.google.com/access-context-manager/docs/custom-access-level-spec"
	srcRewriteGuide   = "https://cloud.google.com/iam/docs/pdf/access-levels-rewrite-guide.pdf"
)

const (
	accessor     = "roles/iap.httpsResourceAccessor"
	serviceIAP   = "projects/123/iap_web/cloud_run-europe-west1/services/reports"
	alice        = "user:alice@acme.com"
	finance      = "group:finance@acme.com"
	levelCorp    = "accessPolicies/1/accessLevels/corp_network"
	levelGermany = "accessPolicies/1/accessLevels/germany"
	levelManaged = "accessPolicies/1/accessLevels/managed_device"
	levelNoEmbgo = "accessPolicies/1/accessLevels/not_embargoed"
	levelCorpVPN = "accessPolicies/1/accessLevels/corp_or_vpn"
	levelBoth    = "accessPolicies/1/accessLevels/managed_on_corp"
	levelMac     = "accessPolicies/1/accessLevels/corp_mac"
	levelModern  = "accessPolicies/1/accessLevels/modern_mac"
)

// testLevels are the access levels the cases' conditions name.
var testLevels = map[string]*accesscontextmanagerpb.AccessLevel{
	levelCorp:    basicLevel(accesscontextmanagerpb.BasicLevel_AND, &accesscontextmanagerpb.Condition{IpSubnetworks: []string{"10.0.0.0/8"}}),
	levelGermany: basicLevel(accesscontextmanagerpb.BasicLevel_AND, &accesscontextmanagerpb.Condition{Regions: []string{"DE"}}),
	levelManaged: basicLevel(accesscontextmanagerpb.BasicLevel_AND, &accesscontextmanagerpb.Condition{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{
		RequireScreenlock:         true,
		AllowedEncryptionStatuses: []devicetype.DeviceEncryptionStatus{devicetype.DeviceEncryptionStatus_ENCRYPTED},
	}}),
	levelNoEmbgo: basicLevel(accesscontextmanagerpb.BasicLevel_AND, &accesscontextmanagerpb.Condition{Regions: []string{"KP", "IR"}, Negate: true}),
	levelCorpVPN: basicLevel(accesscontextmanagerpb.BasicLevel_OR,
		&accesscontextmanagerpb.Condition{IpSubnetworks: []string{"10.0.0.0/8"}},
		&accesscontextmanagerpb.Condition{IpSubnetworks: []string{"192.0.2.0/24"}}),
	levelBoth: basicLevel(accesscontextmanagerpb.BasicLevel_AND,
		&accesscontextmanagerpb.Condition{RequiredAccessLevels: []string{levelCorp, levelManaged}}),
	levelMac: customLevel(`device.os_type == OsType.DESKTOP_MAC && device.is_corp_owned_device == true`),
	levelModern: basicLevel(accesscontextmanagerpb.BasicLevel_AND, &accesscontextmanagerpb.Condition{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{
		OsConstraints: []*accesscontextmanagerpb.OsConstraint{{OsType: devicetype.OsType_DESKTOP_MAC, MinimumVersion: "14.0.0"}},
	}}),
}

func basicLevel(combine accesscontextmanagerpb.BasicLevel_ConditionCombiningFunction, conditions ...*accesscontextmanagerpb.Condition) *accesscontextmanagerpb.AccessLevel {
	return &accesscontextmanagerpb.AccessLevel{Level: &accesscontextmanagerpb.AccessLevel_Basic{
		Basic: &accesscontextmanagerpb.BasicLevel{Conditions: conditions, CombiningFunction: combine},
	}}
}

func customLevel(expression string) *accesscontextmanagerpb.AccessLevel {
	return &accesscontextmanagerpb.AccessLevel{Level: &accesscontextmanagerpb.AccessLevel_Custom{
		Custom: &accesscontextmanagerpb.CustomLevel{Expr: &expr.Expr{Expression: expression}},
	}}
}

// grant is a binding of role on the service's own IAP resource.
func grant(role string, condition string, members ...string) Binding {
	return Binding{Where: Where{Kind: Service, Resource: serviceIAP}, Role: role, Members: members, Condition: condition, Title: "test"}
}

// inLevel is the clause IAP's documentation gives for requiring a level.
func inLevel(level string) string { return `"` + level + `" in request.auth.access_levels` }

func at(rfc3339 string) time.Time {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		panic(err)
	}
	return t
}

// reachCase is one request against one policy, with the answer Google's
// documentation implies and the fact it implies it from.
type reachCase struct {
	name     string
	source   string // URL or proto, and the fact relied on
	bindings []Binding
	custom   map[string][]string // custom roles' permissions
	req      Request
	want     Verdict
	// Each string must occur in the answer's Depends (DEPENDS), Failed
	// (DENY) or Assumptions.
	wantDepends, wantFailed, wantAssumed []string
	// wantRole, when set, is the role of the binding the answer names.
	wantRole string
}

func runCases(t *testing.T, cases []reachCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.source == "" {
				t.Fatal("every case cites the documentation it is derived from")
			}
			got := Evaluate(tc.bindings, RoleCarrier(tc.custom), testLevels, tc.req)
			if got.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s (%s)\nanswer: %+v", got.Verdict, tc.want, tc.source, got)
			}
			requireAll(t, "Depends", strings.Join(got.Depends, "\n"), tc.wantDepends)
			requireAll(t, "Failed", got.Failed, tc.wantFailed)
			requireAll(t, "Assumptions", strings.Join(got.Assumptions, "\n"), tc.wantAssumed)
			if tc.wantRole != "" && (got.Binding == nil || got.Binding.Role != tc.wantRole) {
				t.Errorf("answer names binding %+v, want one of role %s", got.Binding, tc.wantRole)
			}
			if got.Verdict == Allow && got.Binding == nil {
				t.Error("ALLOW without the binding that allows")
			}
		})
	}
}

func requireAll(t *testing.T, field, got string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, want it to mention %q", field, got, w)
		}
	}
}
