package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// officeLevel is a level admitting one office range.
func officeLevel(cidrs ...iapv1alpha1.IPSubnetwork) iapv1alpha1.AccessLevelSpec {
	return iapv1alpha1.AccessLevelSpec{Basic: &iapv1alpha1.BasicLevel{
		CombiningFunction: iapv1alpha1.CombineAND,
		Conditions:        []iapv1alpha1.LevelCondition{{IPSubnetworks: cidrs}},
	}}
}

// newLevel creates an AccessLevel named base-N (AccessLevels are cluster-wide; parallel tests
// never share one) and removes it at the end of the test.
func newLevel(t *testing.T, base string, spec iapv1alpha1.AccessLevelSpec, annotations ...string) *iapv1alpha1.AccessLevel {
	t.Helper()
	al := &iapv1alpha1.AccessLevel{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", base, names.Add(1))}, Spec: spec}
	if len(annotations) == 2 {
		al.Annotations = map[string]string{annotations[0]: annotations[1]}
	}
	if err := k8s.Create(context.Background(), al); err != nil {
		t.Fatalf("create AccessLevel %s: %v", al.Name, err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), al) })
	return al
}

// levelNameOf is the full name an AccessLevel object's level has in Google.
func levelNameOf(al *iapv1alpha1.AccessLevel) string {
	short := al.Spec.LevelName
	if short == "" {
		short = strings.ReplaceAll(al.Name, "-", "_")
	}
	return accessPolicy + "/accessLevels/" + short
}

func getLevel(t *testing.T, name string) *iapv1alpha1.AccessLevel {
	t.Helper()
	al := &iapv1alpha1.AccessLevel{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, al); err != nil {
		t.Fatalf("get AccessLevel %s: %v", name, err)
	}
	return al
}

// waitLevel waits until the AccessLevel's condition has that status and reason for its current
// generation.
func waitLevel(t *testing.T, name, conditionType string, status metav1.ConditionStatus, reason string) *iapv1alpha1.AccessLevel {
	t.Helper()
	var al *iapv1alpha1.AccessLevel
	eventually(t, 30*time.Second, fmt.Sprintf("AccessLevel %s %s=%s/%s", name, conditionType, status, reason), func() error {
		al = getLevel(t, name)
		c := meta.FindStatusCondition(al.Status.Conditions, conditionType)
		if c == nil || c.Status != status || (reason != "" && c.Reason != reason) || c.ObservedGeneration != al.Generation {
			return fmt.Errorf("generation %d, conditions %+v", al.Generation, al.Status.Conditions)
		}
		return nil
	})
	return al
}

func levelInGoogle(t *testing.T, name string) *acmpb.AccessLevel {
	t.Helper()
	l, ok := fake.AccessLevel(name)
	if !ok {
		t.Fatalf("%s is not in Access Context Manager", name)
	}
	return l
}

func TestAccessLevel_CreatesTheLevelMarkedAsRunguardsAndSaysWhatItMeans(t *testing.T) {
	t.Parallel()
	al := newLevel(t, "corp-network", officeLevel("203.0.113.0/24", "198.51.100.0/24"))
	got := waitLevel(t, al.Name, iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonReconciled)

	name := levelNameOf(al)
	if got.Status.Name != name {
		t.Errorf("status.name %q, want %q", got.Status.Name, name)
	}
	if !strings.Contains(got.Status.Meaning, "203.0.113.0/24") || !strings.Contains(got.Status.Meaning, "198.51.100.0/24") {
		t.Errorf("status.meaning %q does not name the ranges", got.Status.Meaning)
	}
	level := levelInGoogle(t, name)
	if level.GetTitle() != al.Name {
		t.Errorf("title %q, want the object's name %q", level.GetTitle(), al.Name)
	}
	if !strings.Contains(level.GetDescription(), `managed by runguard: cluster "test", AccessLevel "`+al.Name+`"`) {
		t.Errorf("description %q does not carry runguard's mark", level.GetDescription())
	}
	if cidrs := level.GetBasic().GetConditions()[0].GetIpSubnetworks(); len(cidrs) != 2 {
		t.Errorf("ip subnetworks in Google: %v", cidrs)
	}
}

func TestAccessLevel_AnEditWritesOnlyTheFieldsThatChanged(t *testing.T) {
	t.Parallel()
	al := newLevel(t, "edited", officeLevel("203.0.113.0/24"))
	waitLevel(t, al.Name, iapv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	before := levelInGoogle(t, levelNameOf(al))

	eventually(t, 10*time.Second, "edit "+al.Name, func() error {
		latest := getLevel(t, al.Name)
		latest.Spec.Basic.Conditions[0].IPSubnetworks = append(latest.Spec.Basic.Conditions[0].IPSubnetworks, "192.0.2.0/24")
		return k8s.Update(context.Background(), latest)
	})
	waitLevelEvent(t, al.Name, "Updated", "Wrote basic of "+levelNameOf(al))
	after := levelInGoogle(t, levelNameOf(al))
	if len(after.GetBasic().GetConditions()[0].GetIpSubnetworks()) != 2 {
		t.Errorf("ranges after the edit: %v", after.GetBasic().GetConditions()[0].GetIpSubnetworks())
	}
	if after.GetTitle() != before.GetTitle() || after.GetDescription() != before.GetDescription() {
		t.Errorf("fields outside the mask changed: title %q → %q, description %q → %q", before.GetTitle(), after.GetTitle(), before.GetDescription(), after.GetDescription())
	}
}

func TestAccessLevel_DriftInGoogleIsCorrected(t *testing.T) {
	t.Parallel()
	al := newLevel(t, "drifting", officeLevel("203.0.113.0/24"))
	waitLevel(t, al.Name, iapv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	name := levelNameOf(al)

	// Someone widens the level in the console.
	if err := fake.UpdateAccessLevelOutOfBand(name, func(l *acmpb.AccessLevel) {
		c := l.GetBasic().GetConditions()[0]
		c.IpSubnetworks = append(c.IpSubnetworks, "0.0.0.0/0")
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*resync, "the widened level narrowed again", func() error {
		if cidrs := levelInGoogle(t, name).GetBasic().GetConditions()[0].GetIpSubnetworks(); len(cidrs) != 1 {
			return fmt.Errorf("ranges %v", cidrs)
		}
		return nil
	})

	// Someone deletes it: runguard made it, so runguard makes it again.
	if err := fake.DeleteAccessLevel(name); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*resync, "the deleted level created again", func() error {
		if _, ok := fake.AccessLevel(name); !ok {
			return errNotYet
		}
		return nil
	})
}

func TestAccessLevel_DeleteRemovesTheLevelAndAbandonLeavesIt(t *testing.T) {
	t.Parallel()
	deleted := newLevel(t, "to-delete", officeLevel("203.0.113.0/24"))
	abandonedSpec := officeLevel("198.51.100.0/24")
	abandonedSpec.DeletionPolicy = iapv1alpha1.DeletionPolicyAbandon
	abandoned := newLevel(t, "to-abandon", abandonedSpec)
	for _, al := range []*iapv1alpha1.AccessLevel{deleted, abandoned} {
		waitLevel(t, al.Name, iapv1alpha1.ConditionReady, metav1.ConditionTrue, "")
		if err := k8s.Delete(context.Background(), al); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, al.Name+" gone from the cluster", func() error {
			if err := k8s.Get(context.Background(), client.ObjectKey{Name: al.Name}, &iapv1alpha1.AccessLevel{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("still there (%v)", err)
			}
			return nil
		})
	}
	if _, ok := fake.AccessLevel(levelNameOf(deleted)); ok {
		t.Errorf("deletionPolicy Delete left %s in Google", levelNameOf(deleted))
	}
	if _, ok := fake.AccessLevel(levelNameOf(abandoned)); !ok {
		t.Errorf("deletionPolicy Abandon removed %s from Google", levelNameOf(abandoned))
	}
}

func TestAccessLevel_ALevelRunguardDidNotMakeIsNeverEditedOrDeleted(t *testing.T) {
	t.Parallel()
	short := fmt.Sprintf("console_made_%d", names.Add(1))
	name := accessPolicy + "/accessLevels/" + short
	theirs := &acmpb.AccessLevel{Name: name, Title: "made in the console " + short, Description: "Ours, not runguard's.",
		Level: &acmpb.AccessLevel_Basic{Basic: &acmpb.BasicLevel{Conditions: []*acmpb.Condition{{IpSubnetworks: []string{"10.0.0.0/8"}}}}}}
	if err := fake.AddAccessLevel(theirs); err != nil {
		t.Fatal(err)
	}
	spec := officeLevel("203.0.113.0/24")
	spec.LevelName = short
	al := newLevel(t, "not-ours", spec)
	got := waitLevel(t, al.Name, iapv1alpha1.ConditionStalled, metav1.ConditionTrue, iapv1alpha1.ReasonAccessLevelNotOwned)
	if msg := meta.FindStatusCondition(got.Status.Conditions, iapv1alpha1.ConditionStalled).Message; !strings.Contains(msg, iapv1alpha1.AnnotationAdoptLevel) {
		t.Errorf("message does not say how to adopt: %q", msg)
	}
	if err := k8s.Delete(context.Background(), al); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, al.Name+" gone", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: al.Name}, &iapv1alpha1.AccessLevel{}); !apierrors.IsNotFound(err) {
			return errNotYet
		}
		return nil
	})
	after := levelInGoogle(t, name)
	if after.GetDescription() != theirs.Description || after.GetBasic().GetConditions()[0].GetIpSubnetworks()[0] != "10.0.0.0/8" {
		t.Errorf("runguard touched a level it does not own: %v", after)
	}

	// Adopted on purpose, it becomes runguard's.
	adopter := newLevel(t, "adopter", spec, iapv1alpha1.AnnotationAdoptLevel, "true")
	waitLevel(t, adopter.Name, iapv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	if d := levelInGoogle(t, name).GetDescription(); !strings.Contains(d, `AccessLevel "`+adopter.Name+`"`) {
		t.Errorf("adopted level's description %q lacks the mark", d)
	}
}

func TestAccessLevel_StallsWithAReasonAndWritesNothing(t *testing.T) {
	t.Parallel()
	scoped := officeLevel("203.0.113.0/24")
	scoped.AccessPolicy = scopedPolicy
	badCEL := iapv1alpha1.AccessLevelSpec{Custom: &iapv1alpha1.CustomLevel{Expression: "device.is_corp_owned && origin.ip"}}
	missing := officeLevel()
	missing.Basic.Conditions[0].RequiredAccessLevels = []iapv1alpha1.AccessLevelRef{accessPolicy + "/accessLevels/no_such_level"}
	for _, tc := range []struct {
		name, reason, mention string
		spec                  iapv1alpha1.AccessLevelSpec
	}{
		{"scoped-policy", iapv1alpha1.ReasonScopedAccessPolicy, "projects/123456789012", scoped},
		{"bad-cel", iapv1alpha1.ReasonInvalidExpression, "custom.expression", badCEL},
		{"missing-required", iapv1alpha1.ReasonAccessLevelNotFound, "no_such_level", missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			al := newLevel(t, tc.name, tc.spec)
			got := waitLevel(t, al.Name, iapv1alpha1.ConditionStalled, metav1.ConditionTrue, tc.reason)
			if msg := meta.FindStatusCondition(got.Status.Conditions, iapv1alpha1.ConditionReady).Message; !strings.Contains(msg, tc.mention) {
				t.Errorf("Ready message %q does not mention %q", msg, tc.mention)
			}
			for _, policy := range []string{accessPolicy, scopedPolicy} {
				if _, ok := fake.AccessLevel(policy + "/accessLevels/" + strings.ReplaceAll(al.Name, "-", "_")); ok {
					t.Errorf("a Stalled level was written to %s", policy)
				}
			}
		})
	}
}

func TestAccessLevel_LevelsRequiringEachOtherInACycleAreRefused(t *testing.T) {
	t.Parallel()
	n := names.Add(1)
	a, b := fmt.Sprintf("cycle-a-%d", n), fmt.Sprintf("cycle-b-%d", n)
	for _, pair := range [][2]string{{a, b}, {b, a}} {
		spec := officeLevel()
		spec.Basic.Conditions[0].RequiredAccessLevels = []iapv1alpha1.AccessLevelRef{iapv1alpha1.AccessLevelRef(pair[1])}
		al := &iapv1alpha1.AccessLevel{ObjectMeta: metav1.ObjectMeta{Name: pair[0]}, Spec: spec}
		if err := k8s.Create(context.Background(), al); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), al) })
	}
	got := waitLevel(t, a, iapv1alpha1.ConditionStalled, metav1.ConditionTrue, iapv1alpha1.ReasonReferenceCycle)
	if msg := meta.FindStatusCondition(got.Status.Conditions, iapv1alpha1.ConditionStalled).Message; !strings.Contains(msg, b) {
		t.Errorf("cycle message %q does not name %s", msg, b)
	}
}

func TestAccessLevel_ObserveWritesNothingAndSaysWhatEnforceWould(t *testing.T) {
	t.Parallel()
	spec := officeLevel("203.0.113.0/24")
	spec.Mode = iapv1alpha1.ModeObserve
	al := newLevel(t, "observed", spec)
	got := waitLevel(t, al.Name, iapv1alpha1.ConditionInSync, metav1.ConditionFalse, iapv1alpha1.ReasonChangesPending)
	if !slices.Contains(got.Status.PendingChanges, "create "+levelNameOf(al)) {
		t.Errorf("pending changes %v", got.Status.PendingChanges)
	}
	if meta.IsStatusConditionTrue(got.Status.Conditions, iapv1alpha1.ConditionReady) {
		t.Error("an observed level that does not exist in Google is Ready: ProtectedServices would bind it")
	}
	if _, ok := fake.AccessLevel(levelNameOf(al)); ok {
		t.Error("Observe mode created the level")
	}
}

// waitLevelEvent waits for an Event about an AccessLevel with that reason whose note contains note.
func waitLevelEvent(t *testing.T, name, reason, note string) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%s event %s", name, reason), func() error {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list); err != nil {
			return err
		}
		var seen []string
		for _, e := range list.Items {
			if e.Regarding.Kind == "AccessLevel" && e.Regarding.Name == name {
				if e.Reason == reason && strings.Contains(e.Note, note) {
					return nil
				}
				seen = append(seen, e.Reason+": "+e.Note)
			}
		}
		return fmt.Errorf("events so far: %v", seen)
	})
}
