package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// TestE2E_Grants walks AccessGrants over the built binaries: requested and approved with the
// runguard CLI as two impersonated users, under the admission policies and the grant
// ClusterRoles; bound with a condition that ends at the grant's expiry; removed within seconds
// of it, by the manager's own requeue (its resync is an hour); denied by Google's condition
// alone while the manager is down; break-glass; and gone with their ProtectedService. Requests
// go through the fake's IAP front door, which decides them with its own evaluator.
func TestE2E_Grants(t *testing.T) {
	start := time.Now()
	sys := newSystem(t)
	frontDoor := "127.0.0.1:" + freePorts(t, 1)[0]
	sys.startFake(filepath.Join(sys.root, "hack", "demo", "seed.yaml"), "--frontdoor-listen", frontDoor)
	door := newFrontDoor(frontDoor)

	var manager *proc
	steps := []step{
		{"PoliciesRolesAndObjectInstalled", func(s *system) { manager = grantsWorld(s) }},
		{"RequestedApprovedBoundThenRemovedWithinSecondsOfExpiry", func(s *system) { grantBoundUntilExpiry(s, door) }},
		{"ManagerDownAtExpiryGoogleDeniesRestartRemovesTheBinding", func(s *system) { manager = grantOutlivesManager(s, manager, door) }},
		{"BreakGlassActiveAtOnceWarnedAndFlaggedForReview", func(s *system) { breakGlassFlagged(s) }},
		{"DeletingTheProtectedServiceRemovesItsGrantsBindings", func(s *system) { deletingTheObjectUnbindsGrants(s) }},
	}
	if !sys.walk(steps) {
		return
	}
	t.Logf("grants run took %s", time.Since(start).Round(100*time.Millisecond))
}

// grantsWorld installs the CRDs, the admission policies and the two grant ClusterRoles (alice may
// request, bob may approve, in the namespace), starts a manager with an hourly resync, and makes
// the object the grants are for: group oncall, paths under /ops/.
func grantsWorld(s *system) *proc {
	s.installCRDs()
	s.mustKubectl("wait", "--for=condition=Established", "--timeout=30s", "crd/accessgrants.iap.runguard.dev", "crd/accessgrantapprovals.iap.runguard.dev")
	s.mustKubectl("apply", "-k", "config/admission")
	s.mustKubectl("apply", "-f", "config/rbac/accessgrant_requester_role.yaml", "-f", "config/rbac/accessgrant_approver_role.yaml")
	s.apply(grantsSetup)
	m := s.startManager("manager-grants", "--resync-period=1h")
	s.waitForLease(m)
	s.admin(http.MethodPost, adminapi.ServicesPath, adminapi.Service{Project: "acme-prod", Location: "us-central1", Name: "grants-console"})
	s.apply(grantsObject)
	s.waitConverged(grantsNS, "grants-console")
	s.waitAdmissionPolicy()
	return m
}

// grantBoundUntilExpiry: alice requests 8 s for the contractor, narrowed to /ops/debug/; her own
// approval is refused at admission; bob's activates it. The binding carries the narrowed path
// and the end, the front door lets the contractor into /ops/debug/ only, and the binding is gone
// within 5 s of expiresAt (the delay is logged), the grant Expired and the group's binding kept.
func grantBoundUntilExpiry(s *system, door *frontDoor) {
	s.requestGrant("debug-8s", "--for", "8s", "--path-prefix", "/ops/debug/")
	g := s.waitGrant("debug-8s", "Pending", "AwaitingApproval")
	if b := s.grantBinding("debug-8s"); b != nil {
		s.t.Fatalf("a pending grant is bound: %+v", *b)
	}
	if out, code := s.grantCLI(grantRequester, "approve", "debug-8s"); code != 1 || !strings.Contains(out, "someone else must") {
		s.t.Errorf("alice approving her own grant: exit %d, want 1 with the admission policy's refusal:\n%s", code, out)
	}

	s.approveGrant("debug-8s")
	g = s.waitGrant("debug-8s", "Active", "Bound")
	b := s.grantBinding("debug-8s")
	if b == nil {
		s.t.Fatal("the grant is Bound but the fake's IAP policy has no binding titled runguard:grant.debug-8s")
	}
	end := `request.time < timestamp("` + g.expiresAt.UTC().Format(time.RFC3339) + `")`
	if b.Role != accessorRole || strings.Join(b.Members, ",") != grantee ||
		!strings.Contains(b.Condition.Expression, `request.path.startsWith("/ops/debug/")`) || !strings.Contains(b.Condition.Expression, end) {
		s.t.Errorf("binding of the active grant: want %s for %s on /ops/debug/ with %s, got %+v", accessorRole, grantee, end, *b)
	}
	door.expect(s, grantee, "/ops/debug/logs", 200)
	door.expect(s, grantee, "/ops/other", 403)

	gone := s.waitUnbound("debug-8s", g.expiresAt, 5*time.Second)
	s.t.Logf("grant debug-8s: binding gone from the fake's IAP policy %.2f s after status.expiresAt %s (requeue at expiry; resync 1h)",
		gone.Sub(g.expiresAt).Seconds(), g.expiresAt.UTC().Format(time.RFC3339))
	s.waitGrant("debug-8s", "Expired", "Expired")
	door.expect(s, grantee, "/ops/debug/logs", 403)
	s.expectGroup(s.grantsPolicy(), "runguard:oncall", "user:oncall@acme.com")
}

// grantOutlivesManager: the manager is stopped while a grant is Active and stays down past its
// expiry. The binding is still in Google, yet the front door refuses the contractor (IAM's
// request.time clause) and still admits the declared group. Restarted, the manager removes the
// binding and the grant becomes Expired. It returns the running manager.
func grantOutlivesManager(s *system, manager *proc, door *frontDoor) *proc {
	s.requestGrant("while-down", "--for", "8s")
	s.approveGrant("while-down")
	g := s.waitGrant("while-down", "Active", "Bound")
	door.expect(s, grantee, "/ops/status", 200)

	manager.kill(s.t, syscall.SIGTERM)
	time.Sleep(time.Until(g.expiresAt) + time.Second)
	if s.grantBinding("while-down") == nil {
		s.t.Fatal("the binding is gone with the manager down: nothing showed that Google's condition ends access")
	}
	door.expect(s, grantee, "/ops/status", 403)
	door.expect(s, "user:oncall@acme.com", "/ops/status", 200)

	restarted := time.Now()
	m := s.startManager("manager-grants-restarted", "--resync-period=1h")
	s.waitForLease(m)
	gone := s.waitUnbound("while-down", restarted, 30*time.Second)
	s.t.Logf("grant while-down: binding removed %.2f s after the manager was restarted (%.1f s past expiry)",
		gone.Sub(restarted).Seconds(), gone.Sub(g.expiresAt).Seconds())
	s.waitGrant("while-down", "Expired", "Expired")
	return m
}

// breakGlassFlagged: a break-glass grant is Active and bound with no approval, ReviewRequired,
// with a Warning Event BreakGlass; bob's approval after the fact reviews it.
func breakGlassFlagged(s *system) {
	s.requestGrant("glass", "--for", "10m", "--break-glass")
	g := s.waitGrant("glass", "Active", "Bound")
	if strings.HasPrefix(g.approved, "True") || g.review != "True BreakGlass" {
		s.t.Errorf("break-glass grant: Approved %q, ReviewRequired %q; want it not Approved, and ReviewRequired True BreakGlass", g.approved, g.review)
	}
	if s.grantBinding("glass") == nil {
		s.t.Error("the active break-glass grant has no binding")
	}
	eventually(s.t, 10*time.Second, "a Warning Event BreakGlass on AccessGrant glass", func() error {
		out, err := s.kubectl("", "get", "events", "-n", grantsNS, "--field-selector", "reason=BreakGlass,involvedObject.kind=AccessGrant,involvedObject.name=glass",
			"-o", "jsonpath={.items[*].type}")
		if err != nil || !strings.Contains(out, "Warning") {
			return fmt.Errorf("event types %q (%v)", out, err)
		}
		return nil
	})
	s.approveGrant("glass")
	eventually(s.t, 10*time.Second, "break-glass grant reviewed", func() error {
		if g := s.grant("glass"); g.review != "False Reviewed" || g.phase != "Active" {
			return fmt.Errorf("phase %s, ReviewRequired %q", g.phase, g.review)
		}
		return nil
	})
}

// deletingTheObjectUnbindsGrants: with two grants bound (the break-glass one and an approved
// one), deleting the ProtectedService (deletionPolicy Delete) removes every runguard binding,
// the grants' among them, and revokes both grants.
func deletingTheObjectUnbindsGrants(s *system) {
	s.requestGrant("before-delete", "--for", "10m")
	s.approveGrant("before-delete")
	s.waitGrant("before-delete", "Active", "Bound")
	if titles := runguardTitles(s.grantsPolicy()); titles["runguard:grant.glass"] != 1 || titles["runguard:grant.before-delete"] != 1 {
		s.t.Fatalf("want both grants bound before the delete, runguard's bindings are %v", titles)
	}

	s.mustKubectl("delete", "protectedservice", "-n", grantsNS, "grants-console", "--timeout=60s")
	if titles := runguardTitles(s.grantsPolicy()); len(titles) != 0 {
		s.t.Errorf("runguard bindings left after the ProtectedService was deleted: %v", titles)
	}
	for _, name := range []string{"glass", "before-delete"} {
		s.waitGrant(name, "Revoked", "ProtectedServiceNotFound")
	}
}
