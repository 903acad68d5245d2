package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

const (
	// acme-prod's IAP level ("All Web Services"), which every IAP-secured service of the project
	// inherits, and its own allow policy, as status.inheritedAccess names them.
	iapWeb          = "projects/512345678901/iap_web"
	prodPolicy      = "projects/512345678901"
	contractor      = "user:contractor@acme.com"
	platformAccount = "serviceAccount:platform-team@acme-ops.iam.gserviceaccount.com"
)

// TestEndToEnd_EffectiveAccess walks what runguard reports and refuses about access granted
// above a service, and access tests, over the built binaries with audit log events on and a
// 1-hour resync: whatever follows a grant within seconds is the work of its audit entry. The
// fake holds the demo's world: acme-prod in folder production of organization acme.com, nothing
// above the services granting IAP access, runguard's reads granted on the project and the
// organization.
func TestEndToEnd_EffectiveAccess(t *testing.T) {
	start := time.Now()
	sys := newSystem(t)
	pubsubAddr := sys.startEventedFake()

	steps := []step{
		{"ManagerStartsWithEventsAndAnHourlyResync", func(s *system) { s.startEventedManager("manager-reach", pubsubAddr) }},
		{"ProjectGrantByHandShowsWithinSecondsAndGoesWhenRevoked", func(s *system) { projectGrantShowsAndGoes(s) }},
		{"DenyStallsNamingTheGrantWhileTheLockdownHolds", func(s *system) { denyStallsWithTheLockdown(s) }},
		{"FailingAccessTestBlocksTheIAMWriteUntilTheSpecIsFixed", func(s *system) { failingAccessTestBlocksTheWrite(s) }},
		{"IdentityThatMayNotReadTheProjectPolicyIsUnknownNamingIt", func(s *system) { unreadablePolicyIsUnknown(s) }},
	}
	if !sys.walk(steps) {
		return
	}
	t.Logf("effective access run took %s", time.Since(start).Round(100*time.Millisecond))
}

// projectGrantShowsAndGoes: a grant of IAP access on acme-prod's own policy, made by hand (the
// fake's admin API stands in for gcloud projects add-iam-policy-binding), is in the status of an
// object in the project within seconds, and gone as fast once revoked.
func projectGrantShowsAndGoes(s *system) {
	s.apply(`apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: billing-dashboard, namespace: finance}
spec:
  service: {project: acme-prod, location: us-central1, name: billing-dashboard}
  accessGroups:
  - name: finance-analysts
    members: ["group:finance-analysts@acme.com"]
`)
	s.waitConverged("finance", "billing-dashboard")
	s.waitReason("finance", "billing-dashboard", "InheritedAccess", "False", "NoInheritedAccess", 10*time.Second)

	grant := adminapi.GrantPath("acme-prod", contractor, accessorRole)
	s.admin(http.MethodPut, grant, nil)
	took := s.waitReason("finance", "billing-dashboard", "InheritedAccess", "True", "InheritedAccessFound", 10*time.Second)
	s.t.Logf("a project grant made by hand was in status after %.1f s (resync 1h)", took.Seconds())
	want := inheritedGrant{Member: contractor, Where: prodPolicy, Role: accessorRole, Condition: "always"}
	if got := s.inheritedAccess("finance", "billing-dashboard"); !slices.Contains(got, want) {
		s.t.Errorf("status.inheritedAccess = %+v, want it to hold %+v", got, want)
	}
	if _, _, msg := s.psCondition("finance", "billing-dashboard", "InheritedAccess"); !strings.Contains(msg, contractor) || !strings.Contains(msg, prodPolicy) {
		s.t.Errorf("InheritedAccess message %q does not name the grant and where it is", msg)
	}
	if _, reason, _ := s.psCondition("finance", "billing-dashboard", "Ready"); reason != "Protected" {
		s.t.Errorf("with inheritedAccess Report the object is %s, want Ready Protected", reason)
	}

	s.admin(http.MethodDelete, grant, nil)
	took = s.waitReason("finance", "billing-dashboard", "InheritedAccess", "False", "NoInheritedAccess", 10*time.Second)
	s.t.Logf("its revocation was in status after %.1f s", took.Seconds())
	if got := s.inheritedAccess("finance", "billing-dashboard"); len(got) != 0 {
		s.t.Errorf("status.inheritedAccess still holds %+v after the revocation", got)
	}
}

// denyStallsWithTheLockdown: with a grant on acme-prod's IAP level, an Exclusive object with
// inheritedAccess Deny on a public service is Stalled with InheritedAccessFound naming the grant
// and where, while its own binding is written and the lockdown holds (IAP on, allUsers gone).
// Once the grant is taken back, its audit entry makes the object Ready.
func denyStallsWithTheLockdown(s *system) {
	s.putPolicy(iapWeb, adminapi.Policy{Bindings: []adminapi.Binding{{Role: accessorRole, Members: []string{contractor}}}})
	s.apply(`apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: public-site, namespace: platform}
spec:
  service: {project: acme-prod, location: us-central1, name: public-site}
  accessGroups:
  - name: web-team
    members: ["group:web-team@acme.com"]
  bindingPolicy: Exclusive
  inheritedAccess: Deny
`)
	s.waitReason("platform", "public-site", "Stalled", "True", "InheritedAccessFound", 30*time.Second)
	if _, _, msg := s.psCondition("platform", "public-site", "Stalled"); !strings.Contains(msg, contractor) || !strings.Contains(msg, iapWeb) {
		s.t.Errorf("Stalled message %q does not name %s and %s", msg, contractor, iapWeb)
	}
	eventually(s.t, 30*time.Second, "public-site's own policy and lockdown while Stalled", func() error {
		p := s.service(publicSite)
		if !p.IAPEnabled || grants(p.ServicePolicy, invokerRole, "allUsers") || !grants(p.IAPPolicy, accessorRole, "group:web-team@acme.com") {
			return fmt.Errorf("iap=%v invoker policy %s IAP policy %s", p.IAPEnabled, bindingsText(p.ServicePolicy), bindingsText(p.IAPPolicy))
		}
		return nil
	})
	if st, _, _ := s.psCondition("platform", "public-site", "Ready"); st == "True" {
		s.t.Error("public-site is Ready while a grant above it lets a member in and inheritedAccess is Deny")
	}

	s.putPolicy(iapWeb, adminapi.Policy{})
	took := s.waitReason("platform", "public-site", "Ready", "True", "Protected", 10*time.Second)
	s.t.Logf("the grant's revocation on %s made public-site Ready after %.1f s", iapWeb, took.Seconds())
}

// failingAccessTestBlocksTheWrite: an access test the declaration fails (an analyst must read
// /exports/, but the group is bound to /reports/ only) stalls a new object with
// AccessTestFailed: its binding is not written, only the lockdown is. With the spec fixed, the
// binding is written and the object is Ready, both tests passing.
func failingAccessTestBlocksTheWrite(s *system) {
	s.admin(http.MethodPost, adminapi.ServicesPath, adminapi.Service{Project: "acme-prod", Location: "us-central1", Name: "reports", Public: true})
	s.apply(reportsObject(`["/reports/"]`))
	s.waitReason("finance", "reports", "Stalled", "True", "AccessTestFailed", 30*time.Second)
	if _, _, msg := s.psCondition("finance", "reports", "Stalled"); !strings.Contains(msg, "analyst-reads-exports expects Allow, got DENY") {
		s.t.Errorf("Stalled message %q does not name the failing test and its outcome", msg)
	}
	eventually(s.t, 30*time.Second, "the lockdown of reports", func() error {
		p := s.service(reports)
		if !p.IAPEnabled || grants(p.ServicePolicy, invokerRole, "allUsers") {
			return fmt.Errorf("iap=%v invoker policy %s", p.IAPEnabled, bindingsText(p.ServicePolicy))
		}
		return nil
	})
	if p := s.service(reports).IAPPolicy; len(p.Bindings) != 0 {
		s.t.Errorf("a failing access test let bindings through: %s", bindingsText(p))
	}
	if got := s.testResults("finance", "reports"); got != "analyst-reads-exports=DENY/false outsider-kept-out=DENY/true" {
		s.t.Errorf("status.accessTests = %s", got)
	}

	s.apply(reportsObject(`["/reports/", "/exports/"]`))
	s.waitConverged("finance", "reports")
	s.expectGroup(s.service(reports).IAPPolicy, "runguard:analysts", "group:finance-analysts@acme.com")
	if got := s.testResults("finance", "reports"); got != "analyst-reads-exports=ALLOW/true outsider-kept-out=DENY/true" {
		s.t.Errorf("status.accessTests after the fix = %s", got)
	}
}

// reportsObject is finance/reports with its analysts bound to prefixes, and two access tests.
func reportsObject(prefixes string) string {
	return `apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: reports, namespace: finance}
spec:
  service: {project: acme-prod, location: us-central1, name: reports}
  accessGroups:
  - name: analysts
    members: ["group:finance-analysts@acme.com"]
    context:
      pathPrefixes: ` + prefixes + `
  accessTests:
  - name: analyst-reads-exports
    member: user:cfo@acme.com
    groups: ["group:finance-analysts@acme.com"]
    from: {path: /exports/q3.csv}
    expect: Allow
  - name: outsider-kept-out
    member: user:contractor@acme.com
    from: {path: /reports/q3}
    expect: Deny
`
}

// unreadablePolicyIsUnknown: namespace platform acts as its own service account. When that
// account holds everything runguard's role grants but resourcemanager.projects.getIamPolicy, its
// objects stay Ready and say InheritedAccess Unknown naming the permission — not "no inherited
// access" — while finance's, read as runguard's own identity, still know. Given back, the read
// is made again at once.
func unreadablePolicyIsUnknown(s *system) {
	s.mustKubectl("patch", "protectedservice", "-n", "platform", "public-site", "--type=merge", "-p", `{"spec":{"inheritedAccess":"Report"}}`)
	s.waitConverged("platform", "public-site")
	const missing = "resourcemanager.projects.getIamPolicy"
	restore := s.withoutPermission("acme-prod", platformAccount, runguardRole, missing)
	s.waitReason("platform", "public-site", "InheritedAccess", "Unknown", "PermissionDenied", 10*time.Second)
	if _, _, msg := s.psCondition("platform", "public-site", "InheritedAccess"); !strings.Contains(msg, missing) {
		s.t.Errorf("InheritedAccess message %q does not name %s", msg, missing)
	}
	if st, reason, _ := s.psCondition("platform", "public-site", "Ready"); st != "True" {
		s.t.Errorf("public-site is Ready=%s (%s) for a policy it may not read, want Ready", st, reason)
	}
	if st, reason, _ := s.psCondition("finance", "billing-dashboard", "InheritedAccess"); st != "False" {
		s.t.Errorf("finance/billing-dashboard, read as runguard's identity, says InheritedAccess=%s (%s), want False", st, reason)
	}
	restore()
	s.waitReason("platform", "public-site", "InheritedAccess", "False", "NoInheritedAccess", 10*time.Second)
}
