package gcpfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

const accessViaIAP = "iap.webServiceVersions.accessViaIAP"

// roles.get answers a role's permissions: of the predefined roles only the IAP-secured Web App
// User lets a member through IAP; custom roles are the seed's, each read with iam.roles.get
// where it is defined.
func TestGetRole_AnswersWhichRolesCarryAccessViaIAP(t *testing.T) {
	s := startIdentityFake(t, hierarchySeed())
	h := connectHierarchy(t, s, overGRPC, nil)
	ctx := ctxT(t)
	for role, want := range map[string]bool{accessor: true, "roles/owner": false, "roles/editor": false, "roles/viewer": false,
		acmeOrg + "/roles/webUser": true, "projects/proj-alpha/roles/run.services.get": false} {
		r, err := h.iam.GetRole(ctx, &adminpb.GetRoleRequest{Name: role})
		if err != nil || r.GetName() != role || slices.Contains(r.GetIncludedPermissions(), accessViaIAP) != want {
			t.Errorf("GetRole(%s) = %v, %v; accessViaIAP want %v", role, r, err, want)
		}
	}
	_, err := h.iam.GetRole(ctx, &adminpb.GetRoleRequest{Name: "roles/no.such"})
	wantCode(t, err, codes.NotFound)
	_, err = h.iam.GetRole(ctx, &adminpb.GetRoleRequest{Name: "iap.httpsResourceAccessor"})
	wantCode(t, err, codes.InvalidArgument)

	asB := connectHierarchy(t, s, overGRPC, tokenOf(t, s, tenantB))
	if _, err := asB.iam.GetRole(ctx, &adminpb.GetRoleRequest{Name: accessor}); err != nil {
		t.Errorf("a predefined role is anyone's to read: %v", err)
	}
	_, err = asB.iam.GetRole(ctx, &adminpb.GetRoleRequest{Name: acmeOrg + "/roles/webUser"})
	if info := errorInfo(wantCode(t, err, codes.PermissionDenied)); info.GetMetadata()["permission"] != "iam.roles.get" {
		t.Errorf("denied with %v, want iam.roles.get named", info)
	}
}

// The same over REST, as gcloud iam roles describe asks: GET /v1/roles/{role}.
func TestGetRole_OverREST(t *testing.T) {
	s := startIdentityFake(t, hierarchySeed())
	resp, err := http.Get("http://" + s.HTTPEndpoint() + "/v1/roles/iap.httpsResourceAccessor?alt=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var role struct {
		Name                string   `json:"name"`
		IncludedPermissions []string `json:"includedPermissions"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &role) != nil || !slices.Equal(role.IncludedPermissions, []string{accessViaIAP}) {
		t.Errorf("HTTP %d %s", resp.StatusCode, raw)
	}
}

// Every change of a policy above a service leaves its Admin Activity entry, in the log of the
// project, folder or organization it changed; a grant by hand logs gcloud's SetIamPolicy.
func TestAudit_PolicyChangesAboveAServiceAreLogged(t *testing.T) {
	seed := hierarchySeed()
	seed.Organizations[0].Grants[runguardMember] = append(seed.Organizations[0].Grants[runguardMember], "roles/accesscontextmanager.policyAdmin")
	seed.AccessPolicies = []gcpfake.AccessPolicy{{Name: "accessPolicies/1", Parent: acmeOrg, Title: "acme"}}
	f := startAuditFakeSeeded(t, overGRPC, gcpfake.AuditOptions{}, seed)
	h := connectHierarchy(t, f.Server, overGRPC, nil)
	ctx := ctxT(t)
	grant := &iampb.Policy{Bindings: []*iampb.Binding{{Role: accessor, Members: []string{"user:alice@example.com"}}}}
	set := []func() error{
		func() error {
			_, err := h.rm.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: alphaPolicy, Policy: grant})
			return err
		},
		func() error {
			_, err := h.folders.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: appsFolder, Policy: grant})
			return err
		},
		func() error {
			_, err := h.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: alphaIAPWeb, Policy: grant})
			return err
		},
		func() error {
			_, err := acmClient(t, f.Server, overGRPC).SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "accessPolicies/1", Policy: grant})
			return err
		},
		// Last: it replaces the organization's policy, and with it runguard's grants there.
		func() error {
			_, err := h.orgs.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: acmeOrg, Policy: grant})
			return err
		},
		func() error { return f.Grant(teamFolder, "user:bob@example.com", accessor) },
	}
	for i, call := range set {
		if err := call(); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	want := [][4]string{ // methodName, resourceName, logName's parent, permission
		{"google.cloud.resourcemanager.v3.Projects.SetIamPolicy", alphaPolicy, "projects/proj-alpha", "resourcemanager.projects.setIamPolicy"},
		{"google.cloud.resourcemanager.v3.Folders.SetIamPolicy", appsFolder, appsFolder, "resourcemanager.folders.setIamPolicy"},
		{"google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy", alphaIAPWeb, "projects/proj-alpha", "iap.web.setIamPolicy"},
		{"google.identity.accesscontextmanager.v1.AccessContextManager.SetIamPolicy", "accessPolicies/1", acmeOrg, "accesscontextmanager.policies.setIamPolicy"},
		{"google.cloud.resourcemanager.v3.Organizations.SetIamPolicy", acmeOrg, acmeOrg, "resourcemanager.organizations.setIamPolicy"},
		{"SetIamPolicy", teamFolder, teamFolder, "resourcemanager.folders.setIamPolicy"},
	}
	got := f.published(t, int64(len(want)))
	if len(got) != len(want) {
		t.Fatalf("published %d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		e := got[i]
		authz := e.auditLog.GetAuthorizationInfo()
		if e.auditLog.GetMethodName() != w[0] || e.auditLog.GetResourceName() != w[1] || e.LogName != w[2]+"/logs/cloudaudit.googleapis.com%2Factivity" ||
			len(authz) != 1 || authz[0].GetPermission() != w[3] {
			t.Errorf("entry %d = %s %s in %s (%v), want %v", i, e.auditLog.GetMethodName(), e.auditLog.GetResourceName(), e.LogName, authz, w)
		}
	}
	if r := got[1].Resource; r.Type != "folder" || r.Labels["folder_id"] != "200" {
		t.Errorf("folder entry's resource = %+v", r)
	}
}

// The admin endpoint reads and writes any resource's policy, grants on folders, and lists the
// hierarchy with its grants.
func TestAdmin_PoliciesAndGrantsAboveAService(t *testing.T) {
	s := startIdentityFake(t, hierarchySeed())
	do := adminClient(t, s)
	do("PUT", adminapi.ResourcePolicyPathOf(appsFolder), `{"bindings":[{"role":"roles/iap.httpsResourceAccessor","members":["group:team@example.com"]}]}`, http.StatusOK)
	do("PUT", adminapi.GrantPath(teamFolder, "user:bob@example.com", accessor), "", http.StatusNoContent)
	do("PUT", adminapi.ResourcePolicyPathOf("folders/404"), `{}`, http.StatusNotFound)
	var p struct {
		Bindings []adminapi.Binding `json:"bindings"`
	}
	if err := json.Unmarshal(do("GET", adminapi.ResourcePolicyPathOf(alphaIAPWeb), "", http.StatusOK), &p); err != nil || len(p.Bindings) != 0 {
		t.Errorf("iap_web policy = %+v, %v", p, err)
	}
	if err := json.Unmarshal(do("GET", adminapi.ResourcePolicyPathOf(alphaPolicy), "", http.StatusOK), &p); err != nil || len(p.Bindings) != 2 {
		t.Errorf("project policy = %+v, %v; want the seed's two roles", p, err)
	}
	var st adminapi.State
	if err := json.Unmarshal(do("GET", adminapi.StatePath, "", http.StatusOK), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Folders) != 2 || st.Folders[0].ID != "100" || !slices.Contains(st.Folders[0].Grants["user:bob@example.com"], accessor) ||
		len(st.Organizations) != 1 || st.Organizations[0].DisplayName != "acme.com" || st.Projects[0].Parent != appsFolder {
		t.Errorf("state hierarchy = %+v %+v %+v", st.Folders, st.Organizations, st.Projects[0])
	}
	do("DELETE", adminapi.GrantsPath+"/"+url.PathEscape(teamFolder)+"/"+url.PathEscape("user:bob@example.com")+"/"+accessor, "", http.StatusNoContent)
	if got, _ := s.Policy(teamFolder); len(got.GetBindings()) != 0 {
		t.Errorf("folder policy after the revoke = %v", got)
	}
}

// An access policy's seeded grants are its allow policy, which ACM's GetIamPolicy answers.
func TestAccessPolicyIAM_SeededGrantsShow(t *testing.T) {
	seed := hierarchySeed()
	seed.AccessPolicies = []gcpfake.AccessPolicy{{Name: "accessPolicies/1", Parent: acmeOrg, Title: "acme",
		Grants: map[string][]string{"serviceAccount:" + tenantA: {"roles/accesscontextmanager.policyReader"}}}}
	s := startIdentityFake(t, seed)
	p, err := acmClient(t, s, overREST).GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: "accessPolicies/1"})
	if err != nil || !bindingHas(p, "roles/accesscontextmanager.policyReader", "serviceAccount:"+tenantA) {
		t.Errorf("GetIamPolicy = %v, %v", p, err)
	}
}
