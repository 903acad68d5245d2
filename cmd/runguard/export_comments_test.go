package main

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	iap "cloud.google.com/go/iap/apiv1"
	"google.golang.org/genproto/googleapis/type/expr"

	"github.com/runguard/runguard/internal/gcpfake"
)

// grantByHand adds accessor grants to a service's IAP policy as someone in the console would:
// through Google's own client, which checks what IAM checks (the principals exist, the condition
// parses as CEL).
func grantByHand(t *testing.T, fake *gcpfake.Server, service string, bindings ...*iampb.Binding) {
	t.Helper()
	ctx := context.Background()
	resource, err := fake.IAPResource(service)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iap.NewIdentityAwareProxyAdminClient(ctx, fake.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	policy, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: resource, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	policy.Version = 3
	policy.Bindings = append(policy.Bindings, bindings...)
	if _, err := c.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: resource, Policy: policy}); err != nil {
		t.Fatalf("IAM refuses the hand-made grants: %v", err)
	}
}

// Issue 22's second defect, as a user meets it: IAM accepts a condition whose string literal holds
// a character YAML counts as a line break (U+2028, U+2029, U+0085), the export comments that grant
// out, and the manifest must still be one `runguard plan` (and so kubectl) reads.
func TestExportThenPlan_UnownedConditionWithYAMLLineBreaksPlansNoChange(t *testing.T) {
	fake := startFake(t)
	accessor := func(member, title, expression string) *iampb.Binding {
		return &iampb.Binding{Role: "roles/iap.httpsResourceAccessor", Members: []string{member},
			Condition: &expr.Expr{Title: title, Expression: expression}}
	}
	grantByHand(t, fake, "projects/acme-prod/locations/europe-west1/services/legacy-wiki",
		accessor("user:contractor@acme.com", "line separator", "request.auth.claims.name == \"Jane\u2028Doe\""),
		accessor("user:contractor@acme.com", "paragraph separator", "request.auth.claims.name == \"Jane\u2029Doe\""),
		accessor("user:contractor@acme.com", "next line", "request.auth.claims.name == \"Jane\u0085Doe\""))
	before := writes(fake)

	exported := exportProject(t, fake)
	r := runguard(t, fake, exported, "plan", "-f", "-", "--impersonate-service-account", adoption)
	if r.code != exitOK || strings.Count(r.stdout, ": no changes") != 4 {
		t.Errorf("plan of the export exited %d, want %d and no changes for each of 4 services:\n%s%s\nthe export:\n%s", r.code, exitOK, r.stdout, r.stderr, exported)
	}
	// Notes wrap at about 100 characters.
	unwrapped := strings.ReplaceAll(exported, "\n#   ", " ")
	for _, want := range []string{"line-separator (user:contractor@acme.com)", "paragraph-separator (user:contractor@acme.com)", "next-line (user:contractor@acme.com)"} {
		if !strings.Contains(unwrapped, want) || !strings.Contains(unwrapped, "are escaped") {
			t.Errorf("the export does not say that characters of %s are escaped:\n%s", want, exported)
		}
	}
	for _, want := range []string{`\"Jane\u2028Doe\"`, `\"Jane\u2029Doe\"`, `\"Jane\u0085Doe\"`} {
		if !strings.Contains(exported, want) {
			t.Errorf("the commented-out groups do not hold %s:\n%s", want, exported)
		}
	}
	if n := writes(fake) - before; n != 0 {
		t.Errorf("export and plan made %d Google writes, want 0", n)
	}
}
