package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// grant is an AccessGrant of the world's object name for group oncall.
func (w *world) grant(name, member string, d time.Duration, change ...func(*iapv1alpha1.AccessGrant)) *iapv1alpha1.AccessGrant {
	w.t.Helper()
	g := &iapv1alpha1.AccessGrant{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: name},
		Spec: iapv1alpha1.AccessGrantSpec{ProtectedService: "app", AccessGroup: "oncall",
			Members: []iapv1alpha1.Member{iapv1alpha1.Member(member)}, Duration: metav1.Duration{Duration: d},
			Reason: "INC-1234", RequestedBy: "requester@acme.com"},
	}
	for _, c := range change {
		c(g)
	}
	if err := k8s.Create(context.Background(), g); err != nil {
		w.t.Fatalf("create grant %s: %v", name, err)
	}
	return g
}

func (w *world) approve(grant, by string, decision iapv1alpha1.ApprovalDecision) {
	w.t.Helper()
	a := &iapv1alpha1.AccessGrantApproval{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, GenerateName: grant + "-"},
		Spec:       iapv1alpha1.AccessGrantApprovalSpec{Grant: grant, ApprovedBy: by, Decision: decision},
	}
	if err := k8s.Create(context.Background(), a); err != nil {
		w.t.Fatalf("approve %s: %v", grant, err)
	}
}

// waitGrant waits until the grant is in phase with its Active condition's reason.
func (w *world) waitGrant(name string, phase iapv1alpha1.GrantPhase, reason string) *iapv1alpha1.AccessGrant {
	w.t.Helper()
	g := &iapv1alpha1.AccessGrant{}
	eventually(w.t, 30*time.Second, fmt.Sprintf("grant %s %s %s", name, phase, reason), func() error {
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: w.ns, Name: name}, g); err != nil {
			return err
		}
		c := meta.FindStatusCondition(g.Status.Conditions, iapv1alpha1.ConditionActive)
		if g.Status.Phase != phase || c == nil || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("phase %q, conditions %+v", g.Status.Phase, g.Status.Conditions)
		}
		return nil
	})
	return g
}

// grantBinding is the grant's binding in the IAP policy, or nil.
func (w *world) grantBinding(name string) *iampb.Binding {
	for _, b := range w.iapPolicy().GetBindings() {
		if b.GetCondition().GetTitle() == "runguard:grant."+name {
			return b
		}
	}
	return nil
}

// waitUnbound waits until the grant's binding is gone from the IAP policy.
func (w *world) waitUnbound(name string) {
	w.t.Helper()
	eventually(w.t, 10*time.Second, name+" unbound", func() error {
		if b := w.grantBinding(name); b != nil {
			return fmt.Errorf("still bound: %v", b)
		}
		return nil
	})
}

func (w *world) grantEvents(name string) []eventsv1.Event {
	w.t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(w.ns)); err != nil {
		w.t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "AccessGrant" && e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// oncallWorld is a Ready object app with group oncall (carol, paths under /ops) in a namespace
// with the given annotations.
func oncallWorld(t *testing.T, opts ...worldOption) *world {
	w := newWorld(t, opts...)
	g := group("oncall", "user:carol@acme.com")
	g.Context = &iapv1alpha1.AccessContext{PathPrefixes: []iapv1alpha1.PathPrefix{"/ops"}}
	w.create(w.object("app", g))
	w.waitReady("app")
	return w
}

func TestAccessGrant_ApprovedGrantIsBoundUntilItsExpiryThenRemoved(t *testing.T) {
	w := oncallWorld(t)
	w.grant("bob-ops", "user:bob@acme.com", 6*time.Second)
	w.waitGrant("bob-ops", iapv1alpha1.GrantPending, iapv1alpha1.ReasonAwaitingApproval)
	if b := w.grantBinding("bob-ops"); b != nil {
		t.Fatalf("a pending grant is bound: %v", b)
	}

	w.approve("bob-ops", "approver@acme.com", iapv1alpha1.DecisionApprove)
	g := w.waitGrant("bob-ops", iapv1alpha1.GrantActive, iapv1alpha1.ReasonBound)
	b := w.grantBinding("bob-ops")
	if b == nil || b.GetRole() != "roles/iap.httpsResourceAccessor" || strings.Join(b.GetMembers(), ",") != "user:bob@acme.com" {
		t.Fatalf("binding of the active grant: %v", b)
	}
	end := g.Status.ExpiresAt.UTC().Format(time.RFC3339Nano)
	for _, clause := range []string{`request.path.startsWith("/ops")`, `request.time < timestamp("` + end + `")`} {
		if !strings.Contains(b.GetCondition().GetExpression(), clause) {
			t.Errorf("condition %q lacks %s", b.GetCondition().GetExpression(), clause)
		}
	}
	if got := w.waitUntil("app", "counts the grant", func(ps *iapv1alpha1.ProtectedService) error {
		if ps.Status.ActiveGrants != 1 {
			return fmt.Errorf("activeGrants %d", ps.Status.ActiveGrants)
		}
		return nil
	}); got.Status.ActiveGrants != 1 {
		t.Fatal("activeGrants")
	}

	eventually(t, time.Until(g.Status.ExpiresAt.Time)+5*time.Second, "binding removed within 5 s of expiry", func() error {
		if b := w.grantBinding("bob-ops"); b != nil {
			return fmt.Errorf("still bound at %s (expiry %s)", time.Now().UTC().Format(time.RFC3339Nano), end)
		}
		return nil
	})
	g = w.waitGrant("bob-ops", iapv1alpha1.GrantExpired, iapv1alpha1.ReasonExpired)
	if !bindingsHave(w.iapPolicy(), "user:carol@acme.com") {
		t.Error("the declared group lost its binding when the grant expired")
	}
	if c := meta.FindStatusCondition(g.Status.Conditions, iapv1alpha1.ConditionApproved); c == nil || c.Status != metav1.ConditionTrue || c.Reason != iapv1alpha1.ReasonApproved {
		t.Errorf("Approved after the grant's life: %+v", c)
	}
	for _, e := range w.events("app") {
		if e.Reason == "DriftCorrected" || e.Reason == "FightingWriter" {
			t.Errorf("binding and removing the grant was taken for drift: %s %s", e.Reason, e.Note)
		}
	}
}

func TestAccessGrant_BreakGlassIsActiveAtOnceAndFlaggedForReview(t *testing.T) {
	w := oncallWorld(t)
	w.grant("glass", "user:dave@acme.com", 30*time.Second, func(g *iapv1alpha1.AccessGrant) { g.Spec.BreakGlass = true })
	g := w.waitGrant("glass", iapv1alpha1.GrantActive, iapv1alpha1.ReasonBound)
	if c := meta.FindStatusCondition(g.Status.Conditions, iapv1alpha1.ConditionReviewRequired); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("ReviewRequired: %+v", c)
	}
	eventually(t, 10*time.Second, "BreakGlass Warning Event", func() error {
		for _, e := range w.grantEvents("glass") {
			if e.Type == "Warning" && e.Reason == "BreakGlass" {
				return nil
			}
		}
		return fmt.Errorf("events: %v", w.grantEvents("glass"))
	})

	w.approve("glass", "approver@acme.com", iapv1alpha1.DecisionApprove)
	eventually(t, 10*time.Second, "reviewed", func() error {
		g := &iapv1alpha1.AccessGrant{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: w.ns, Name: "glass"}, g); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(g.Status.Conditions, iapv1alpha1.ConditionReviewRequired); c == nil || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("ReviewRequired: %+v", c)
		}
		return nil
	})
}

func TestAccessGrant_ThatWouldWidenTheGroupIsDenied(t *testing.T) {
	w := oncallWorld(t)
	w.grant("wide", "user:bob@acme.com", time.Hour, func(g *iapv1alpha1.AccessGrant) {
		g.Spec.Context = &iapv1alpha1.GrantContext{PathPrefixes: []iapv1alpha1.PathPrefix{"/admin"}}
	})
	g := w.waitGrant("wide", iapv1alpha1.GrantDenied, iapv1alpha1.ReasonContextWidened)
	c := meta.FindStatusCondition(g.Status.Conditions, iapv1alpha1.ConditionActive)
	if !strings.Contains(c.Message, "/admin") || !strings.Contains(c.Message, "/ops") {
		t.Errorf("message does not say what widens what: %q", c.Message)
	}
	if b := w.grantBinding("wide"); b != nil {
		t.Errorf("a denied grant is bound: %v", b)
	}
}

func TestAccessGrant_TheRequestersOwnApprovalDoesNotCount(t *testing.T) {
	w := oncallWorld(t)
	w.grant("mine", "user:bob@acme.com", time.Hour)
	w.approve("mine", "requester@acme.com", iapv1alpha1.DecisionApprove)
	eventually(t, 10*time.Second, "the self-approval recorded as ignored", func() error {
		g := &iapv1alpha1.AccessGrant{}
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: w.ns, Name: "mine"}, g); err != nil {
			return err
		}
		if len(g.Status.Approvals) != 1 || g.Status.Approvals[0].Ignored == "" || g.Status.Phase != iapv1alpha1.GrantPending {
			return fmt.Errorf("phase %s approvals %+v", g.Status.Phase, g.Status.Approvals)
		}
		return nil
	})
}

func TestAccessGrant_DenyAfterActivationRevokesIt(t *testing.T) {
	w := oncallWorld(t, withAnnotation(iapv1alpha1.AnnotationGrantApprovals, "0"))
	w.grant("short", "user:bob@acme.com", time.Hour)
	w.waitGrant("short", iapv1alpha1.GrantActive, iapv1alpha1.ReasonBound)
	w.approve("short", "approver@acme.com", iapv1alpha1.DecisionDeny)
	w.waitGrant("short", iapv1alpha1.GrantRevoked, iapv1alpha1.ReasonApprovalDenied)
	w.waitUnbound("short")
}

func TestAccessGrant_LongerThanTheNamespaceAllowsIsDenied(t *testing.T) {
	w := oncallWorld(t, withAnnotation(iapv1alpha1.AnnotationMaxGrantDuration, "1h"))
	w.grant("long", "user:bob@acme.com", 2*time.Hour)
	w.approve("long", "approver@acme.com", iapv1alpha1.DecisionApprove)
	w.waitGrant("long", iapv1alpha1.GrantDenied, iapv1alpha1.ReasonDurationTooLong)
}

func TestAccessGrant_DeletingTheGrantRemovesItsBinding(t *testing.T) {
	w := oncallWorld(t, withAnnotation(iapv1alpha1.AnnotationGrantApprovals, "0"))
	g := w.grant("gone", "user:bob@acme.com", time.Hour)
	w.waitGrant("gone", iapv1alpha1.GrantActive, iapv1alpha1.ReasonBound)
	if err := k8s.Delete(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	w.waitUnbound("gone")
}

func TestAccessGrant_DeletingTheProtectedServiceRemovesGrantBindingsAndRevokesThem(t *testing.T) {
	w := oncallWorld(t, withAnnotation(iapv1alpha1.AnnotationGrantApprovals, "0"))
	w.grant("with-app", "user:bob@acme.com", time.Hour)
	w.waitGrant("with-app", iapv1alpha1.GrantActive, iapv1alpha1.ReasonBound)
	if err := k8s.Delete(context.Background(), w.get("app")); err != nil {
		t.Fatal(err)
	}
	w.waitGrant("with-app", iapv1alpha1.GrantRevoked, iapv1alpha1.ReasonProtectedServiceNotFound)
	eventually(t, 20*time.Second, "no runguard binding left", func() error {
		for _, b := range w.iapPolicy().GetBindings() {
			if strings.HasPrefix(b.GetCondition().GetTitle(), "runguard:") {
				return fmt.Errorf("still bound: %v", b)
			}
		}
		return nil
	})
}

func bindingsHave(p *iampb.Policy, member string) bool {
	for _, members := range bindingsOf(p) {
		for _, m := range members {
			if m == member {
				return true
			}
		}
	}
	return false
}
