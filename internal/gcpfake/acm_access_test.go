package gcpfake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	accesscontextmanager "cloud.google.com/go/accesscontextmanager/apiv1"
	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

const acmActivityLog = acmOrg + "/logs/cloudaudit.googleapis.com%2Factivity"

// IAM on access levels is checked on the access policy, and a grant on the organization reaches
// every policy of it: runguard reads with a grant on the policy; tenant A writes with one on the
// organization; tenant B holds nothing there.
func TestACM_PermissionsAreCheckedOnThePolicyAndInheritedFromTheOrganization(t *testing.T) {
	seed := identitySeed()
	seed.AccessPolicies = acmSeed().AccessPolicies
	seed.AccessPolicies[0].Grants = map[string][]string{runguardMember: {"roles/accesscontextmanager.policyReader"}}
	seed.Organizations = []gcpfake.Organization{{ID: "999999999999", Grants: map[string][]string{"serviceAccount:" + tenantA: {"roles/accesscontextmanager.policyEditor"}}}}
	s := startIdentityFake(t, seed)
	asRunguard := acmClient(t, s, overGRPC)
	ctx := ctxT(t)
	if _, err := asRunguard.GetAccessLevel(ctx, &accesscontextmanagerpb.GetAccessLevelRequest{Name: corpLevel}); err != nil {
		t.Fatalf("a reader of the policy reads its level: %v", err)
	}
	office := ipLevel(orgPolicy+"/accessLevels/office", "Office", "198.51.100.0/24")
	_, err := asRunguard.CreateAccessLevel(ctx, &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: orgPolicy, AccessLevel: office})
	st := wantCode(t, err, codes.PermissionDenied)
	if ei := errorInfo(st); ei.GetMetadata()["permission"] != "accesscontextmanager.accessLevels.create" {
		t.Errorf("denial's ErrorInfo = %v", ei)
	}
	for _, tenant := range []string{tenantA, tenantB} {
		token, _, err := s.MintAccessToken(tenant, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c := acmClientAs(t, s, token)
		op, err := c.CreateAccessLevel(ctx, &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: scopedPolicy,
			AccessLevel: ipLevel(scopedPolicy+"/accessLevels/office", "Office", "198.51.100.0/24")})
		if err == nil {
			_, err = op.Wait(ctx)
		}
		if tenant == tenantA && err != nil {
			t.Errorf("an editor of the organization creates a level in each of its policies: %v", err)
		}
		if tenant == tenantB {
			wantCode(t, err, codes.PermissionDenied)
		}
	}
	if err := s.Grant(orgPolicy, runguardMember, "accesscontextmanager.accessLevels.create"); err != nil {
		t.Fatal(err)
	}
	if _, err := asRunguard.CreateAccessLevel(ctx, &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: orgPolicy, AccessLevel: office}); err != nil {
		t.Errorf("after a grant on the policy: %v", err)
	}
}

// acmClientAs is the gRPC client calling with a bearer token.
func acmClientAs(t *testing.T, s *gcpfake.Server, token string) *accesscontextmanager.Client {
	t.Helper()
	c, err := accesscontextmanager.NewClient(ctxT(t), option.WithEndpoint(s.Endpoint()), option.WithTokenSource(static(token)),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Every change of a level, over the API or out of band, leaves one Admin Activity entry in the
// organization's log, naming the level.
func TestACM_EveryChangeOfALevelIsAudited(t *testing.T) {
	for _, tc := range []struct {
		name, wantMethod string
		change           func(ctx context.Context, t *testing.T, f *auditFake, c *accesscontextmanager.Client) error
	}{
		{"create", "CreateAccessLevel", func(ctx context.Context, t *testing.T, _ *auditFake, c *accesscontextmanager.Client) error {
			_, err := c.CreateAccessLevel(ctx, &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: orgPolicy, AccessLevel: ipLevel(corpLevel+"2", "Two", "192.0.2.0/25")})
			return err
		}},
		{"update", "UpdateAccessLevel", func(ctx context.Context, t *testing.T, _ *auditFake, c *accesscontextmanager.Client) error {
			_, err := c.UpdateAccessLevel(ctx, &accesscontextmanagerpb.UpdateAccessLevelRequest{AccessLevel: &accesscontextmanagerpb.AccessLevel{Name: corpLevel, Title: "New"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return err
		}},
		{"delete", "DeleteAccessLevel", func(ctx context.Context, t *testing.T, _ *auditFake, c *accesscontextmanager.Client) error {
			_, err := c.DeleteAccessLevel(ctx, &accesscontextmanagerpb.DeleteAccessLevelRequest{Name: corpLevel})
			return err
		}},
		{"created in the console", "CreateAccessLevel", func(_ context.Context, t *testing.T, f *auditFake, _ *accesscontextmanager.Client) error {
			return f.AddAccessLevel(ipLevel(corpLevel+"2", "Two", "192.0.2.0/25"))
		}},
		{"widened in the console", "UpdateAccessLevel", func(_ context.Context, t *testing.T, f *auditFake, _ *accesscontextmanager.Client) error {
			return f.UpdateAccessLevelOutOfBand(corpLevel, func(l *accesscontextmanagerpb.AccessLevel) {
				l.GetBasic().GetConditions()[0].IpSubnetworks = []string{"0.0.0.0/0"}
			})
		}},
		{"deleted in the console", "DeleteAccessLevel", func(_ context.Context, t *testing.T, f *auditFake, _ *accesscontextmanager.Client) error {
			return f.DeleteAccessLevel(corpLevel)
		}},
		{"replaced through the admin endpoint", "UpdateAccessLevel", func(_ context.Context, t *testing.T, f *auditFake, _ *accesscontextmanager.Client) error {
			adminClient(t, f.Server)("PUT", adminapi.AccessLevelPath(corpLevel), `{"title":"Corp","basic":{"conditions":[{"ipSubnetworks":["0.0.0.0/0"]}]}}`, http.StatusOK)
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startAuditFakeSeeded(t, overGRPC, gcpfake.AuditOptions{}, acmSeed())
			if err := tc.change(ctxT(t), t, f, acmClient(t, f.Server, overGRPC)); err != nil {
				t.Fatal(err)
			}
			got := f.published(t, 1)
			if len(got) != 1 {
				t.Fatalf("published %d entries, want 1", len(got))
			}
			e, al := got[0], got[0].auditLog
			wantLevel := corpLevel
			if tc.name == "create" || tc.name == "created in the console" {
				wantLevel = corpLevel + "2"
			}
			if al.GetServiceName() != "accesscontextmanager.googleapis.com" || al.GetMethodName() != "google.identity.accesscontextmanager.v1.AccessContextManager."+tc.wantMethod || al.GetResourceName() != wantLevel {
				t.Errorf("serviceName, methodName, resourceName = %q, %q, %q", al.GetServiceName(), al.GetMethodName(), al.GetResourceName())
			}
			if e.LogName != acmActivityLog || e.Resource.Type != "audited_resource" || al.GetAuthorizationInfo()[0].GetPermission() != "accesscontextmanager.accessLevels."+map[string]string{"CreateAccessLevel": "create", "UpdateAccessLevel": "update", "DeleteAccessLevel": "delete"}[tc.wantMethod] {
				t.Errorf("logName %q, resource %v, authorization %v", e.LogName, e.Resource, al.GetAuthorizationInfo())
			}
		})
	}
}

// Tests and the demo read and change levels out of band through the admin endpoint, and grant
// roles on policies there.
func TestAdmin_AccessLevelsOutOfBand(t *testing.T) {
	seed := acmSeed()
	seed.DefaultCaller = runguardMember
	f := startFake(t, gcpfake.Options{Seed: seed})
	do := adminClient(t, f.Server)
	do("POST", adminapi.AccessLevelsPath, `{"name":"`+orgPolicy+`/accessLevels/foreign","title":"Not runguard's","basic":{"conditions":[{"regions":["FR"]}]}}`, http.StatusCreated)
	do("POST", adminapi.AccessLevelsPath, `{"name":"`+orgPolicy+`/accessLevels/foreign","title":"Again","basic":{"conditions":[{"regions":["FR"]}]}}`, http.StatusConflict)
	do("POST", adminapi.AccessLevelsPath, `{"name":"`+orgPolicy+`/accessLevels/bad","title":"Bad","basic":{"conditions":[{"ipSubnetworks":["10.0.0.1/8"]}]}}`, http.StatusBadRequest)
	var l accesscontextmanagerpb.AccessLevel
	if err := protojson.Unmarshal(do("GET", adminapi.AccessLevelPath(orgPolicy+"/accessLevels/foreign"), "", http.StatusOK), &l); err != nil || l.GetBasic().GetConditions()[0].GetRegions()[0] != "FR" {
		t.Errorf("GET level = %v, %v", &l, err)
	}
	var st adminapi.State
	if err := json.Unmarshal(do("GET", adminapi.StatePath, "", http.StatusOK), &st); err != nil || len(st.AccessPolicies) != 2 || len(st.AccessPolicies[0].AccessLevels) != 2 {
		t.Fatalf("state's access policies = %+v, %v", st.AccessPolicies, err)
	}
	do("DELETE", adminapi.AccessLevelPath(corpLevel), "", http.StatusNoContent)
	do("DELETE", adminapi.AccessLevelPath(corpLevel), "", http.StatusNotFound)
	do("PUT", adminapi.GrantPath(orgPolicy, runguardMember, "roles/accesscontextmanager.policyReader"), "", http.StatusNoContent)
	do("PUT", adminapi.GrantPath(acmOrg, runguardMember, "roles/accesscontextmanager.policyEditor"), "", http.StatusNoContent)
	var access adminapi.Access
	if err := json.Unmarshal(do("GET", adminapi.AccessPath, "", http.StatusOK), &access); err != nil || len(access.Grants[orgPolicy][runguardMember]) != 1 || len(access.Grants[acmOrg][runguardMember]) != 1 {
		t.Errorf("grants = %v, %v", access.Grants, err)
	}
	do("PUT", "/grants/"+url.PathEscape("accessPolicies/404")+"/"+url.PathEscape(runguardMember)+"/roles/accesscontextmanager.policyReader", "", http.StatusNotFound)
}

// Access Context Manager's quota counts per organization: a write above it is refused naming
// the organization, whichever of its policies it touches.
func TestACM_QuotaIsPerOrganization(t *testing.T) {
	_, c := startACM(t, overGRPC, gcpfake.Options{Quotas: gcpfake.Quotas{ACMWritesPerMinute: 1}})
	ctx := ctxT(t)
	if _, err := c.DeleteAccessLevel(ctx, &accesscontextmanagerpb.DeleteAccessLevelRequest{Name: corpLevel}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateAccessLevel(ctx, &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: scopedPolicy, AccessLevel: ipLevel(scopedPolicy+"/accessLevels/x", "x", "192.0.2.0/24")})
	st := wantCode(t, err, codes.ResourceExhausted)
	if ei := errorInfo(st); ei.GetMetadata()["consumer"] != acmOrg || retryInfo(st) == nil {
		t.Errorf("quota error details %v", st.Details())
	}
}
