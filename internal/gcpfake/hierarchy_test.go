package gcpfake_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/apiv1/iampb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/runguard/runguard/internal/gcpfake"
)

const (
	acmeOrg     = "organizations/999999999999"
	teamFolder  = "folders/100"
	appsFolder  = "folders/200"
	accessor    = "roles/iap.httpsResourceAccessor"
	alphaPolicy = "projects/proj-alpha"
)

var alphaIAPWeb = fmt.Sprintf("projects/%d/iap_web", alphaNumber)

// hierarchySeed is identitySeed with proj-alpha in folder apps, in folder team, in the acme
// organization, where runguard may read every policy and set the organization's.
func hierarchySeed() gcpfake.Seed {
	seed := identitySeed()
	seed.Organizations = []gcpfake.Organization{{ID: "999999999999", DisplayName: "acme.com",
		Grants: map[string][]string{runguardMember: {"roles/iam.securityReviewer", "roles/browser", "roles/resourcemanager.organizationAdmin", "roles/iap.admin"}}}}
	seed.Folders = []gcpfake.Folder{{ID: "100", Parent: acmeOrg, DisplayName: "team"}, {ID: "200", Parent: teamFolder, DisplayName: "apps"}}
	seed.Projects[0].Parent = appsFolder
	seed.CustomRoles = map[string][]string{acmeOrg + "/roles/webUser": {"iap.webServiceVersions.accessViaIAP", "run.services.get"}}
	return seed
}

// hierarchyClients are Google's clients for what is above a project, over tr, calling with ts's
// tokens (nil: as the default caller).
type hierarchyClients struct {
	*fake
	folders *resourcemanager.FoldersClient
	orgs    *resourcemanager.OrganizationsClient
	iam     *admin.IamClient // gRPC only: the IAM Admin API has no Go REST client
}

func connectHierarchy(t *testing.T, s *gcpfake.Server, tr transport, ts oauth2.TokenSource) *hierarchyClients {
	t.Helper()
	grpcOpts := []option.ClientOption{option.WithEndpoint(s.Endpoint()), option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
	restOpts := []option.ClientOption{option.WithEndpoint("http://" + s.HTTPEndpoint())}
	if ts == nil {
		grpcOpts, restOpts = append(grpcOpts, option.WithoutAuthentication()), append(restOpts, option.WithoutAuthentication())
	} else {
		grpcOpts, restOpts = append(grpcOpts, option.WithTokenSource(ts)), append(restOpts, option.WithTokenSource(ts))
	}
	ctx := context.Background()
	h := &hierarchyClients{}
	var err error
	if tr == overREST {
		h.fake = connect(t, s, tr, restOpts)
		h.folders, err = resourcemanager.NewFoldersRESTClient(ctx, restOpts...)
		if err == nil {
			h.orgs, err = resourcemanager.NewOrganizationsRESTClient(ctx, restOpts...)
		}
	} else {
		h.fake = connect(t, s, tr, grpcOpts)
		h.folders, err = resourcemanager.NewFoldersClient(ctx, grpcOpts...)
		if err == nil {
			h.orgs, err = resourcemanager.NewOrganizationsClient(ctx, grpcOpts...)
		}
	}
	if err == nil {
		h.iam, err = admin.NewIamClient(ctx, grpcOpts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.folders.Close(); h.orgs.Close(); h.iam.Close() })
	return h
}

// tokenOf is a bearer token for a seeded service account, without the exchange.
func tokenOf(t *testing.T, s *gcpfake.Server, sa string) oauth2.TokenSource {
	t.Helper()
	tok, _, err := s.MintAccessToken(sa, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})
}

func TestHierarchy_ProjectFoldersAndOrganizationNameTheirParents(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			s := startIdentityFake(t, hierarchySeed())
			h := connectHierarchy(t, s, tr, nil)
			ctx := ctxT(t)
			p, err := h.rm.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + alpha})
			if err != nil || p.GetParent() != appsFolder {
				t.Fatalf("GetProject = %v, %v; want parent %s", p, err, appsFolder)
			}
			for name, parent := range map[string]string{appsFolder: teamFolder, teamFolder: acmeOrg} {
				f, err := h.folders.GetFolder(ctx, &resourcemanagerpb.GetFolderRequest{Name: name})
				if err != nil || f.GetParent() != parent || f.GetState() != resourcemanagerpb.Folder_ACTIVE {
					t.Errorf("GetFolder(%s) = %v, %v; want parent %s", name, f, err, parent)
				}
			}
			o, err := h.orgs.GetOrganization(ctx, &resourcemanagerpb.GetOrganizationRequest{Name: acmeOrg})
			if err != nil || o.GetDisplayName() != "acme.com" {
				t.Errorf("GetOrganization = %v, %v", o, err)
			}
			if got, _ := s.Ancestors(alpha); !slices.Equal(got, []string{appsFolder, teamFolder, acmeOrg}) {
				t.Errorf("Ancestors = %v", got)
			}
		})
	}
}

// The seed's grants are the project's allow policy; a binding added through SetIamPolicy grants
// from the next call on, and taking it out takes the grant away.
func TestProjectPolicy_IsTheGrantsTheFakeAuthorizesBy(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			s := startIdentityFake(t, hierarchySeed())
			h := connectHierarchy(t, s, tr, nil)
			ctx := ctxT(t)
			p, err := h.rm.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: alphaPolicy, Options: v3()})
			if err != nil || !bindingHas(p, "roles/run.admin", "serviceAccount:"+tenantA) || !bindingHas(p, "roles/iap.admin", "serviceAccount:"+tenantA) {
				t.Fatalf("GetIamPolicy = %v, %v; want the seed's grants", p, err)
			}
			asB := connectHierarchy(t, s, tr, tokenOf(t, s, tenantB))
			get := func() error {
				_, err := asB.run.GetService(ctx, &runpb.GetServiceRequest{Name: helloName})
				return err
			}
			if code := codeOf(get()); code != codes.PermissionDenied {
				t.Fatalf("tenant B reads proj-alpha before any grant: %v", code)
			}
			p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/run.viewer", Members: []string{"serviceAccount:" + tenantB}})
			if p, err = h.rm.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + fmt.Sprint(alphaNumber), Policy: p}); err != nil {
				t.Fatal(err)
			}
			if err := get(); err != nil {
				t.Fatalf("tenant B after SetIamPolicy bound it roles/run.viewer: %v", err)
			}
			if !slices.Contains(s.Access().Grants[alpha]["serviceAccount:"+tenantB], "roles/run.viewer") {
				t.Errorf("Access().Grants = %v, want the binding", s.Access().Grants[alpha])
			}
			p.Bindings = slices.DeleteFunc(p.Bindings, func(b *iampb.Binding) bool { return b.GetRole() == "roles/run.viewer" })
			if _, err := h.rm.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: alphaPolicy, Policy: p}); err != nil {
				t.Fatal(err)
			}
			if code := codeOf(get()); code != codes.PermissionDenied {
				t.Errorf("tenant B after the binding was removed: %v", code)
			}
		})
	}
}

func bindingHas(p *iampb.Policy, role, member string) bool {
	for _, b := range p.GetBindings() {
		if b.GetRole() == role && b.GetCondition() == nil && slices.Contains(b.GetMembers(), member) {
			return true
		}
	}
	return false
}

// Grants on a folder or the organization reach the projects below, as IAM's inheritance does;
// the grant by hand shows in the folder's policy.
func TestHierarchy_GrantsAboveAProjectReachIt(t *testing.T) {
	s := startIdentityFake(t, hierarchySeed())
	h := connectHierarchy(t, s, overGRPC, tokenOf(t, s, tenantB))
	ctx := ctxT(t)
	if _, err := h.run.GetService(ctx, &runpb.GetServiceRequest{Name: helloName}); codeOf(err) != codes.PermissionDenied {
		t.Fatalf("before the grant: %v", err)
	}
	if err := s.Grant(teamFolder, "serviceAccount:"+tenantB, "run.services.get"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.run.GetService(ctx, &runpb.GetServiceRequest{Name: helloName}); err != nil {
		t.Fatalf("a grant on the project's grandparent folder: %v", err)
	}
	p, _ := s.Policy(teamFolder)
	if !bindingHas(p, acmeOrg+"/roles/run.services.get", "serviceAccount:"+tenantB) {
		t.Errorf("folder policy %v: want the permission as its organization's implied role", p)
	}
	outside := "projects/proj-noagent/locations/europe-west1/services/svc"
	if _, err := h.run.GetService(ctx, &runpb.GetServiceRequest{Name: outside}); codeOf(err) != codes.PermissionDenied {
		t.Errorf("proj-noagent is outside the folder; got %v", err)
	}
}

// Each read above a project is denied, naming the permission it needs, to a caller without it.
func TestHierarchy_DeniedReadsNameTheirPermission(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			s := startIdentityFake(t, hierarchySeed())
			h := connectHierarchy(t, s, tr, tokenOf(t, s, tenantB))
			ctx := ctxT(t)
			calls := map[string]func() error{
				"resourcemanager.projects.getIamPolicy": func() error {
					_, err := h.rm.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: alphaPolicy})
					return err
				},
				"resourcemanager.folders.get": func() error {
					_, err := h.folders.GetFolder(ctx, &resourcemanagerpb.GetFolderRequest{Name: appsFolder})
					return err
				},
				"resourcemanager.folders.getIamPolicy": func() error {
					_, err := h.folders.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: appsFolder})
					return err
				},
				"resourcemanager.organizations.getIamPolicy": func() error {
					_, err := h.orgs.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: acmeOrg})
					return err
				},
				"resourcemanager.organizations.setIamPolicy": func() error {
					_, err := h.orgs.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: acmeOrg, Policy: &iampb.Policy{}})
					return err
				},
				"iap.web.getIamPolicy": func() error {
					_, err := h.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: alphaIAPWeb})
					return err
				},
			}
			for permission, call := range calls {
				st := wantCode(t, call(), codes.PermissionDenied)
				if info := errorInfo(st); info.GetMetadata()["permission"] != permission || info.GetReason() != "IAM_PERMISSION_DENIED" {
					t.Errorf("%s: denied with %v", permission, info)
				}
			}
		})
	}
}

// The project's iap_web and the region-wide resource are IAP resources with policies of their
// own, each needing its level's permission.
func TestIAPLevels_ProjectAndRegionPoliciesAreReadAndWritten(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			s := startIdentityFake(t, hierarchySeed())
			h := connectHierarchy(t, s, tr, nil)
			ctx := ctxT(t)
			for _, resource := range []string{alphaIAPWeb, alphaIAPWeb + "/cloud_run-" + region} {
				p, err := h.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: resource,
					Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: accessor, Members: []string{"user:alice@example.com"}}}}})
				if err != nil {
					t.Fatalf("SetIamPolicy(%s): %v", resource, err)
				}
				got, err := h.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: resource, Options: v3()})
				if err != nil || !bindingHas(got, accessor, "user:alice@example.com") || string(got.GetEtag()) != string(p.GetEtag()) {
					t.Errorf("GetIamPolicy(%s) = %v, %v", resource, got, err)
				}
			}
			if c := lastCall(t, s, "iap.SetIamPolicy"); c.Resource != alphaIAPWeb+"/cloud_run-"+region {
				t.Errorf("last call %+v", c)
			}
		})
	}
}

// Resource Manager refuses allUsers and allAuthenticatedUsers on a project, as its SetIamPolicy
// documents.
func TestProjectPolicy_RefusesPublicMembers(t *testing.T) {
	s := startIdentityFake(t, hierarchySeed())
	h := connectHierarchy(t, s, overGRPC, nil)
	_, err := h.rm.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: alphaPolicy,
		Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}}})
	wantCode(t, err, codes.InvalidArgument)
}

// A folder or organization policy with a condition keeps it (version 3), as every allow policy.
func TestHierarchy_ConditionalBindingsNeedVersion3(t *testing.T) {
	s := startIdentityFake(t, hierarchySeed())
	h := connectHierarchy(t, s, overGRPC, nil)
	ctx := ctxT(t)
	cond := &iampb.Binding{Role: accessor, Members: []string{"group:team@example.com"},
		Condition: cond("until 2030", `request.time < timestamp("2030-01-01T00:00:00Z")`)}
	if _, err := h.folders.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: appsFolder, Policy: &iampb.Policy{Bindings: []*iampb.Binding{cond}}}); codeOf(err) != codes.InvalidArgument {
		t.Fatalf("a condition without version 3: %v", err)
	}
	if _, err := h.folders.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: appsFolder, Policy: &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{cond}}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.folders.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: appsFolder, Options: v3()})
	if err != nil || got.GetVersion() != 3 || got.GetBindings()[0].GetCondition().GetTitle() != cond.Condition.GetTitle() {
		t.Errorf("GetIamPolicy = %v, %v", got, err)
	}
}
