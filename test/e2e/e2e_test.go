// Package e2e tests the built binaries end to end: the manager and the fake Google Cloud run as
// separate processes next to a real kube-apiserver, and the test drives them only through
// kubectl and the fake's admin endpoint, as a user (and Google's other writers) would.
package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

const (
	invokerRole  = "roles/run.invoker"
	accessorRole = "roles/iap.httpsResourceAccessor"
	// IAP's service agent in acme-prod (project number 512345678901 in hack/demo/seed.yaml).
	iapAgent = "serviceAccount:service-512345678901@gcp-sa-iap.iam.gserviceaccount.com"

	billing    = "acme-prod/us-central1/billing-dashboard"
	publicSite = "acme-prod/us-central1/public-site"
	opsConsole = "acme-prod/europe-west1/ops-console"
	reports    = "acme-prod/us-central1/reports"
	payroll    = "acme-payroll/us-central1/payroll-api"

	leaseName = "runguard.iap.runguard.dev"
)

// TestEndToEnd runs the whole system the way `make demo` does and walks a ProtectedService's
// life: create, edit, drift, crash, fail-over, delete. The steps share one system and run in
// order; the first failing step ends the run.
func TestEndToEnd(t *testing.T) {
	start := time.Now()
	sys := newSystem(t)
	// Tokens of namespace identities last 4 s, so a revoked token-creator grant shows at once.
	sys.startFake(filepath.Join(sys.root, "hack", "demo", "seed.yaml"), "--token-lifetime=4s")

	var leader, standby *proc
	steps := []step{
		{"CRDAndAdmissionPolicyInstalledWithKubectl", func(s *system) {
			s.installCRDs()
			s.mustKubectl("apply", "-k", "config/admission")
		}},
		{"ManagerStartsAndTakesTheLease", func(s *system) {
			leader = s.startManager("manager-1")
			s.waitForLease(leader)
		}},
		{"DoctorNamesWhatTheAdoptionIdentityLacks", func(s *system) { doctorNamesWhatIsMissing(s) }},
		{"ExportedProjectAppliedInObserveIsInSyncWithoutWrites", func(s *system) { exportedProjectObservedInSync(s) }},
		{"SamplesBecomeReady", func(s *system) { samplesBecomeReady(s) }},
		{"ExportOfAManagedServiceIsItsObjectAndPlansNoChange", func(s *system) { exportOfManagedServiceIsItsObject(s) }},
		{"InvalidManifestRejectedByKubectlApply", func(s *system) { invalidManifestRejected(s); invalidSettingsRejected(s) }},
		{"IAPSettingsKeptAsDeclared", func(s *system) { iapSettingsKeptAsDeclared(s) }},
		{"ProjectNotAllowedRefusedAtApplyWithoutTouchingGoogle", func(s *system) { projectNotAllowedRefused(s) }},
		{"NamespaceActsAsItsOwnGoogleIdentity", func(s *system) { namespaceIdentity(s) }},
		{"EditedAccessGroupIsFollowedInGoogle", func(s *system) { editedGroupFollowed(s) }},
		{"RemovedGroupLosesOnlyItsBinding", func(s *system) { removedGroupLosesOnlyItsBinding(s) }},
		{"OutOfBandChangesCorrectedForeignBindingKept", func(s *system) { outOfBandChangesCorrected(s) }},
		{"ManagerKilledMidReconcileConvergesAfterRestart", func(s *system) {
			leader = managerKilledMidReconcile(s, leader)
		}},
		{"OnlyTheLeaderWrites", func(s *system) {
			standby = s.startManager("manager-2")
			onlyTheLeaderWrites(s, leader, standby)
		}},
		{"KillingTheLeaderHandsOverWithinTheLease", func(s *system) {
			killingTheLeaderHandsOver(s, leader, standby)
			leader, standby = standby, nil
		}},
		{"DeleteWithDeletePolicyRemovesOwnBindingsOnly", func(s *system) { deleteWithDeletePolicy(s) }},
		{"DeleteWithAbandonPolicyLeavesGoogleAsIs", func(s *system) { deleteWithAbandonPolicy(s) }},
	}
	if !sys.walk(steps) {
		return
	}
	t.Logf("end-to-end run took %s", time.Since(start).Round(100*time.Millisecond))
}

func samplesBecomeReady(s *system) {
	s.mustKubectl("apply", "-f", "hack/demo/namespaces.yaml")
	samples, err := filepath.Glob(filepath.Join(s.root, "config", "samples", "*.yaml"))
	if err != nil || len(samples) == 0 {
		s.t.Fatalf("no samples in config/samples: %v", err)
	}
	for _, f := range samples {
		if filepath.Base(f) != "kustomization.yaml" {
			s.mustKubectl("apply", "-f", f)
		}
	}
	s.mustKubectl("apply", "-f", "hack/demo/good/")
	objects := [][2]string{{"finance", "billing-dashboard"}, {"platform", "public-site"}, {"platform", "ops-console"}}
	for _, o := range objects {
		s.waitCondition(o[0], o[1], "Ready")
	}
	for _, o := range objects {
		got := s.mustKubectl("get", "protectedservice", "-n", o[0], o[1], "-o",
			`jsonpath={range .status.conditions[*]}{.type}={.status} {end}`)
		for _, c := range []string{"InvokerGranted=True", "AccessBound=True", "IAPEnabled=True", "PublicAccessRevoked=True", "Stalled=False"} {
			if !strings.Contains(got, c) {
				s.t.Errorf("%s/%s: want %s, conditions are %s", o[0], o[1], c, got)
			}
		}
		if fin := s.mustKubectl("get", "protectedservice", "-n", o[0], o[1], "-o", "jsonpath={.metadata.finalizers}"); !strings.Contains(fin, "iap.runguard.dev/finalizer") {
			s.t.Errorf("%s/%s has no finalizer: %s", o[0], o[1], fin)
		}
	}

	b := s.service(billing)
	if !b.IAPEnabled {
		s.t.Errorf("%s: IAP is off", billing)
	}
	for _, m := range []string{iapAgent, "serviceAccount:scheduler@acme-prod.iam.gserviceaccount.com"} {
		if !grants(b.ServicePolicy, invokerRole, m) {
			s.t.Errorf("%s: %s may not invoke; policy %s", billing, m, bindingsText(b.ServicePolicy))
		}
	}
	s.expectGroup(b.IAPPolicy, "runguard:finance-analysts", "group:finance-analysts@acme.com", "user:cfo@acme.com")
	s.expectGroup(b.IAPPolicy, "runguard:auditors", "group:auditors@acme.com")
	for _, bd := range b.IAPPolicy.Bindings {
		if bd.Condition == nil || bd.Condition.Title != "runguard:finance-analysts" {
			continue
		}
		if want := "managed-by=runguard cluster=e2e namespace=finance name=billing-dashboard"; bd.Condition.Description != want {
			s.t.Errorf("marker is %q, want %q", bd.Condition.Description, want)
		}
		for _, clause := range []string{`"accessPolicies/123456789/accessLevels/corp_managed_device" in request.auth.access_levels`,
			`request.path.startsWith("/reports/")`, `request.host == "billing.acme.com"`} {
			if !strings.Contains(bd.Condition.Expression, clause) {
				s.t.Errorf("condition %q lacks %s", bd.Condition.Expression, clause)
			}
		}
	}

	p := s.service(publicSite)
	if !p.IAPEnabled || p.InvokerIAMDisabled || grants(p.ServicePolicy, invokerRole, "allUsers") || !grants(p.ServicePolicy, invokerRole, iapAgent) {
		s.t.Errorf("%s should be behind IAP, invocable by IAP's agent only: iap=%v invokerIamDisabled=%v policy %s",
			publicSite, p.IAPEnabled, p.InvokerIAMDisabled, bindingsText(p.ServicePolicy))
	}
	s.expectGroup(p.IAPPolicy, "runguard:web-team", "group:web-team@acme.com", "user:marketing-lead@acme.com")

	o := s.service(opsConsole)
	s.expectGroup(o.IAPPolicy, "runguard:sre", "group:sre@acme.com", "user:oncall@acme.com")
	s.expectForeignKept(o.IAPPolicy)
	s.expectDemoLevelsInForce()
}

// expectForeignKept checks the bindings hack/demo/seed.yaml granted by hand on ops-console.
func (s *system) expectForeignKept(p adminapi.Policy) {
	s.t.Helper()
	s.expectGroup(p, "", "user:legacy-admin@acme.com")
	s.expectGroup(p, "break-glass until year end", "group:break-glass@acme.com")
}

// expectGroup checks that exactly one accessor binding has the condition title and the members.
func (s *system) expectGroup(p adminapi.Policy, title string, members ...string) {
	s.t.Helper()
	got, n := boundMembers(p, accessorRole, title)
	slices.Sort(members)
	if n != 1 || !slices.Equal(got, members) {
		s.t.Errorf("accessor binding %q: want one binding with %v, got %d binding(s) with %v; policy %s", title, members, n, got, bindingsText(p))
	}
}

func invalidManifestRejected(s *system) {
	out, err := s.kubectl("", "apply", "-f", "hack/demo/bad/rejected-invalid-window.yaml")
	if err == nil || !strings.Contains(out, "notBefore must be earlier than notAfter") {
		s.t.Errorf("kubectl apply of an access window that ends before it starts: err=%v, output %q; want a rejection saying notBefore must be earlier than notAfter", err, out)
	}
	out, err = s.kubectl(`apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: everyone, namespace: finance}
spec:
  service: {project: acme-prod, location: us-central1, name: billing-dashboard}
  accessGroups:
  - name: everyone
    members: [allUsers]
`, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "allUsers and allAuthenticatedUsers cannot be IAP members") {
		s.t.Errorf("kubectl apply with allUsers as a member: err=%v, output %q; want the CRD's message", err, out)
	}
	for _, name := range []string{"contractor-access", "everyone"} {
		if out, err := s.kubectl("", "get", "protectedservice", "-n", "finance", name); err == nil || !strings.Contains(out, "NotFound") {
			s.t.Errorf("rejected object %s exists: %v %s", name, err, out)
		}
	}
}

// projectNotAllowedRefused: the tenancy admission policy refuses, at kubectl apply, an object
// its namespace may not target, with the words the controller would use in its Stalled condition.
func projectNotAllowedRefused(s *system) {
	const manifest = "hack/demo/bad/refused-project-not-allowed.yaml"
	var out string
	eventually(s.t, 30*time.Second, "the admission policy refuses "+manifest, func() error {
		var err error
		if out, err = s.kubectl("", "apply", "-f", manifest); err == nil {
			s.mustKubectl("delete", "-f", manifest, "--wait=false") // stored before the binding took effect
			return fmt.Errorf("admitted: %s", out)
		}
		return nil
	})
	if !strings.Contains(out, "Namespace finance may not target Cloud Run service acme-payroll/us-central1/payroll-api") {
		s.t.Errorf("kubectl apply said %q, want the tenancy message", out)
	}
	for _, c := range s.calls() {
		if strings.Contains(c.Resource, "acme-payroll") || strings.Contains(c.Resource, "598765432109") {
			s.t.Errorf("runguard called Google for a project the namespace may not target: %+v", c)
		}
	}
	p := s.service(payroll)
	if p.IAPEnabled || !grants(p.ServicePolicy, invokerRole, "allUsers") {
		s.t.Errorf("%s changed: iap=%v policy %s", payroll, p.IAPEnabled, bindingsText(p.ServicePolicy))
	}
}

func editedGroupFollowed(s *system) {
	s.mustKubectl("patch", "protectedservice", "-n", "finance", "billing-dashboard", "--type=json", "-p",
		`[{"op":"replace","path":"/spec/accessGroups/0/members","value":["group:finance-analysts@acme.com","user:controller@acme.com"]}]`)
	want := []string{"group:finance-analysts@acme.com", "user:controller@acme.com"}
	eventually(s.t, 30*time.Second, "finance-analysts binding follows the edit", func() error {
		got, _ := boundMembers(s.service(billing).IAPPolicy, accessorRole, "runguard:finance-analysts")
		if !slices.Equal(got, want) {
			return fmt.Errorf("members %v, want %v", got, want)
		}
		return nil
	})
	s.waitConverged("finance", "billing-dashboard")
	b := s.service(billing)
	s.expectGroup(b.IAPPolicy, "runguard:finance-analysts", want...)
	s.expectGroup(b.IAPPolicy, "runguard:auditors", "group:auditors@acme.com")
	if n := s.mustKubectl("get", "protectedservice", "-n", "finance", "billing-dashboard", "-o", "jsonpath={.status.memberCount}"); n != "3" {
		s.t.Errorf("status.memberCount = %s, want 3", n)
	}
}

func removedGroupLosesOnlyItsBinding(s *system) {
	before := s.service(billing)
	s.mustKubectl("patch", "protectedservice", "-n", "finance", "billing-dashboard", "--type=json", "-p",
		`[{"op":"test","path":"/spec/accessGroups/1/name","value":"auditors"},{"op":"remove","path":"/spec/accessGroups/1"}]`)
	eventually(s.t, 30*time.Second, "the auditors binding goes", func() error {
		if _, n := boundMembers(s.service(billing).IAPPolicy, accessorRole, "runguard:auditors"); n != 0 {
			return fmt.Errorf("%d runguard:auditors binding(s) left", n)
		}
		return nil
	})
	s.waitConverged("finance", "billing-dashboard")
	after := s.service(billing)
	if want, got := canonical(without(before.IAPPolicy, "runguard:auditors")), canonical(after.IAPPolicy); !slices.Equal(want, got) {
		s.t.Errorf("removing the auditors group changed more than its binding:\nwant %v\ngot  %v", want, got)
	}
	if want, got := canonical(before.ServicePolicy), canonical(after.ServicePolicy); !slices.Equal(want, got) {
		s.t.Errorf("removing a group changed the invoker policy:\nwant %v\ngot  %v", want, got)
	}
}

func outOfBandChangesCorrected(s *system) {
	b := s.service(billing)
	tampered := adminapi.Policy{Version: 3}
	for _, bd := range b.IAPPolicy.Bindings {
		if bd.Condition != nil && bd.Condition.Title == "runguard:finance-analysts" {
			bd.Members = slices.DeleteFunc(slices.Clone(bd.Members), func(m string) bool { return m == "user:controller@acme.com" })
		}
		tampered.Bindings = append(tampered.Bindings, bd)
	}
	tampered.Bindings = append(tampered.Bindings, adminapi.Binding{Role: accessorRole, Members: []string{"user:contractor@acme.com"}})
	s.admin(http.MethodPut, adminapi.IAPPolicyPath+"/"+billing, tampered)
	public := b.ServicePolicy
	public.Etag = nil
	public.Bindings = append(slices.Clone(public.Bindings), adminapi.Binding{Role: invokerRole, Members: []string{"allUsers"}})
	s.admin(http.MethodPut, adminapi.ServicePolicyPath+"/"+billing, public)
	if got := s.service(billing); !grants(got.ServicePolicy, invokerRole, "allUsers") {
		s.t.Fatalf("the out-of-band grant of allUsers did not take: %s", bindingsText(got.ServicePolicy))
	}

	eventually(s.t, 30*time.Second, "runguard restores the declared state", func() error {
		now := s.service(billing)
		if got, _ := boundMembers(now.IAPPolicy, accessorRole, "runguard:finance-analysts"); !slices.Equal(got, []string{"group:finance-analysts@acme.com", "user:controller@acme.com"}) {
			return fmt.Errorf("finance-analysts members %v", got)
		}
		if grants(now.ServicePolicy, invokerRole, "allUsers") {
			return fmt.Errorf("allUsers may still invoke")
		}
		return nil
	})
	now := s.service(billing)
	s.expectGroup(now.IAPPolicy, "", "user:contractor@acme.com")
	if !grants(now.ServicePolicy, invokerRole, iapAgent) || !now.IAPEnabled {
		s.t.Errorf("after the correction: iap=%v invoker policy %s", now.IAPEnabled, bindingsText(now.ServicePolicy))
	}
}

// managerKilledMidReconcile SIGKILLs the leader after it wrote a new object's access bindings and
// while its request to switch IAP on hangs, starts it again and checks that everything converges
// with no binding duplicated or lost. It returns the restarted manager.
func managerKilledMidReconcile(s *system, leader *proc) *proc {
	s.admin(http.MethodPost, adminapi.ServicesPath, adminapi.Service{Project: "acme-prod", Location: "us-central1", Name: "reports", Public: true})
	others := map[string]adminapi.ServiceState{}
	for _, ref := range []string{billing, publicSite, opsConsole} {
		others[ref] = s.service(ref)
	}
	s.admin(http.MethodPost, adminapi.FaultsPath, adminapi.FaultRule{Method: "run.UpdateService", Latency: "20s"})
	s.admin(http.MethodDelete, adminapi.CallsPath, nil)
	s.apply(`apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: reports, namespace: finance}
spec:
  service: {project: acme-prod, location: us-central1, name: reports}
  accessGroups:
  - name: analysts
    members: ["group:finance-analysts@acme.com", "user:controller@acme.com"]
  - name: auditors
    members: ["group:auditors@acme.com"]
    context: {pathPrefixes: ["/audit/"]}
`)
	resource := s.service(reports).IAPResource
	eventually(s.t, 30*time.Second, "the manager writes the access bindings of finance/reports", func() error {
		for _, c := range s.calls() {
			if c.Method == "iap.SetIamPolicy" && c.Resource == resource && c.Code == "OK" {
				return nil
			}
		}
		return fmt.Errorf("no iap.SetIamPolicy on %s yet", resource)
	})
	leader.kill(s.t, syscall.SIGKILL)
	s.admin(http.MethodDelete, adminapi.FaultsPath, nil)
	mid := s.service(reports)
	if mid.IAPEnabled {
		s.t.Fatalf("IAP was already on when the manager was killed: the kill did not land mid-way")
	}
	s.t.Logf("killed %s mid-way: bindings %v written, IAP still off", leader.name, runguardTitles(mid.IAPPolicy))

	restarted := s.startManager("manager-1-restarted")
	s.waitForLease(restarted)
	s.waitConverged("finance", "reports")

	r := s.service(reports)
	if !r.IAPEnabled || grants(r.ServicePolicy, invokerRole, "allUsers") || !grants(r.ServicePolicy, invokerRole, iapAgent) {
		s.t.Errorf("%s after restart: iap=%v invoker policy %s", reports, r.IAPEnabled, bindingsText(r.ServicePolicy))
	}
	if titles := runguardTitles(r.IAPPolicy); len(titles) != 2 || titles["runguard:analysts"] != 1 || titles["runguard:auditors"] != 1 {
		s.t.Errorf("runguard bindings after restart: %v, want exactly one each of runguard:analysts and runguard:auditors", titles)
	}
	s.expectGroup(r.IAPPolicy, "runguard:analysts", "group:finance-analysts@acme.com", "user:controller@acme.com")
	s.expectGroup(r.IAPPolicy, "runguard:auditors", "group:auditors@acme.com")
	for ref, before := range others {
		after := s.service(ref)
		if !slices.Equal(canonical(before.IAPPolicy), canonical(after.IAPPolicy)) || !slices.Equal(canonical(before.ServicePolicy), canonical(after.ServicePolicy)) {
			s.t.Errorf("%s changed across the crash:\nIAP before %v\nIAP after  %v\ninvoker before %v\ninvoker after  %v", ref,
				canonical(before.IAPPolicy), canonical(after.IAPPolicy), canonical(before.ServicePolicy), canonical(after.ServicePolicy))
		}
	}
	return restarted
}

func onlyTheLeaderWrites(s *system, leader, standby *proc) {
	eventually(s.t, 15*time.Second, standby.name+" tries to take the lease", func() error {
		if !strings.Contains(standby.logText(s.t), "Attempting to acquire leader lease") {
			return fmt.Errorf("no attempt logged yet")
		}
		return nil
	})
	s.admin(http.MethodDelete, adminapi.CallsPath, nil)
	s.mustKubectl("patch", "protectedservice", "-n", "platform", "public-site", "--type=json", "-p",
		`[{"op":"add","path":"/spec/accessGroups/0/members/-","value":"user:oncall@acme.com"}]`)
	eventually(s.t, 30*time.Second, "the new member reaches Google", func() error {
		got, _ := boundMembers(s.service(publicSite).IAPPolicy, accessorRole, "runguard:web-team")
		if !slices.Contains(got, "user:oncall@acme.com") {
			return fmt.Errorf("web-team members %v", got)
		}
		return nil
	})
	s.waitConverged("platform", "public-site")

	resource := s.service(publicSite).IAPResource
	writes := 0
	for _, c := range s.calls() {
		if c.Method == "iap.SetIamPolicy" && c.Resource == resource {
			writes++
		}
		if c.Code == "ABORTED" {
			s.t.Errorf("a concurrent writer hit an etag conflict: %+v", c)
		}
	}
	if writes != 1 {
		s.t.Errorf("%d iap.SetIamPolicy calls on %s for one edit, want exactly 1", writes, resource)
	}
	if standby.exited() {
		s.t.Fatalf("the standby %s exited: %v", standby.name, standby.err)
	}
	standbyLog := standby.logText(s.t)
	for _, line := range []string{"Starting workers", `"Reconciling"`, "Successfully acquired lease"} {
		if strings.Contains(standbyLog, line) {
			s.t.Errorf("the standby %s logged %s while %s held the lease", standby.name, line, leader.name)
		}
	}
	if !reconciled(leader.logText(s.t), "platform", "public-site") {
		s.t.Errorf("the leader %s logged no reconcile of platform/public-site", leader.name)
	}
}

func killingTheLeaderHandsOver(s *system, leader, standby *proc) {
	before := s.leaseHolder()
	leader.kill(s.t, syscall.SIGKILL)
	killed := time.Now()
	eventually(s.t, 30*time.Second, "the standby takes the lease", func() error {
		if h := s.leaseHolder(); h == before || h == "" {
			return fmt.Errorf("holder still %q", h)
		}
		return nil
	})
	handover := time.Since(killed)
	s.t.Logf("lease handed over %s after the leader was killed (lease duration %s, retry period %s)",
		handover.Round(100*time.Millisecond), leaseDuration, retryPeriod)
	// The standby needs the lease to look unrenewed for a whole lease duration, measured from
	// when it last saw a renewal (up to one retry period late), and notices at its next retry.
	if limit := leaseDuration + 3*retryPeriod + 2*time.Second; handover > limit {
		s.t.Errorf("handover took %s, more than %s", handover, limit)
	}
	eventually(s.t, 10*time.Second, standby.name+" logs the lease", func() error {
		if !strings.Contains(standby.logText(s.t), "Successfully acquired lease") {
			return fmt.Errorf("not yet")
		}
		return nil
	})

	s.mustKubectl("patch", "protectedservice", "-n", "platform", "public-site", "--type=json", "-p",
		`[{"op":"test","path":"/spec/accessGroups/0/members/2","value":"user:oncall@acme.com"},{"op":"remove","path":"/spec/accessGroups/0/members/2"}]`)
	eventually(s.t, 30*time.Second, "the new leader applies the next edit", func() error {
		got, _ := boundMembers(s.service(publicSite).IAPPolicy, accessorRole, "runguard:web-team")
		if slices.Contains(got, "user:oncall@acme.com") {
			return fmt.Errorf("web-team members %v", got)
		}
		return nil
	})
	s.waitConverged("platform", "public-site")
	if !reconciled(standby.logText(s.t), "platform", "public-site") {
		s.t.Errorf("the new leader %s logged no reconcile of platform/public-site", standby.name)
	}
}

func deleteWithDeletePolicy(s *system) {
	s.mustKubectl("delete", "protectedservice", "-n", "finance", "billing-dashboard", "--timeout=60s")
	if out, err := s.kubectl("", "get", "protectedservice", "-n", "finance", "billing-dashboard"); err == nil || !strings.Contains(out, "NotFound") {
		s.t.Fatalf("billing-dashboard still exists after kubectl delete: %s", out)
	}
	b := s.service(billing)
	if titles := runguardTitles(b.IAPPolicy); len(titles) != 0 {
		s.t.Errorf("deletionPolicy Delete left runguard bindings: %v", titles)
	}
	s.expectGroup(b.IAPPolicy, "", "user:contractor@acme.com")
	if !b.IAPEnabled || !grants(b.ServicePolicy, invokerRole, iapAgent) {
		s.t.Errorf("after delete IAP should stay on (fail closed): iap=%v invoker policy %s", b.IAPEnabled, bindingsText(b.ServicePolicy))
	}
}

func deleteWithAbandonPolicy(s *system) {
	before := s.service(opsConsole)
	s.mustKubectl("delete", "protectedservice", "-n", "platform", "ops-console", "--timeout=60s")
	if out, err := s.kubectl("", "get", "protectedservice", "-n", "platform", "ops-console"); err == nil || !strings.Contains(out, "NotFound") {
		s.t.Fatalf("ops-console still exists after kubectl delete: %s", out)
	}
	after := s.service(opsConsole)
	if !slices.Equal(canonical(before.IAPPolicy), canonical(after.IAPPolicy)) || !after.IAPEnabled {
		s.t.Errorf("deletionPolicy Abandon changed Google:\nbefore %v\nafter  %v (iap=%v)", canonical(before.IAPPolicy), canonical(after.IAPPolicy), after.IAPEnabled)
	}
	s.expectGroup(after.IAPPolicy, "runguard:sre", "group:sre@acme.com", "user:oncall@acme.com")
	s.expectForeignKept(after.IAPPolicy)
}

// waitForLease waits until the manager logs that it holds the leader lease.
func (s *system) waitForLease(p *proc) {
	s.t.Helper()
	// A killed leader's lease must expire first.
	eventually(s.t, leaseDuration+20*time.Second, p.name+" acquires the lease", func() error {
		if p.exited() {
			s.t.Fatalf("%s exited: %v", p.name, p.err)
		}
		if !strings.Contains(p.logText(s.t), "Successfully acquired lease") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}

func (s *system) leaseHolder() string {
	s.t.Helper()
	out, err := s.kubectl("", "get", "lease", "-n", "default", leaseName, "-o", "jsonpath={.spec.holderIdentity}")
	if err != nil {
		s.t.Fatalf("read the lease: %v: %s", err, out)
	}
	return out
}

// reconciled reports whether a manager log holds a controller-runtime "Reconciling" line
// (logged at V(5)) for the object.
func reconciled(log, namespace, name string) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"Reconciling"`) && strings.Contains(line, `"name":"`+name+`"`) && strings.Contains(line, `"namespace":"`+namespace+`"`) {
			return true
		}
	}
	return false
}

// canonical renders a policy's bindings in a stable order, for comparing policies.
func canonical(p adminapi.Policy) []string {
	var out []string
	for _, b := range p.Bindings {
		members := slices.Clone(b.Members)
		slices.Sort(members)
		c := ""
		if b.Condition != nil {
			c = fmt.Sprintf(" if [%s|%s|%s]", b.Condition.Title, b.Condition.Description, b.Condition.Expression)
		}
		out = append(out, b.Role+" "+strings.Join(members, ",")+c)
	}
	slices.Sort(out)
	return out
}

// namespaceIdentity: namespace platform names its own Google service account; everything
// written for its objects was written as that account, finance's as runguard's own. When
// runguard may no longer mint its tokens, its objects are Stalled with what to do (the fake's
// tokens last 4 s), and they recover when the grant is back.
func namespaceIdentity(s *system) {
	const (
		platformSA = "platform-team@acme-ops.iam.gserviceaccount.com"
		runguardSA = "serviceAccount:runguard@acme-ops.iam.gserviceaccount.com"
	)
	// Successful writes on a service and on its IAP resource, by caller. For billing-dashboard
	// only the service counts: the settings step wrote its IAP settings as an unauthenticated
	// other tool, which the fake takes for its default caller, runguard.
	writers := func(ref string, iapToo bool) map[string]int {
		svc := s.service(ref)
		out := map[string]int{}
		for _, c := range s.calls() {
			if c.Write && c.Code == "OK" && (c.Resource == svc.Name || iapToo && c.Resource == svc.IAPResource) {
				out[c.Caller]++
			}
		}
		return out
	}
	for _, check := range []struct {
		ref, want string
		iapToo    bool
	}{{publicSite, "serviceAccount:" + platformSA, true}, {opsConsole, "serviceAccount:" + platformSA, true}, {billing, runguardSA, false}} {
		if w := writers(check.ref, check.iapToo); len(w) != 1 || w[check.want] == 0 {
			s.t.Errorf("%s was written by %v, want only %s", check.ref, w, check.want)
		}
	}

	token := adminapi.TokenCreatorPath(platformSA, runguardSA)
	s.admin(http.MethodDelete, token, nil)
	eventually(s.t, 30*time.Second, "platform/public-site Stalled with NamespaceIdentityUnusable", func() error {
		got := s.mustKubectl("get", "protectedservice", "-n", "platform", "public-site", "-o",
			`jsonpath={.status.conditions[?(@.type=="Stalled")].reason}`)
		if got != "NamespaceIdentityUnusable" {
			return fmt.Errorf("Stalled reason %q", got)
		}
		return nil
	})
	msg := s.mustKubectl("get", "protectedservice", "-n", "platform", "public-site", "-o",
		`jsonpath={.status.conditions[?(@.type=="Stalled")].message}`)
	for _, want := range []string{platformSA, "iam.serviceAccounts.getAccessToken", "roles/iam.serviceAccountTokenCreator"} {
		if !strings.Contains(msg, want) {
			s.t.Errorf("Stalled message %q does not mention %s", msg, want)
		}
	}
	s.admin(http.MethodPut, token, nil)
	s.waitConverged("platform", "public-site")
}
