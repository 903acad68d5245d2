package controllers_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
)

const (
	accessor = "roles/iap.httpsResourceAccessor"
	invoker  = "roles/run.invoker"
)

func agentOf(number string) string {
	return "serviceAccount:service-" + number + "@gcp-sa-iap.iam.gserviceaccount.com"
}

func TestSample_BecomesReadyWithExactlyTheDeclaredState(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfakeService) { s.Public = true }))
	ps := w.object("billing-dashboard",
		group("finance-analysts", "group:finance-analysts@acme.com", "user:cfo@acme.com"),
		group("auditors", "group:auditors@acme.com"))
	ps.Spec.AccessGroups[0].Context = &iapv1alpha1.AccessContext{
		AccessLevels: []iapv1alpha1.AccessLevelRef{"accessPolicies/123456789/accessLevels/corp_managed_device"},
		PathPrefixes: []iapv1alpha1.PathPrefix{"/reports/"},
		Hosts:        []iapv1alpha1.Host{"billing.acme.com"},
		Expression:   `request.time.getHours("Europe/Berlin") < 20`,
	}
	w.create(ps)
	got := w.waitReady("billing-dashboard")

	for _, c := range []string{iapv1alpha1.ConditionInvokerGranted, iapv1alpha1.ConditionAccessBound, iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ConditionPublicAccessRevoked} {
		w.waitFor("billing-dashboard", c, metav1.ConditionTrue, "")
	}
	if !w.cloudRun().GetIapEnabled() {
		t.Error("IAP is not enabled on the service")
	}
	if got.Status.ProjectNumber != "123456789012" || got.Status.IAPResource != w.iapTarget || got.Status.ServiceURI == "" {
		t.Errorf("status target fields: number %q resource %q uri %q", got.Status.ProjectNumber, got.Status.IAPResource, got.Status.ServiceURI)
	}
	if got.Status.MemberCount != 3 || len(got.Status.ManagedBindings) != 2 {
		t.Errorf("status bindings: %d members, %+v", got.Status.MemberCount, got.Status.ManagedBindings)
	}

	svcPolicy := bindingsOf(w.servicePolicy())
	if want := []string{agentOf("123456789012")}; !slices.Equal(svcPolicy[invoker+"|"], want) {
		t.Errorf("run.invoker = %v, want only %v (public access revoked)", svcPolicy[invoker+"|"], want)
	}
	iap := bindingsOf(w.iapPolicy())
	want := map[string][]string{
		accessor + "|runguard:finance-analysts": {"group:finance-analysts@acme.com", "user:cfo@acme.com"},
		accessor + "|runguard:auditors":         {"group:auditors@acme.com"},
	}
	if len(iap) != len(want) {
		t.Errorf("IAP policy bindings = %v, want %v", iap, want)
	}
	for k, members := range want {
		got := slices.Clone(iap[k])
		slices.Sort(got)
		if !slices.Equal(got, members) {
			t.Errorf("binding %s = %v, want %v", k, got, members)
		}
	}
	if v := w.iapPolicy().GetVersion(); v != 3 {
		t.Errorf("IAP policy version %d, want 3 (conditional bindings)", v)
	}

	// Order: invoker grant, access bindings, IAP on, then lockdown.
	wantOrder := []string{"run.SetIamPolicy", "iap.SetIamPolicy", "run.UpdateService", "run.SetIamPolicy"}
	if writes := w.writes(); !slices.Equal(writes, wantOrder) {
		t.Errorf("Google writes = %v, want %v", writes, wantOrder)
	}
}

func TestNoChangeReconcile_MakesNoGoogleWrites(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("quiet", group("devs", "user:alice@acme.com")))
	before := w.waitReady("quiet")
	writes := len(w.writes())
	reads := func() int {
		n := 0
		for _, c := range fake.Calls() {
			if c.Method == "run.GetService" && c.Resource == w.fullName {
				n++
			}
		}
		return n
	}
	start := reads()
	eventually(t, 5*resync, "two resyncs", func() error {
		if reads() < start+2 {
			return errNotYet
		}
		return nil
	})
	if got := len(w.writes()); got != writes {
		t.Errorf("resyncs of an unchanged object wrote to Google: %v", w.writes()[writes:])
	}
	after := w.get("quiet")
	// Zero Kubernetes writes: not even lastSyncTime (written only with another status change).
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("a quiet resync wrote the object: resourceVersion %s → %s, status %+v → %+v", before.ResourceVersion, after.ResourceVersion, before.Status, after.Status)
	}
}

func TestMerge_LeavesEverythingItDoesNotOwnAlone(t *testing.T) {
	t.Parallel()
	foreign := &iampb.Policy{
		Version: 3,
		Bindings: []*iampb.Binding{
			{Role: accessor, Members: []string{"user:bob@acme.com"}},
			{Role: accessor, Members: []string{"user:carol@acme.com"}, Condition: &expr.Expr{Title: "office-hours", Expression: `request.time.getHours("UTC") < 18`}},
			{Role: "roles/iap.admin", Members: []string{"user:dave@acme.com"}},
		},
		AuditConfigs: []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ}}}},
	}
	w := newWorld(t, withService(func(s *gcpfakeService) { s.IAPPolicy = foreign }))
	w.create(w.object("merge", group("devs", "user:alice@acme.com", "user:bob@acme.com")))
	w.waitReady("merge")

	p := w.iapPolicy()
	b := bindingsOf(p)
	if !slices.Equal(b[accessor+"|"], []string{"user:bob@acme.com"}) ||
		!slices.Equal(b[accessor+"|office-hours"], []string{"user:carol@acme.com"}) ||
		!slices.Equal(b["roles/iap.admin|"], []string{"user:dave@acme.com"}) {
		t.Errorf("foreign bindings changed: %v", b)
	}
	if len(p.GetAuditConfigs()) != 1 {
		t.Errorf("audit configs changed: %v", p.GetAuditConfigs())
	}
	if got := b[accessor+"|runguard:devs"]; len(got) != 2 {
		t.Errorf("our binding = %v", got)
	}
}

func TestExclusive_RemovesOnlyUnmarkedAccessors(t *testing.T) {
	t.Parallel()
	foreign := &iampb.Policy{Bindings: []*iampb.Binding{
		{Role: accessor, Members: []string{"user:mallory@acme.com"}},
		{Role: "roles/iap.admin", Members: []string{"user:dave@acme.com"}},
	}}
	w := newWorld(t, withService(func(s *gcpfakeService) { s.IAPPolicy = foreign }))
	ps := w.object("exclusive", group("devs", "user:alice@acme.com"))
	ps.Spec.BindingPolicy = iapv1alpha1.BindingPolicyExclusive
	w.create(ps)
	w.waitReady("exclusive")
	b := bindingsOf(w.iapPolicy())
	if _, ok := b[accessor+"|"]; ok {
		t.Errorf("unmarked accessor binding kept in Exclusive mode: %v", b)
	}
	if !slices.Equal(b["roles/iap.admin|"], []string{"user:dave@acme.com"}) {
		t.Errorf("another role was touched: %v", b)
	}
}

func TestRemovingAGroup_RemovesOnlyItsBinding(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("groups", group("devs", "user:alice@acme.com"), group("ops", "user:bob@acme.com")))
	w.waitReady("groups")
	w.update("groups", func(ps *iapv1alpha1.ProtectedService) { ps.Spec.AccessGroups = ps.Spec.AccessGroups[:1] })
	w.waitReady("groups")
	b := bindingsOf(w.iapPolicy())
	if _, ok := b[accessor+"|runguard:ops"]; ok {
		t.Errorf("removed group still bound: %v", b)
	}
	if !slices.Equal(b[accessor+"|runguard:devs"], []string{"user:alice@acme.com"}) {
		t.Errorf("remaining group changed: %v", b)
	}
}

func TestOwnershipSurvivesLosingTheObject(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ps := w.object("restored", group("devs", "user:alice@acme.com"), group("ops", "user:bob@acme.com"))
	ps.Spec.DeletionPolicy = iapv1alpha1.DeletionPolicyAbandon
	w.create(ps)
	w.waitReady("restored")
	if err := k8s.Delete(context.Background(), w.get("restored")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "object gone", func() error { return existsErr(w.ns, "restored") })
	if len(bindingsOf(w.iapPolicy())) != 2 {
		t.Fatalf("Abandon removed bindings: %v", bindingsOf(w.iapPolicy()))
	}
	// Re-created from Git without status, and without the ops group.
	w.create(w.object("restored", group("devs", "user:alice@acme.com")))
	w.waitReady("restored")
	b := bindingsOf(w.iapPolicy())
	if _, ok := b[accessor+"|runguard:ops"]; ok {
		t.Errorf("the removed group kept access after the object was re-created: %v", b)
	}
}

func TestDelete_RemovesOwnBindingsAndLeavesIAPOn(t *testing.T) {
	t.Parallel()
	foreign := &iampb.Policy{Bindings: []*iampb.Binding{{Role: accessor, Members: []string{"user:bob@acme.com"}}}}
	w := newWorld(t, withService(func(s *gcpfakeService) { s.IAPPolicy = foreign }))
	w.create(w.object("gone", group("devs", "user:alice@acme.com")))
	w.waitReady("gone")
	if err := k8s.Delete(context.Background(), w.get("gone")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "object gone", func() error { return existsErr(w.ns, "gone") })
	b := bindingsOf(w.iapPolicy())
	if _, ok := b[accessor+"|runguard:devs"]; ok {
		t.Errorf("Delete left our binding: %v", b)
	}
	if !slices.Equal(b[accessor+"|"], []string{"user:bob@acme.com"}) {
		t.Errorf("Delete touched a foreign binding: %v", b)
	}
	if !w.cloudRun().GetIapEnabled() {
		t.Error("Delete switched IAP off; it must stay on (fail closed)")
	}
	if !iampolicy.HasMember(w.servicePolicy(), invoker, agentOf("123456789012")) {
		t.Error("Delete removed the IAP agent's invoker grant")
	}
}

func TestDelete_ReleasesAtOnceWhenTheServiceIsGone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("orphan", group("devs", "user:alice@acme.com")))
	w.waitReady("orphan")
	if err := fake.DeleteService(w.fullName); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), w.get("orphan")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "object gone", func() error { return existsErr(w.ns, "orphan") })
}
