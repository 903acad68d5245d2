package gcpfake_test

import (
	"strings"
	"testing"
)

// The Cloud SDK reads and edits the policies above a service against the fake's REST surface:
// a project's (v1), a folder's (v2), an organization's (v1), IAP's project-wide iap_web, and
// describes a role.
func TestHierarchy_GcloudReadsAndGrantsAboveAService(t *testing.T) {
	s := startIdentityFake(t, hierarchySeed())
	gcloud := gcloudAgainst(t, s, []string{"CLOUDSDK_CORE_PROJECT=" + alpha}, "CLOUDRESOURCEMANAGER", "IAP", "IAM")
	gcloud("projects", "add-iam-policy-binding", alpha, "--member=user:alice@example.com", "--role="+accessor, "--condition=None")
	if p, _ := s.Policy(alphaPolicy); !bindingHas(p, accessor, "user:alice@example.com") {
		t.Errorf("project policy after gcloud's binding: %v", p)
	}
	if got := gcloud("projects", "get-iam-policy", alpha, "--format=value(bindings.role)"); !strings.Contains(got, accessor) {
		t.Errorf("projects get-iam-policy = %q", got)
	}
	gcloud("resource-manager", "folders", "add-iam-policy-binding", "200", "--member=user:bob@example.com", "--role="+accessor, "--condition=None")
	if p, _ := s.Policy(appsFolder); !bindingHas(p, accessor, "user:bob@example.com") {
		t.Errorf("folder policy after gcloud's binding: %v", p)
	}
	if got := gcloud("organizations", "get-iam-policy", "999999999999", "--format=value(bindings.role)"); !strings.Contains(got, "roles/iam.securityReviewer") {
		t.Errorf("organizations get-iam-policy = %q", got)
	}
	gcloud("iap", "web", "add-iam-policy-binding", "--member=group:team@example.com", "--role="+accessor, "--condition=None")
	if p, _ := s.Policy(alphaIAPWeb); !bindingHas(p, accessor, "group:team@example.com") {
		t.Errorf("iap_web policy after gcloud's binding: %v", p)
	}
	if got := gcloud("iam", "roles", "describe", accessor, "--format=value(includedPermissions)"); strings.TrimSpace(got) != accessViaIAP {
		t.Errorf("roles describe = %q", got)
	}
}
