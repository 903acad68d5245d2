package main

import (
	"strings"
	"testing"
)

// legacy-wiki adopted with an access test the service's hand-granted access breaks: the
// technical writer's drafts grant (bindingPolicy Merge keeps it) lets them in where the test says
// they must not be.
const wikiWithFailingAccessTest = `apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata:
  name: legacy-wiki
  namespace: adoption
spec:
  service: {project: acme-prod, location: europe-west1, name: legacy-wiki}
  mode: Observe
  publicAccess: Allow
  accessGroups:
  - name: editors
    members: [group:wiki-editors@acme.com]
  accessTests:
  - name: editors-get-in
    member: user:ed@acme.com
    groups: [group:wiki-editors@acme.com]
    expect: Allow
  - name: writers-kept-out-of-drafts
    member: user:tech-writer@acme.com
    from: {path: /drafts/plan}
    expect: Deny
`

// A ProtectedService whose access tests fail cannot be planned: plan names the reason and the
// failing test with what decided it, and exits 1, as for any object it cannot plan.
func TestPlan_FailingAccessTestBlocksThePlanAndIsNamed(t *testing.T) {
	fake := startFake(t)
	r := runguard(t, fake, wikiWithFailingAccessTest, "plan", "-f", "-", "--impersonate-service-account", adoption)
	for _, want := range []string{
		"ProtectedService adoption/legacy-wiki (Cloud Run service acme-prod/europe-west1/legacy-wiki): cannot be planned: AccessTestFailed: ",
		"writers-kept-out-of-drafts expects Deny, got ALLOW",
		`(drafts only)`,
		"Plan: 0 changes to 0 objects; 1 could not be planned.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	if r.code != exitError || strings.Contains(r.stdout, "editors-get-in expects") {
		t.Errorf("plan exited %d, want %d, naming only the failing test:\n%s", r.code, exitError, r.stdout)
	}
	if n := writes(fake); n != 0 {
		t.Errorf("plan made %d Google writes, want 0", n)
	}
}
