package gcpfake_test

import (
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"github.com/runguard/runguard/internal/gcpfake"
	acmtype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// condition is a basic level of one condition.
func condition(name string, c *accesscontextmanagerpb.Condition) *accesscontextmanagerpb.AccessLevel {
	return &accesscontextmanagerpb.AccessLevel{Name: name, Title: "T " + name, Level: &accesscontextmanagerpb.AccessLevel_Basic{
		Basic: &accesscontextmanagerpb.BasicLevel{Conditions: []*accesscontextmanagerpb.Condition{c}}}}
}

func custom(name, expression string) *accesscontextmanagerpb.AccessLevel {
	return &accesscontextmanagerpb.AccessLevel{Name: name, Title: "T " + name, Level: &accesscontextmanagerpb.AccessLevel_Custom{
		Custom: &accesscontextmanagerpb.CustomLevel{Expr: &expr.Expr{Expression: expression}}}}
}

// Each rule Google documents for a level refuses the create with INVALID_ARGUMENT and a
// BadRequest naming the field; the same level, corrected, is accepted.
func TestACM_CreateRefusesWhatGoogleRefuses(t *testing.T) {
	l := orgPolicy + "/accessLevels/l"
	for _, tc := range []struct {
		name      string
		level     *accesscontextmanagerpb.AccessLevel
		wantField string
	}{
		{"CIDR with host bits", ipLevel(l, "x", "192.0.2.1/24"), "access_level.basic.conditions[0].ip_subnetworks[0]"},
		{"IPv6 CIDR with host bits", ipLevel(l, "x", "192.0.2.0/24", "2001:db8::1/32"), "access_level.basic.conditions[0].ip_subnetworks[1]"},
		{"address without a prefix length", ipLevel(l, "x", "192.0.2.7"), "access_level.basic.conditions[0].ip_subnetworks[0]"},
		{"region that is not an ISO code", condition(l, &accesscontextmanagerpb.Condition{Regions: []string{"US", "XX"}}), "access_level.basic.conditions[0].regions[1]"},
		{"region in lower case", condition(l, &accesscontextmanagerpb.Condition{Regions: []string{"de"}}), "access_level.basic.conditions[0].regions[0]"},
		{"group member", condition(l, &accesscontextmanagerpb.Condition{Members: []string{"user:a@example.com", "group:team@example.com"}}), "access_level.basic.conditions[0].members[1]"},
		{"missing required level", condition(l, &accesscontextmanagerpb.Condition{RequiredAccessLevels: []string{orgPolicy + "/accessLevels/nope"}}), "access_level.basic.conditions[0].required_access_levels[0]"},
		{"required level of another policy", condition(l, &accesscontextmanagerpb.Condition{RequiredAccessLevels: []string{scopedPolicy + "/accessLevels/corp"}}), "access_level.basic.conditions[0].required_access_levels[0]"},
		{"short name starting with a digit", ipLevel(orgPolicy+"/accessLevels/1corp", "x", "192.0.2.0/24"), "access_level.name"},
		{"short name with a hyphen", ipLevel(orgPolicy+"/accessLevels/corp-net", "x", "192.0.2.0/24"), "access_level.name"},
		{"short name of 51 characters", ipLevel(orgPolicy+"/accessLevels/a"+strings.Repeat("b", 50), "x", "192.0.2.0/24"), "access_level.name"},
		{"no title", ipLevel(l, "", "192.0.2.0/24"), "access_level.title"},
		{"title of another level", ipLevel(l, "Corporate network", "192.0.2.0/24"), "access_level.title"},
		{"neither basic nor custom", &accesscontextmanagerpb.AccessLevel{Name: l, Title: "x"}, "access_level.basic"},
		{"basic without conditions", &accesscontextmanagerpb.AccessLevel{Name: l, Title: "x", Level: &accesscontextmanagerpb.AccessLevel_Basic{Basic: &accesscontextmanagerpb.BasicLevel{}}}, "access_level.basic.conditions"},
		{"expression that is not CEL", custom(l, "origin.region_code in ['US'"), "access_level.custom.expr.expression"},
		{"empty expression", custom(l, " "), "access_level.custom.expr.expression"},
		{"undefined OS type", condition(l, &accesscontextmanagerpb.Condition{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{
			OsConstraints: []*accesscontextmanagerpb.OsConstraint{{OsType: 99}}}}), "access_level.basic.conditions[0].device_policy.os_constraints[0].os_type"},
		{"undefined encryption status", condition(l, &accesscontextmanagerpb.Condition{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{
			AllowedEncryptionStatuses: []acmtype.DeviceEncryptionStatus{acmtype.DeviceEncryptionStatus_ENCRYPTED, 42}}}), "access_level.basic.conditions[0].device_policy.allowed_encryption_statuses[1]"},
		{"OS constraint without an OS", condition(l, &accesscontextmanagerpb.Condition{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{
			OsConstraints: []*accesscontextmanagerpb.OsConstraint{{MinimumVersion: "10.1.0"}}}}), "access_level.basic.conditions[0].device_policy.os_constraints[0].os_type"},
		{"malformed minimum version", condition(l, &accesscontextmanagerpb.Condition{DevicePolicy: &accesscontextmanagerpb.DevicePolicy{
			OsConstraints: []*accesscontextmanagerpb.OsConstraint{{OsType: acmtype.OsType_DESKTOP_MAC, MinimumVersion: "10.1"}}}}), "access_level.basic.conditions[0].device_policy.os_constraints[0].minimum_version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := startACM(t, overGRPC, gcpfake.Options{})
			_, err := c.CreateAccessLevel(ctxT(t), &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: orgPolicy, AccessLevel: tc.level})
			st := wantCode(t, err, codes.InvalidArgument)
			if br := badRequest(st); br == nil || br.GetFieldViolations()[0].GetField() != tc.wantField {
				t.Errorf("details %v, want a violation of %s (%s)", st.Details(), tc.wantField, st.Message())
			}
			if len(s.AccessLevels(orgPolicy)) != 1 {
				t.Errorf("a refused create stored a level: %v", s.AccessLevels(orgPolicy))
			}
		})
	}
}

// What the rules allow is accepted: both address families, every kind of condition, a custom
// level in CEL, and a required level of the same policy.
func TestACM_CreateAcceptsWhatGoogleAccepts(t *testing.T) {
	s, c := startACM(t, overGRPC, gcpfake.Options{})
	ctx := ctxT(t)
	for _, level := range []*accesscontextmanagerpb.AccessLevel{
		ipLevel(orgPolicy+"/accessLevels/Net_2", "nets", "10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"),
		condition(orgPolicy+"/accessLevels/people", &accesscontextmanagerpb.Condition{
			Members: []string{"user:a@example.com", "serviceAccount:robot@p.iam.gserviceaccount.com"}, Regions: []string{"US", "DE"},
			RequiredAccessLevels: []string{corpLevel}, Negate: true,
			DevicePolicy: &accesscontextmanagerpb.DevicePolicy{RequireScreenlock: true, OsConstraints: []*accesscontextmanagerpb.OsConstraint{{OsType: acmtype.OsType_DESKTOP_MAC, MinimumVersion: "10.15.7"}}}}),
		custom(orgPolicy+"/accessLevels/cel", `origin.region_code in ['US', 'CA'] && device.is_admin_approved_device`),
	} {
		op, err := c.CreateAccessLevel(ctx, &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: orgPolicy, AccessLevel: level})
		if err == nil {
			_, err = op.Wait(ctx)
		}
		if err != nil {
			t.Errorf("create %s: %v", level.GetName(), err)
		}
	}
	if n := len(s.AccessLevels(orgPolicy)); n != 4 {
		t.Errorf("%d levels, want 4", n)
	}
}

// An update is validated as a whole: a mask that empties the level's kind is refused.
func TestACM_UpdateIsValidatedAsAWhole(t *testing.T) {
	_, c := startACM(t, overGRPC, gcpfake.Options{})
	_, err := c.UpdateAccessLevel(ctxT(t), &accesscontextmanagerpb.UpdateAccessLevelRequest{
		AccessLevel: &accesscontextmanagerpb.AccessLevel{Name: corpLevel}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"basic"}}})
	wantCode(t, err, codes.InvalidArgument)
	_, err = c.UpdateAccessLevel(ctxT(t), &accesscontextmanagerpb.UpdateAccessLevelRequest{
		AccessLevel: ipLevel(corpLevel, "x", "192.0.2.1/24"), UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"basic"}}})
	wantCode(t, err, codes.InvalidArgument)
}

// A level carrying both basic and custom can only be written in JSON; Google's REST surface
// refuses it.
func TestACM_RESTRefusesALevelThatIsBothBasicAndCustom(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{Seed: acmSeed()})
	body := `{"name":"` + orgPolicy + `/accessLevels/both","title":"both","basic":{"conditions":[{"ipSubnetworks":["192.0.2.0/24"]}]},"custom":{"expr":{"expression":"true"}}}`
	resp, err := http.Post("http://"+f.HTTPEndpoint()+"/v1/"+orgPolicy+"/accessLevels", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	if len(f.AccessLevels(orgPolicy)) != 1 {
		t.Errorf("the level was stored: %v", f.AccessLevels(orgPolicy))
	}
}
