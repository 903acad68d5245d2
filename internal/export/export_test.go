package export_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/type/expr"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/export"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/manifest"
)

var target = iapv1alpha1.ServiceRef{Project: "acme-prod", Location: "europe-west1", Name: "ops-console"}

func options() export.Options {
	return export.Options{Cluster: "demo", Mode: iapv1alpha1.ModeObserve}
}

func service(iapOn bool) *runpb.Service {
	return &runpb.Service{Name: "projects/acme-prod/locations/europe-west1/services/ops-console", IapEnabled: iapOn}
}

func TestBuild_PublicServiceWithIAPOffIsExportedAsIs(t *testing.T) {
	invoker := &iampb.Policy{Bindings: []*iampb.Binding{{Role: iampolicy.InvokerRole, Members: []string{"allUsers"}}}}
	m := export.Build(export.Observed{Target: target, Service: service(false), InvokerPolicy: invoker, AccessPolicy: &iampb.Policy{}}, options())
	spec := m.Object.Spec
	if spec.IAPEnabled() || spec.PublicAccess != iapv1alpha1.PublicAccessAllow || spec.Mode != iapv1alpha1.ModeObserve || spec.BindingPolicy != iapv1alpha1.BindingPolicyMerge {
		t.Errorf("spec = %+v, want IAP off, publicAccess Allow, Observe, Merge", spec)
	}
	if !mentions(m.Notes, "allUsers", "iap.runguard.dev/allow-public") {
		t.Errorf("notes %q do not say the service is public and which annotation the namespace needs", m.Notes)
	}
}

func TestBuild_InvokerCheckOffIsPublic(t *testing.T) {
	svc := service(true)
	svc.InvokerIamDisabled = true
	m := export.Build(export.Observed{Target: target, Service: svc, InvokerPolicy: &iampb.Policy{}, AccessPolicy: &iampb.Policy{}}, options())
	if m.Object.Spec.PublicAccess != iapv1alpha1.PublicAccessAllow || !mentions(m.Notes, "invoker_iam_disabled") {
		t.Errorf("publicAccess %s, notes %q: want Allow because invoker_iam_disabled is true", m.Object.Spec.PublicAccess, m.Notes)
	}
}

func TestBuild_UnownedGrantsStayOutOfTheSpecAndAreListedForExclusive(t *testing.T) {
	access := &iampb.Policy{Bindings: []*iampb.Binding{
		{Role: iampolicy.AccessorRole, Members: []string{"user:legacy-admin@acme.com"}},
		{Role: iampolicy.AccessorRole, Members: []string{"group:break-glass@acme.com"}, Condition: &expr.Expr{
			Title: "break-glass until year end", Expression: `request.time < timestamp("2027-01-01T00:00:00Z")`}},
		{Role: "roles/iap.admin", Members: []string{"user:boss@acme.com"}},
	}}
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: access}, options())
	if len(m.Object.Spec.AccessGroups) != 0 {
		t.Errorf("access groups %+v: unowned grants must not be declared (Merge would grant them again under runguard's marker)", m.Object.Spec.AccessGroups)
	}
	if !mentions(m.Notes, "Exclusive would remove them", "user:legacy-admin@acme.com", `group:break-glass@acme.com when "break-glass until year end"`) {
		t.Errorf("notes %q do not list what Exclusive would remove", m.Notes)
	}
	if mentions(m.Notes, "boss@acme.com") {
		t.Errorf("notes %q mention a grant of another role", m.Notes)
	}
	notAfter := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if len(m.Foreign) != 2 || m.Foreign[0].Name != "existing" || m.Foreign[0].Context != nil ||
		m.Foreign[1].Name != "break-glass-until-year-end" || m.Foreign[1].Context == nil ||
		m.Foreign[1].Context.NotAfter == nil || !m.Foreign[1].Context.NotAfter.Time.Equal(notAfter) {
		t.Errorf("foreign groups %+v: want existing (unconditional) and break-glass-until-year-end with notAfter %s", m.Foreign, notAfter)
	}
	out, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "#   - context:\n#       notAfter: \"2027-01-01T00:00:00Z\"") {
		t.Errorf("the commented-out groups are not in the YAML:\n%s", out)
	}
}

// The adoption promise: what runguard wrote for an object is exported as that object's access
// groups, with the contexts its compiler wrote turned back into typed clauses.
func TestBuild_OwnedBindingsComeBackAsTheDeclaredGroups(t *testing.T) {
	notBefore := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	declared := []iampolicy.AccessGroup{
		{Name: "sre", Members: []string{"group:sre@acme.com", "user:oncall@acme.com"}, Context: iampolicy.Context{
			PathPrefixes: []string{"/admin/", "/ops/"}, Hosts: []string{"ops.acme.com"}}},
		{Name: "auditors", Members: []string{"group:auditors@acme.com"}, Context: iampolicy.Context{
			AccessLevels: []string{"accessPolicies/123/accessLevels/corp_devices"}, NotBefore: &notBefore,
			Expression: `request.auth.claims.email_verified == true`}},
		{Name: "everyone", Members: []string{"domain:acme.com"}},
	}
	owner := iampolicy.Owner{Cluster: "demo", Namespace: "platform", Name: "console"}
	plan, err := iampolicy.PlanAccess(&iampb.Policy{}, iampolicy.Desired{Owner: owner, Role: iampolicy.AccessorRole, Groups: declared})
	if err != nil {
		t.Fatal(err)
	}
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: plan.Policy}, options())
	// Through YAML and the API server's judgement, as kubectl apply would take it: planned against
	// the policy it came from, nothing changes.
	out, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Read(bytes.NewReader(out), "export")
	if err != nil || len(docs) != 1 {
		t.Fatalf("the export is not a valid manifest: %v\n%s", err, out)
	}
	again, err := iampolicy.PlanAccess(plan.Policy, iampolicy.Desired{Owner: owner, Role: iampolicy.AccessorRole, Groups: groupsOf(docs[0].Object)})
	if err != nil || again.Changed {
		t.Errorf("planning the exported manifest changes the policy it came from (err %v): %s", err, again.Diff())
	}
	if m.Object.Namespace != "platform" || m.Object.Name != "console" {
		t.Errorf("exported as %s/%s, want the owner's platform/console", m.Object.Namespace, m.Object.Name)
	}
	if diff := cmp.Diff(declared, groupsOf(m.Object)); diff != "" {
		t.Errorf("exported groups differ from the declared ones (-declared +exported):\n%s", diff)
	}
	if len(m.Foreign) != 0 {
		t.Errorf("runguard's own bindings reported as foreign: %+v", m.Foreign)
	}
}

func TestBuild_AnotherOwnersBindingsAreLeftOutAndSaid(t *testing.T) {
	other := iampolicy.Owner{Cluster: "other-cluster", Namespace: "team", Name: "console"}
	plan, err := iampolicy.PlanAccess(&iampb.Policy{}, iampolicy.Desired{Owner: other, Role: iampolicy.AccessorRole,
		Groups: []iampolicy.AccessGroup{{Name: "sre", Members: []string{"group:sre@acme.com"}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: plan.Policy}, options())
	if len(m.Object.Spec.AccessGroups) != 0 || len(m.Foreign) != 0 {
		t.Errorf("another owner's binding exported: groups %+v, foreign %+v", m.Object.Spec.AccessGroups, m.Foreign)
	}
	if !mentions(m.Notes, "other-cluster/team/console", "ServiceClaimed") {
		t.Errorf("notes %q do not name the other owner", m.Notes)
	}
}

func TestBuild_WhatCannotBeRepresentedIsSaidNeverDropped(t *testing.T) {
	access := &iampb.Policy{Bindings: []*iampb.Binding{
		{Role: iampolicy.AccessorRole, Members: []string{"allAuthenticatedUsers", "deleted:user:gone@acme.com?uid=1"}},
	}}
	for i := range 22 {
		access.Bindings = append(access.Bindings, &iampb.Binding{Role: iampolicy.AccessorRole, Members: []string{"user:u@acme.com"},
			Condition: &expr.Expr{Title: "window", Expression: `request.time < timestamp("2030-01-01T00:00:00Z") && ` + strings.Repeat("true && ", i) + "true"}})
	}
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: access}, options())
	if !mentions(m.Notes, "allAuthenticatedUsers", "deleted:user:gone@acme.com") {
		t.Errorf("notes %q do not say which members cannot be declared", m.Notes)
	}
	if len(m.Foreign) != 20 || !mentions(m.Notes, "at most 20 access groups", "window-21", "window-22") {
		t.Errorf("%d foreign groups, notes %q: want 20 and the two left out named", len(m.Foreign), m.Notes)
	}
}

func TestYAML_IsAManifestKubectlReads(t *testing.T) {
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: &iampb.Policy{}}, export.Options{Cluster: "demo", Namespace: "platform", Mode: iapv1alpha1.ModeObserve})
	out, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var back iapv1alpha1.ProtectedService
	if err := yaml.UnmarshalStrict(out, &back); err != nil {
		t.Fatalf("exported YAML does not read back: %v\n%s", err, out)
	}
	if back.Namespace != "platform" || back.Spec.Service != target || back.Spec.Mode != iapv1alpha1.ModeObserve || !back.Spec.IAPEnabled() {
		t.Errorf("read back %+v", back)
	}
	if strings.Contains(string(out), "creationTimestamp") || strings.Contains(string(out), "status") {
		t.Errorf("exported YAML carries fields only the API server fills:\n%s", out)
	}
}

// groupsOf is the object's access groups as the policy planner takes them.
func groupsOf(ps *iapv1alpha1.ProtectedService) []iampolicy.AccessGroup {
	var out []iampolicy.AccessGroup
	for _, g := range ps.Spec.AccessGroups {
		ag := iampolicy.AccessGroup{Name: g.Name}
		for _, member := range g.Members {
			ag.Members = append(ag.Members, string(member))
		}
		if c := g.Context; c != nil {
			for _, l := range c.AccessLevels {
				ag.Context.AccessLevels = append(ag.Context.AccessLevels, string(l))
			}
			for _, p := range c.PathPrefixes {
				ag.Context.PathPrefixes = append(ag.Context.PathPrefixes, string(p))
			}
			for _, h := range c.Hosts {
				ag.Context.Hosts = append(ag.Context.Hosts, string(h))
			}
			if c.NotBefore != nil {
				t := c.NotBefore.UTC()
				ag.Context.NotBefore = &t
			}
			if c.NotAfter != nil {
				t := c.NotAfter.UTC()
				ag.Context.NotAfter = &t
			}
			ag.Context.Expression = c.Expression
		}
		out = append(out, ag)
	}
	return out
}

func mentions(notes []string, words ...string) bool {
	all := strings.Join(notes, "\n")
	for _, w := range words {
		if !strings.Contains(all, w) {
			return false
		}
	}
	return true
}

func TestBuild_OwnedGroupLosesADeletedMemberAndSaysEnforceRemovesIt(t *testing.T) {
	owner := iampolicy.Owner{Cluster: "demo", Namespace: "platform", Name: "console"}
	plan, err := iampolicy.PlanAccess(&iampb.Policy{}, iampolicy.Desired{Owner: owner, Role: iampolicy.AccessorRole,
		Groups: []iampolicy.AccessGroup{{Name: "sre", Members: []string{"user:gone@acme.com", "user:here@acme.com"}}}})
	if err != nil {
		t.Fatal(err)
	}
	// IAM rewrites a deleted principal in place.
	plan.Policy.Bindings[0].Members[0] = "deleted:user:gone@acme.com?uid=123"
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: plan.Policy}, options())
	if len(m.Object.Spec.AccessGroups) != 1 || len(m.Object.Spec.AccessGroups[0].Members) != 1 || m.Object.Spec.AccessGroups[0].Members[0] != "user:here@acme.com" {
		t.Errorf("groups %+v, want sre with user:here@acme.com only", m.Object.Spec.AccessGroups)
	}
	if !mentions(m.Notes, "deleted:user:gone@acme.com?uid=123", "Enforce will remove it") {
		t.Errorf("notes %q do not say the deleted member is left out", m.Notes)
	}
}

func TestBuild_MarkersOfAnotherClusterNameTellToSetClusterName(t *testing.T) {
	owner := iampolicy.Owner{Cluster: "prod", Namespace: "platform", Name: "console"}
	plan, err := iampolicy.PlanAccess(&iampb.Policy{}, iampolicy.Desired{Owner: owner, Role: iampolicy.AccessorRole,
		Groups: []iampolicy.AccessGroup{{Name: "sre", Members: []string{"group:sre@acme.com"}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: plan.Policy}, options())
	if m.Object.Namespace == "platform" && m.Object.Name == "console" {
		t.Errorf("exported under another cluster's object's name: applying it would take that object over")
	}
	if !mentions(m.Notes, "prod/platform/console", "--cluster-name") {
		t.Errorf("notes %q do not say to set --cluster-name", m.Notes)
	}
}

func TestBuild_IAPOnWithoutItsAgentsGrantIsSaid(t *testing.T) {
	agent := "serviceAccount:service-512345678901@gcp-sa-iap.iam.gserviceaccount.com"
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: &iampb.Policy{}, IAPAgent: agent}, options())
	if !mentions(m.Notes, agent, "IAP cannot reach it today") {
		t.Errorf("notes %q do not say IAP's agent may not invoke the service", m.Notes)
	}
	granted := &iampb.Policy{Bindings: []*iampb.Binding{{Role: iampolicy.InvokerRole, Members: []string{agent}}}}
	m = export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: granted, AccessPolicy: &iampb.Policy{}, IAPAgent: agent}, options())
	if mentions(m.Notes, "IAP cannot reach it today") {
		t.Errorf("notes %q complain about a grant that is there", m.Notes)
	}
}

func TestBuild_SubSecondWindowIsKeptRaw(t *testing.T) {
	expression := `request.time < timestamp("2027-01-01T00:00:00.5Z")`
	access := &iampb.Policy{Bindings: []*iampb.Binding{{Role: iampolicy.AccessorRole, Members: []string{"user:a@acme.com"},
		Condition: &expr.Expr{Title: "half", Expression: expression}}}}
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: access}, options())
	if len(m.Foreign) != 1 || m.Foreign[0].Context == nil || m.Foreign[0].Context.NotAfter != nil || m.Foreign[0].Context.Expression != expression {
		t.Errorf("foreign groups %+v: want the sub-second window kept as the raw expression", m.Foreign)
	}
}
