package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// requiring is a group of one member that requires the levels refs.
func requiring(name, member string, refs ...string) iapv1alpha1.AccessGroup {
	g := group(name, member)
	g.Context = &iapv1alpha1.AccessContext{}
	for _, r := range refs {
		g.Context.AccessLevels = append(g.Context.AccessLevels, iapv1alpha1.AccessLevelRef(r))
	}
	return g
}

// accessorBinding is the accessor binding runguard marked for group, nil when there is none.
func accessorBinding(p *iampb.Policy, group string) *iampb.Binding {
	for _, b := range p.GetBindings() {
		if b.GetRole() == accessor && b.GetCondition().GetTitle() == "runguard:"+group {
			return b
		}
	}
	return nil
}

// accessorCondition is the expression of group's accessor binding, "" when there is none.
func accessorCondition(p *iampb.Policy, group string) string {
	return accessorBinding(p, group).GetCondition().GetExpression()
}

func TestProtectedService_ALevelThatBecomesReadyLaterIsBoundWithoutAStall(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	levelName := fmt.Sprintf("later-%d", names.Add(1))
	versions := w.versions("waits")
	w.create(w.object("waits", requiring("finance", "user:alice@acme.com", levelName), group("ops", "user:bob@acme.com")))
	w.waitFor("waits", iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, iapv1alpha1.ReasonAccessLevelNotReady)
	if b := accessorBinding(w.iapPolicy(), "finance"); b != nil {
		t.Fatalf("a group was bound before its level existed: %v", b)
	}

	al := &iapv1alpha1.AccessLevel{ObjectMeta: metav1.ObjectMeta{Name: levelName}, Spec: officeLevel("203.0.113.0/24")}
	if err := k8s.Create(context.Background(), al); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), al) })
	got := w.waitReady("waits")

	full := levelNameOf(al)
	if cond := accessorCondition(w.iapPolicy(), "finance"); !strings.Contains(cond, `"`+full+`" in request.auth.access_levels`) {
		t.Errorf("finance's condition %q does not require %s", cond, full)
	}
	for _, v := range versions() {
		if meta.IsStatusConditionTrue(v.Status.Conditions, iapv1alpha1.ConditionStalled) {
			t.Errorf("the object was Stalled while its level was on its way: %s", describeConditions(v))
		}
	}
	if len(got.Status.AccessLevels) != 1 {
		t.Fatalf("status.accessLevels = %+v, want finance's", got.Status.AccessLevels)
	}
	gl := got.Status.AccessLevels[0]
	if gl.Group != "finance" || len(gl.Levels) != 1 || gl.Levels[0].Name != full ||
		!strings.Contains(gl.Summary, "finance: 1 member from "+levelName+" (from 203.0.113.0/24)") {
		t.Errorf("status.accessLevels[0] = %+v", gl)
	}

	// A change of the level's meaning reaches the object's status without an edit of its own.
	eventually(t, 10*time.Second, "widen "+levelName, func() error {
		latest := getLevel(t, levelName)
		latest.Spec.Basic.Conditions[0].IPSubnetworks = append(latest.Spec.Basic.Conditions[0].IPSubnetworks, "198.51.100.0/24")
		return k8s.Update(context.Background(), latest)
	})
	w.waitUntil("waits", "the new meaning in status", func(ps *iapv1alpha1.ProtectedService) error {
		if len(ps.Status.AccessLevels) != 1 || !strings.Contains(ps.Status.AccessLevels[0].Summary, "198.51.100.0/24") {
			return fmt.Errorf("status.accessLevels %+v", ps.Status.AccessLevels)
		}
		return nil
	})
}

func TestProtectedService_AMissingLevelStallsAndTheLockdownStillHolds(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfakeService) { s.Public = true }))
	missing := accessPolicy + "/accessLevels/typo_in_the_name"
	w.create(w.object("typo", requiring("finance", "user:alice@acme.com", missing)))
	w.expectStalled("typo", iapv1alpha1.ReasonAccessLevelNotFound, missing)
	if err := w.lockedDown("typo"); err != nil {
		t.Errorf("lockdown after the stall: %v", err)
	}
	if b := accessorBinding(w.iapPolicy(), "finance"); b != nil {
		t.Errorf("a group requiring a missing level was bound: %v", b)
	}
}

func TestProtectedService_ALevelDeletedLaterIsFoundAndItsGroupLosesAccess(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	name := fmt.Sprintf("%s/accessLevels/partner_vpn_%d", accessPolicy, names.Add(1))
	if err := fake.AddAccessLevel(&acmpb.AccessLevel{Name: name, Title: "Partner VPN " + name,
		Level: &acmpb.AccessLevel_Basic{Basic: &acmpb.BasicLevel{Conditions: []*acmpb.Condition{{IpSubnetworks: []string{"192.0.2.0/24"}}}}}}); err != nil {
		t.Fatal(err)
	}
	w.create(w.object("partners", requiring("partners", "user:carol@acme.com", name), group("ops", "user:bob@acme.com")))
	ready := w.waitReady("partners")
	if gl := ready.Status.AccessLevels; len(gl) != 1 || gl[0].Levels[0].Title != "Partner VPN "+name {
		t.Errorf("status.accessLevels %+v, want the level's title from Google", gl)
	}
	if err := fake.DeleteAccessLevel(name); err != nil {
		t.Fatal(err)
	}
	w.expectStalled("partners", iapv1alpha1.ReasonAccessLevelNotFound, name)
	if b := accessorBinding(w.iapPolicy(), "partners"); b != nil {
		t.Errorf("the group of a deleted level kept its binding: %v", b)
	}
	if accessorBinding(w.iapPolicy(), "ops") == nil {
		t.Error("the group without levels lost its binding")
	}
}

func TestAccessLevel_DeletionWaitsWhileAProtectedServiceRequiresIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	al := newLevel(t, "in-use", officeLevel("203.0.113.0/24"))
	w.create(w.object("user", requiring("finance", "user:alice@acme.com", al.Name)))
	w.waitReady("user")
	if err := k8s.Delete(context.Background(), al); err != nil {
		t.Fatal(err)
	}
	got := waitLevel(t, al.Name, iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, iapv1alpha1.ReasonInUse)
	if msg := meta.FindStatusCondition(got.Status.Conditions, iapv1alpha1.ConditionReconciling).Message; !strings.Contains(msg, w.ns+"/user") {
		t.Errorf("InUse message %q does not name the user", msg)
	}
	if _, ok := fake.AccessLevel(levelNameOf(al)); !ok {
		t.Fatal("a level still required was deleted from Google")
	}
	w.update("user", func(ps *iapv1alpha1.ProtectedService) { ps.Spec.AccessGroups[0].Context = nil })
	eventually(t, 30*time.Second, "the level deleted once unused", func() error {
		if _, ok := fake.AccessLevel(levelNameOf(al)); ok {
			return errNotYet
		}
		return nil
	})
}
