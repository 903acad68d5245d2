package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// TestEndToEnd_AccessLevels walks AccessLevel objects and the ProtectedServices that require
// levels over the built binaries, with audit log events on and a 1-hour resync, so whatever is
// corrected within seconds after convergence is the work of an audit entry. The fake holds the
// seed's organization policy accessPolicies/123456789 and its level corp_managed_device, which
// another tool made (no runguard mark).
func TestEndToEnd_AccessLevels(t *testing.T) {
	start := time.Now()
	sys := newSystem(t)
	pubsubAddr := sys.startEventedFake()

	steps := []step{
		{"ManagerStartsWithEventsAndAnHourlyResync", func(s *system) { s.startEventedManager("manager-levels", pubsubAddr) }},
		{"DemoLevelsCreatedWithRunguardsMark", func(s *system) { demoLevelsCreated(s) }},
		{"EditedRangesReachGoogleTitleKept", func(s *system) { editedRangesReachGoogle(s) }},
		{"OutOfBandChangeCorrectedByItsAuditEntry", func(s *system) { levelDriftCorrectedByEvent(s) }},
		{"LevelRunguardDidNotMakeLeftUntouched", func(s *system) { levelNotOwnedLeftUntouched(s) }},
		{"MissingFullNameStallsWithTheLockdownEnforced", func(s *system) { missingFullNameStalls(s) }},
		{"LevelObjectCreatedLaterServiceReadyWithoutStall", func(s *system) { levelObjectCreatedLater(s) }},
		{"AbandonKeepsTheLevelDeleteRemovesIt", func(s *system) { abandonAndDelete(s) }},
	}
	if !sys.walk(steps) {
		return
	}
	t.Logf("access level run took %s", time.Since(start).Round(100*time.Millisecond))
}

// demoLevelsCreated: the demo's two AccessLevels become Ready, and each level exists in the
// manager's --access-policy with the declared title and conditions and runguard's mark.
func demoLevelsCreated(s *system) {
	s.mustKubectl("apply", "-f", "hack/demo/good/access-levels.yaml")
	for _, name := range []string{"corp-network", "managed-device"} {
		s.waitLevelConverged(name)
	}
	network := s.mustGoogleLevel(levelName("corp_network"))
	s.expectOwnedBy(network, "corp-network")
	if got, want := ranges(network), []string{"198.51.100.0/24", "203.0.113.0/24"}; network.GetTitle() != "Corp network" || !slices.Equal(got, want) {
		s.t.Errorf("corp_network in Google: title %q ranges %v, want \"Corp network\" and %v", network.GetTitle(), got, want)
	}
	if d := network.GetDescription(); !strings.HasPrefix(d, "The office networks.\n\n") {
		s.t.Errorf("corp_network's description %q does not keep the declared text before the mark", d)
	}
	device := s.mustGoogleLevel(levelName("managed_device"))
	s.expectOwnedBy(device, "managed-device")
	dp := device.GetBasic().GetConditions()[0].GetDevicePolicy()
	if !dp.GetRequireScreenlock() || len(dp.GetAllowedEncryptionStatuses()) != 1 || dp.GetAllowedEncryptionStatuses()[0].String() != "ENCRYPTED" {
		s.t.Errorf("managed_device's device policy in Google: %v", dp)
	}
	got := s.mustKubectl("get", "accesslevel", "corp-network", "-o", "jsonpath={.status.name}|{.status.meaning}")
	if want := levelName("corp_network") + "|from 198.51.100.0/24 or 203.0.113.0/24"; got != want {
		s.t.Errorf("corp-network status name|meaning = %q, want %q", got, want)
	}
}

// editedRangesReachGoogle: new CIDRs in the spec reach the level in Google with one masked
// update; the title, not edited, stays as it was.
func editedRangesReachGoogle(s *system) {
	full := levelName("corp_network")
	before := levelWrites(s, full)
	s.mustKubectl("patch", "accesslevel", "corp-network", "--type=json", "-p",
		`[{"op":"replace","path":"/spec/basic/conditions/0/ipSubnetworks","value":["203.0.113.0/24","192.0.2.0/24"]}]`)
	want := []string{"192.0.2.0/24", "203.0.113.0/24"}
	eventually(s.t, 30*time.Second, "corp_network's ranges follow the edit", func() error {
		if got := ranges(s.mustGoogleLevel(full)); !slices.Equal(got, want) {
			return fmt.Errorf("ranges %v, want %v", got, want)
		}
		return nil
	})
	s.waitLevelConverged("corp-network")
	l := s.mustGoogleLevel(full)
	if l.GetTitle() != "Corp network" {
		s.t.Errorf("title is %q after an edit of the ranges only, want \"Corp network\"", l.GetTitle())
	}
	s.expectOwnedBy(l, "corp-network")
	after := levelWrites(s, full)
	if after["acm.UpdateAccessLevel"]-before["acm.UpdateAccessLevel"] != 1 || after["acm.CreateAccessLevel"] != before["acm.CreateAccessLevel"] || after["acm.DeleteAccessLevel"] != 0 {
		s.t.Errorf("writes on %s for one edit: before %v, after %v; want exactly one UpdateAccessLevel", full, before, after)
	}
}

// levelDriftCorrectedByEvent: a range added to corp_network behind runguard's back (description
// and mark kept, as a console edit keeps them) is taken back well within the hourly resync, so
// by the audit entry the fake logged for the change.
func levelDriftCorrectedByEvent(s *system) {
	full := levelName("corp_network")
	declared := ranges(s.mustGoogleLevel(full))
	widened := s.mustGoogleLevel(full)
	widened.GetBasic().GetConditions()[0].IpSubnetworks = append(widened.GetBasic().GetConditions()[0].GetIpSubnetworks(), "0.0.0.0/0")
	updatesBefore := levelWrites(s, full)["acm.UpdateAccessLevel"]
	start := time.Now()
	if stored := s.putLevelOutOfBand(widened); !slices.Contains(ranges(stored), "0.0.0.0/0") {
		s.t.Fatalf("the out-of-band change did not take: the fake stored %v", ranges(stored))
	}
	var took time.Duration
	for time.Since(start) < 10*time.Second {
		if got := ranges(s.mustGoogleLevel(full)); slices.Equal(got, declared) {
			took = time.Since(start)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if took == 0 {
		s.t.Fatalf("corp_network still admits %v 10 s after it was widened out of band (resync is 1h), want %v", ranges(s.mustGoogleLevel(full)), declared)
	}
	s.t.Logf("access level drift corrected by event in %.1f s", took.Seconds())
	if n := levelWrites(s, full)["acm.UpdateAccessLevel"] - updatesBefore; n != 1 {
		s.t.Errorf("%d UpdateAccessLevel calls corrected the drift, want 1", n)
	}
	s.expectOwnedBy(s.mustGoogleLevel(full), "corp-network")
}

// levelNotOwnedLeftUntouched: an AccessLevel whose level name is the seed's corp_managed_device,
// which runguard did not make, is Stalled with AccessLevelNotOwned and never writes it; deleting
// the object (deletionPolicy Delete) leaves the level in Google too.
func levelNotOwnedLeftUntouched(s *system) {
	full := levelName("corp_managed_device")
	before := s.mustGoogleLevel(full)
	s.apply(`apiVersion: iap.runguard.dev/v1alpha1
kind: AccessLevel
metadata: {name: corp-managed-device}
spec:
  title: Any device
  basic:
    conditions:
    - regions: [DE]
`)
	s.waitLevelReason("corp-managed-device", "Stalled", "AccessLevelNotOwned")
	if _, _, msg := s.levelCondition("corp-managed-device", "Stalled"); !strings.Contains(msg, full) || !strings.Contains(msg, "iap.runguard.dev/adopt") {
		s.t.Errorf("Stalled message %q should name %s and the adopt annotation", msg, full)
	}
	s.mustKubectl("delete", "accesslevel", "corp-managed-device", "--timeout=60s")
	if after := s.mustGoogleLevel(full); !proto.Equal(before, after) {
		s.t.Errorf("a level runguard does not own changed:\nbefore %s\nafter  %s", protojson.Format(before), protojson.Format(after))
	}
	if w := levelWrites(s, full); len(w) != 0 {
		s.t.Errorf("runguard wrote a level it does not own: %v", w)
	}
}

// missingFullNameStalls: a group requiring a full name that is not in Access Context Manager
// stalls the object with AccessLevelNotFound, binds nothing for it, and the lockdown still runs
// on the public service: IAP on, allUsers gone. The level created out of band later is picked up
// by its audit entry, well before the 5-minute stalled recheck.
func missingFullNameStalls(s *system) {
	missing := levelName("vpn_only")
	s.apply(`apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: public-site, namespace: platform}
spec:
  service: {project: acme-prod, location: us-central1, name: public-site}
  accessGroups:
  - name: web-team
    members: ["group:web-team@acme.com"]
    context:
      accessLevels: [` + missing + `]
`)
	s.waitCondition("platform", "public-site", "Stalled")
	if _, reason, msg := s.psCondition("platform", "public-site", "Stalled"); reason != "AccessLevelNotFound" || !strings.Contains(msg, missing) {
		s.t.Errorf("Stalled %s: %s; want AccessLevelNotFound naming %s", reason, msg, missing)
	}
	eventually(s.t, 30*time.Second, "the lockdown of public-site", func() error {
		p := s.service(publicSite)
		if !p.IAPEnabled || grants(p.ServicePolicy, invokerRole, "allUsers") || p.Reconciling {
			return fmt.Errorf("iap=%v reconciling=%v invoker policy %s", p.IAPEnabled, p.Reconciling, bindingsText(p.ServicePolicy))
		}
		return nil
	})
	if titles := runguardTitles(s.service(publicSite).IAPPolicy); len(titles) != 0 {
		s.t.Errorf("a group requiring a missing level was bound: %v", titles)
	}
	// Once the lockdown's follow-up passes are over, only the stalled recheck (5 minutes) or an
	// event wakes the object again.
	s.waitQuiet(missing, 2*time.Second)

	s.admin(http.MethodPost, adminapi.AccessLevelsPath, s.levelJSON(&acmpb.AccessLevel{Name: missing, Title: "VPN only",
		Level: &acmpb.AccessLevel_Basic{Basic: &acmpb.BasicLevel{Conditions: []*acmpb.Condition{{IpSubnetworks: []string{"192.0.2.0/24"}}}}}}))
	created := time.Now()
	eventually(s.t, 10*time.Second, "platform/public-site Ready once the level exists", func() error {
		if st, reason, msg := s.psCondition("platform", "public-site", "Ready"); st != "True" {
			return fmt.Errorf("Ready=%s %s: %s", st, reason, msg)
		}
		return nil
	})
	s.t.Logf("the level's creation reached the object by its audit entry in %.1f s", time.Since(created).Seconds())
	s.expectGroup(s.service(publicSite).IAPPolicy, "runguard:web-team", "group:web-team@acme.com")
}

// levelObjectCreatedLater: a group may name an AccessLevel object before it exists (GitOps
// applies in any order): the object waits, Reconciling with AccessLevelNotReady, is never
// Stalled, and becomes Ready once the level is.
func levelObjectCreatedLater(s *system) {
	s.apply(`apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: billing-dashboard, namespace: finance}
spec:
  service: {project: acme-prod, location: us-central1, name: billing-dashboard}
  accessGroups:
  - name: finance-analysts
    members: ["group:finance-analysts@acme.com"]
    context:
      accessLevels: [berlin-office]
`)
	stalledSeen := s.watchStalled("finance", "billing-dashboard")
	eventually(s.t, 30*time.Second, "finance/billing-dashboard waits for the AccessLevel", func() error {
		if st, reason, msg := s.psCondition("finance", "billing-dashboard", "Reconciling"); st != "True" || reason != "AccessLevelNotReady" || !strings.Contains(msg, "berlin-office") {
			return fmt.Errorf("Reconciling=%s %s: %s", st, reason, msg)
		}
		return nil
	})
	s.apply(`apiVersion: iap.runguard.dev/v1alpha1
kind: AccessLevel
metadata: {name: berlin-office}
spec:
  basic:
    conditions:
    - ipSubnetworks: [198.51.100.0/25]
      regions: [DE]
`)
	s.waitConverged("finance", "billing-dashboard")
	if seen := stalledSeen(); seen != "" {
		s.t.Errorf("finance/billing-dashboard was Stalled (%s) while it waited for its AccessLevel", seen)
	}
	if _, reason, _ := s.psCondition("finance", "billing-dashboard", "Ready"); reason != "Protected" {
		s.t.Errorf("Ready reason %s, want Protected", reason)
	}
	if warnings := s.mustKubectl("get", "events", "-n", "finance", "--field-selector", "type=Warning,involvedObject.name=billing-dashboard", "-o", "name"); warnings != "" {
		s.t.Errorf("Warning events for finance/billing-dashboard: %s", warnings)
	}
	summary := s.mustKubectl("get", "protectedservice", "-n", "finance", "billing-dashboard", "-o", "jsonpath={.status.accessLevels[0].summary}")
	if !strings.HasPrefix(summary, "finance-analysts: ") || !strings.Contains(summary, "berlin-office") {
		s.t.Errorf("status.accessLevels summary %q does not name the group and its level", summary)
	}
	for _, b := range s.service(billing).IAPPolicy.Bindings {
		if b.Condition != nil && b.Condition.Title == "runguard:finance-analysts" &&
			!strings.Contains(b.Condition.Expression, `"`+levelName("berlin_office")+`" in request.auth.access_levels`) {
			s.t.Errorf("the binding's condition %q does not require %s", b.Condition.Expression, levelName("berlin_office"))
		}
	}
}

// abandonAndDelete: deleting an AccessLevel with deletionPolicy Abandon leaves its level in
// Google; with Delete (and no ProtectedService requiring it) the level goes.
func abandonAndDelete(s *system) {
	s.mustKubectl("patch", "accesslevel", "corp-network", "--type=merge", "-p", `{"spec":{"deletionPolicy":"Abandon"}}`)
	s.waitLevelConverged("corp-network")
	s.mustKubectl("delete", "accesslevel", "corp-network", "--timeout=60s")
	if l, ok := s.googleLevel(levelName("corp_network")); !ok {
		s.t.Errorf("deletionPolicy Abandon deleted %s", levelName("corp_network"))
	} else {
		s.expectOwnedBy(l, "corp-network")
	}

	s.mustKubectl("delete", "accesslevel", "managed-device", "--timeout=60s")
	if _, ok := s.googleLevel(levelName("managed_device")); ok {
		s.t.Errorf("deletionPolicy Delete left %s in Google", levelName("managed_device"))
	}
	if out, err := s.kubectl("", "get", "accesslevel", "managed-device"); err == nil || !strings.Contains(out, "NotFound") {
		s.t.Errorf("managed-device still exists after kubectl delete: %s", out)
	}
}
