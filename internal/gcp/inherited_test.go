package gcp_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"

	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
)

const (
	acmeOrg      = "organizations/999999999999"
	teamFolder   = "folders/100"
	appsFolder   = "folders/200"
	accessor     = "roles/iap.httpsResourceAccessor"
	accessViaIAP = "iap.webServiceVersions.accessViaIAP"
	runguardSA   = "serviceAccount:runguard@ops-project.iam.gserviceaccount.com"
	tenantSA     = "tenant@ops-project.iam.gserviceaccount.com"
	hierProject  = "acme-apps"
	hierNumber   = int64(700000000001)
)

// startHierarchy starts a fake where acme-apps sits in folder apps, in folder team, in the acme
// organization. runguard may read every policy there (roles/iam.securityReviewer and
// roles/browser on the organization) and impersonate the tenant, which holds only
// roles/iam.securityReviewer on the project. Each level grants someone IAP access.
func startHierarchy(t *testing.T) (*gcp.Clients, *gcpfake.Server) {
	t.Helper()
	seed := gcpfake.Seed{
		DefaultCaller:   runguardSA,
		ServiceAccounts: []gcpfake.ServiceAccount{{Email: tenantSA, TokenCreators: []string{runguardSA}}},
		CustomRoles:     map[string][]string{acmeOrg + "/roles/webUser": {accessViaIAP}},
		Organizations: []gcpfake.Organization{{ID: "999999999999", Grants: map[string][]string{
			runguardSA:           {"roles/iam.securityReviewer", "roles/browser"},
			"group:all@acme.com": {acmeOrg + "/roles/webUser"},
		}}},
		Folders: []gcpfake.Folder{{ID: "100", Parent: acmeOrg, Grants: map[string][]string{"user:lead@acme.com": {accessor}}},
			{ID: "200", Parent: teamFolder}},
		Projects: []gcpfake.Project{
			{ID: hierProject, Number: hierNumber, Parent: appsFolder, Grants: map[string][]string{
				"serviceAccount:" + tenantSA: {"roles/iam.securityReviewer", "roles/run.viewer"},
				"user:ops@acme.com":          {accessor, "roles/viewer"},
			}},
			{ID: "loose-project", Number: 700000000002, Grants: map[string][]string{runguardSA: {"roles/browser"}}},
		},
		Services: []gcpfake.Service{{Project: hierProject, Location: "us-central1", Name: "web"}},
	}
	fake, err := gcpfake.Start(gcpfake.Options{Seed: seed, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	ep := fake.Endpoint()
	c, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: ep, IAPEndpoint: ep, ResourceManagerEndpoint: ep, IAMEndpoint: ep,
		IAMCredentialsEndpoint: fake.HTTPEndpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, fake
}

func grants(p *iampb.Policy, role, member string) bool {
	for _, b := range p.GetBindings() {
		if b.GetRole() == role && slices.Contains(b.GetMembers(), member) {
			return true
		}
	}
	return false
}

// Every level above the service is read: the project's policy, IAP's project-wide and
// region-wide policies, the folders and the organization found from the parents, and the roles.
func TestHierarchy_ReadsEveryPolicyAboveAService(t *testing.T) {
	c, fake := startHierarchy(t)
	ctx := context.Background()
	svc := gcp.Service{Project: hierProject, Number: hierNumber, Location: "us-central1", Name: "web"}
	if err := fake.SetPolicy(svc.IAPWeb(), &iampb.Policy{Bindings: []*iampb.Binding{{Role: accessor, Members: []string{"user:web@acme.com"}}}}); err != nil {
		t.Fatal(err)
	}
	until := &expr.Expr{Title: "until 2030", Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`}
	if err := fake.SetPolicy(svc.IAPRegion(), &iampb.Policy{Bindings: []*iampb.Binding{{Role: accessor, Members: []string{"user:region@acme.com"}, Condition: until}}}); err != nil {
		t.Fatal(err)
	}
	h := c.Hierarchy()
	project, err := h.ProjectPolicy(ctx, hierNumber)
	if err != nil || !grants(project, accessor, "user:ops@acme.com") {
		t.Fatalf("ProjectPolicy = %v, %v", project, err)
	}
	web, err := h.IAPPolicy(ctx, svc.IAPWeb())
	if err != nil || !grants(web, accessor, "user:web@acme.com") {
		t.Errorf("IAPPolicy(iap_web) = %v, %v", web, err)
	}
	regional, err := h.IAPPolicy(ctx, svc.IAPRegion())
	if err != nil || regional.GetVersion() != 3 || regional.GetBindings()[0].GetCondition().GetTitle() != "until 2030" {
		t.Errorf("IAPPolicy(region) = %v, %v; want the condition, as version 3", regional, err)
	}
	ancestors, err := h.Ancestors(ctx, hierNumber)
	if err != nil || !slices.Equal(ancestors, []string{appsFolder, teamFolder, acmeOrg}) {
		t.Fatalf("Ancestors = %v, %v", ancestors, err)
	}
	if team, err := h.FolderPolicy(ctx, teamFolder); err != nil || !grants(team, accessor, "user:lead@acme.com") {
		t.Errorf("FolderPolicy = %v, %v", team, err)
	}
	org, err := h.OrganizationPolicy(ctx, acmeOrg)
	if err != nil || !grants(org, acmeOrg+"/roles/webUser", "group:all@acme.com") {
		t.Errorf("OrganizationPolicy = %v, %v", org, err)
	}
	for role, want := range map[string]bool{accessor: true, acmeOrg + "/roles/webUser": true, "roles/viewer": false, "roles/owner": false} {
		perms, err := h.Role(ctx, role)
		if err != nil || slices.Contains(perms, accessViaIAP) != want {
			t.Errorf("Role(%s) = %v, %v; accessViaIAP want %v", role, perms, err, want)
		}
	}
	for method, want := range map[string]int{"resourcemanager.GetProject": 1, "folders.GetFolder": 2, "iam.GetRole": 4} {
		if got := fake.CallCounts()[method]; got != want {
			t.Errorf("%s called %d times, want %d", method, got, want)
		}
	}
}

// A project outside any organization has nothing above it.
func TestHierarchy_AProjectWithoutParentHasNoAncestors(t *testing.T) {
	c, _ := startHierarchy(t)
	if got, err := c.Hierarchy().Ancestors(context.Background(), 700000000002); err != nil || len(got) != 0 {
		t.Errorf("Ancestors = %v, %v", got, err)
	}
}

// Read as a namespace's identity, what it may not read is PermissionDenied naming the
// permission, and what is not there NotFound.
func TestHierarchy_ActingAsANamespaceNamesWhatItLacks(t *testing.T) {
	c, fake := startHierarchy(t)
	ctx := context.Background()
	tenant, err := c.ActingAs(ctx, tenantSA)
	if err != nil {
		t.Fatal(err)
	}
	h := tenant.Hierarchy()
	if _, err := h.ProjectPolicy(ctx, hierNumber); err != nil {
		t.Fatalf("the tenant reads its project's policy: %v", err)
	}
	if c := lastCaller(fake, "resourcemanager.GetIamPolicy"); c != "serviceAccount:"+tenantSA {
		t.Errorf("GetIamPolicy made by %q, want the tenant", c)
	}
	for name, read := range map[string]func() error{
		"resourcemanager.folders.getIamPolicy":       func() error { _, err := h.FolderPolicy(ctx, teamFolder); return err },
		"resourcemanager.organizations.getIamPolicy": func() error { _, err := h.OrganizationPolicy(ctx, acmeOrg); return err },
		"resourcemanager.folders.get":                func() error { _, err := h.Ancestors(ctx, hierNumber); return err },
		"iam.roles.get":                              func() error { _, err := h.Role(ctx, acmeOrg+"/roles/webUser"); return err },
	} {
		err := read()
		if gcp.Classify(err) != gcp.PermissionDenied || gcp.Permission(err) != name {
			t.Errorf("%s: %v (class %v, permission %q)", name, err, gcp.Classify(err), gcp.Permission(err))
		}
	}
	_, err = c.Hierarchy().Role(ctx, "roles/no.such")
	var ce *gcp.CallError
	if gcp.Classify(err) != gcp.NotFound || !errors.As(err, &ce) || ce.Resource != "roles/no.such" {
		t.Errorf("a missing role: %v (class %v)", err, gcp.Classify(err))
	}
}

func lastCaller(fake *gcpfake.Server, method string) string {
	caller := ""
	for _, c := range fake.Calls() {
		if c.Method == method {
			caller = c.Caller
		}
	}
	return caller
}

// Without an IAM endpoint nothing is dialled for roles until one is read: a configuration that
// never reads the hierarchy needs none.
func TestNew_TheRolesClientIsDialledOnlyWhenUsed(t *testing.T) {
	c, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: "127.0.0.1:1", IAPEndpoint: "127.0.0.1:1", ResourceManagerEndpoint: "127.0.0.1:1"})
	if err != nil {
		t.Fatalf("New without an IAM endpoint: %v", err)
	}
	c.Close()
	if _, err := gcp.New(context.Background(), gcp.Config{IAMEndpoint: "no-port"}); err == nil {
		t.Error("a malformed IAM endpoint was accepted")
	}
}
