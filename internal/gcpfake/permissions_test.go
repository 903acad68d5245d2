package gcpfake_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake"
)

// policyPermission is a permission the fake's deny rules are tried on: setting the IAM policy of
// hello's service or of its IAP resource, beside the permission to read it, which stays allowed.
type policyPermission struct {
	resource, permission, read string
	// message is the API's wording of IAM's denial.
	message string
}

var helloPolicyPermissions = []policyPermission{
	{helloName, "run.services.setIamPolicy", "run.services.getIamPolicy",
		"Permission 'run.services.setIamPolicy' denied on resource '" + helloName + "' (or resource may not exist)."},
	{helloIAP, "iap.webServices.setIamPolicy", "iap.webServices.getIamPolicy",
		"Permission 'iap.webServices.setIamPolicy' denied on resource '" + helloIAP + "' (or it may not exist)."},
}

// forEachAccessMode runs fn against a fake with access control on, calling as tenant A, and
// against one with it off.
func forEachAccessMode(t *testing.T, fn func(t *testing.T, f *fake)) {
	t.Run("access control on", func(t *testing.T) { fn(t, asTenantA(t)) })
	t.Run("access control off", func(t *testing.T) { fn(t, startFake(t, gcpfake.Options{})) })
}

// asTenantA starts a fake with access control on and connects to it as tenant A, who holds
// roles/run.admin and roles/iap.admin on proj-alpha.
func asTenantA(t *testing.T) *fake {
	t.Helper()
	s := startIdentityFake(t, identitySeed())
	token, _, err := s.MintAccessToken(tenantA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return connectAs(t, s, overGRPC, static(token))
}

// tested is TestIamPermissions' answer on resource, through the API that serves it.
func tested(t *testing.T, f *fake, resource string, permissions ...string) []string {
	t.Helper()
	req := &iampb.TestIamPermissionsRequest{Resource: resource, Permissions: permissions}
	test := f.run.TestIamPermissions
	if strings.Contains(resource, "/iap_web/") {
		test = f.iap.TestIamPermissions
	}
	resp, err := test(ctxT(t), req)
	if err != nil {
		t.Fatalf("TestIamPermissions on %s: %v", resource, err)
	}
	return resp.GetPermissions()
}

// rewritePolicy reads resource's IAM policy and sets it again: the error of the set.
func rewritePolicy(t *testing.T, f *fake, resource string) error {
	t.Helper()
	get, set := f.run.GetIamPolicy, f.run.SetIamPolicy
	if strings.Contains(resource, "/iap_web/") {
		get, set = f.iap.GetIamPolicy, f.iap.SetIamPolicy
	}
	p, err := get(ctxT(t), &iampb.GetIamPolicyRequest{Resource: resource})
	if err != nil {
		t.Fatalf("GetIamPolicy on %s: %v", resource, err)
	}
	_, err = set(ctxT(t), &iampb.SetIamPolicyRequest{Resource: resource, Policy: p})
	return err
}

// wantDenied checks that p is missing from TestIamPermissions' answer (its read permission is
// not) and that the call needing it fails with IAM's PERMISSION_DENIED naming it.
func wantDenied(t *testing.T, f *fake, p policyPermission) {
	t.Helper()
	if got := tested(t, f, p.resource, p.permission, p.read); !slices.Equal(got, []string{p.read}) {
		t.Errorf("TestIamPermissions on %s = %v, want only %s", p.resource, got, p.read)
	}
	st := wantCode(t, rewritePolicy(t, f, p.resource), codes.PermissionDenied)
	if st.Message() != p.message {
		t.Errorf("message = %q, want %q", st.Message(), p.message)
	}
	if ei := errorInfo(st); ei.GetReason() != "IAM_PERMISSION_DENIED" || ei.GetMetadata()["permission"] != p.permission || ei.GetMetadata()["resource"] != p.resource {
		t.Errorf("ErrorInfo = %v, want IAM_PERMISSION_DENIED for %s on %s", ei, p.permission, p.resource)
	}
}

// wantAllowed checks that TestIamPermissions answers p and that the call needing it succeeds.
func wantAllowed(t *testing.T, f *fake, p policyPermission) {
	t.Helper()
	if got := tested(t, f, p.resource, p.permission, p.read); !slices.Equal(got, []string{p.permission, p.read}) {
		t.Errorf("TestIamPermissions on %s = %v, want both", p.resource, got)
	}
	if err := rewritePolicy(t, f, p.resource); err != nil {
		t.Errorf("SetIamPolicy on %s: %v", p.resource, err)
	}
}

func TestDenyPermission_DeniesTheCallAndLeavesThePermissionOutOfTestIamPermissions(t *testing.T) {
	forEachAccessMode(t, func(t *testing.T, f *fake) {
		for _, p := range helloPolicyPermissions {
			f.DenyPermission(p.resource, p.permission)
			wantDenied(t, f, p)
		}
		if c := lastCall(t, f.Server, "iap.SetIamPolicy"); c.Code != codes.PermissionDenied || c.Injected {
			t.Errorf("logged %+v, want a PERMISSION_DENIED that no fault rule injected", c)
		}
	})
}

func TestAllowPermission_RestoresTheCallAndTestIamPermissions(t *testing.T) {
	forEachAccessMode(t, func(t *testing.T, f *fake) {
		for _, p := range helloPolicyPermissions {
			f.DenyPermission(p.resource, p.permission)
			wantDenied(t, f, p)
			f.AllowPermission(p.resource, p.permission)
			wantAllowed(t, f, p)
		}
	})
}

// IAM checks deny policies before allow policies: a denied permission cannot be used whatever
// roles or permissions the caller is granted, also when they are granted after the denial.
func TestDenyPermission_WinsOverAGrant(t *testing.T) {
	f := asTenantA(t)
	p := helloPolicyPermissions[1] // tenant A holds it through roles/iap.admin
	wantAllowed(t, f, p)
	f.DenyPermission(p.resource, p.permission)
	if err := f.Grant(alpha, "serviceAccount:"+tenantA, p.permission); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, f, p)
	// The rule is on hello's IAP resource only.
	if err := rewritePolicy(t, f, fmt.Sprintf("projects/%d/iap_web/cloud_run-us-central1/services/private", alphaNumber)); err != nil {
		t.Errorf("a deny rule on hello's IAP resource denied the private service's: %v", err)
	}
}

// A deny rule names its resource as the caller writes it, and matches whichever form of the
// project — ID or number — a call writes.
func TestDenyPermission_MatchesTheProjectByIDOrNumber(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	f.DenyPermission(fmt.Sprintf("projects/%d/locations/us-central1/services/hello", alphaNumber), "run.services.setIamPolicy")
	f.DenyPermission("projects/proj-alpha/iap_web/cloud_run-us-central1/services/hello", "iap.webServices.setIamPolicy")
	for _, p := range helloPolicyPermissions {
		wantDenied(t, f, p)
	}
	denials := f.Access().Denials
	if got := fmt.Sprint(denials); got != fmt.Sprintf("map[%s:[iap.webServices.setIamPolicy] %s:[run.services.setIamPolicy]]", helloIAP, helloName) {
		t.Errorf("Access().Denials = %s, want each resource in the form the fake stores it", got)
	}
	f.AllowPermission(helloName, "run.services.setIamPolicy")
	f.AllowPermission(helloIAP, "iap.webServices.setIamPolicy")
	for _, p := range helloPolicyPermissions {
		wantAllowed(t, f, p)
	}
}

// Tests that paired a denial with a PERMISSION_DENIED fault rule (from when a denial did not
// deny the call) still see the call denied, by the deny rule: the front end refuses it before
// any fault rule is consulted, so the rule uses up none of its times.
func TestDenyPermission_PairedWithAFaultRuleDeniesBeforeTheRule(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	p := helloPolicyPermissions[1]
	f.DenyPermission(p.resource, p.permission)
	f.AddFault(gcpfake.FaultRule{Method: "iap.SetIamPolicy", Resource: p.resource, Code: codes.PermissionDenied, Times: 1})
	wantDenied(t, f, p)
	f.AllowPermission(p.resource, p.permission)
	wantCode(t, rewritePolicy(t, f, p.resource), codes.PermissionDenied)
	if c := lastCall(t, f.Server, "iap.SetIamPolicy"); !c.Injected {
		t.Errorf("the fault rule's one time was used up while the deny rule held: %+v", c)
	}
	wantAllowed(t, f, p)
}
