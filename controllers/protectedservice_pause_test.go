package controllers_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// setPaused sets or removes the object's pause annotation.
func (w *world) setPaused(name string, on bool) {
	w.t.Helper()
	ps := w.get(name)
	before := ps.DeepCopy()
	if ps.Annotations == nil {
		ps.Annotations = map[string]string{}
	}
	if on {
		ps.Annotations[iapv1alpha1.AnnotationPaused] = "true"
	} else {
		delete(ps.Annotations, iapv1alpha1.AnnotationPaused)
	}
	if err := k8s.Patch(context.Background(), ps, client.MergeFrom(before)); err != nil {
		w.t.Fatal(err)
	}
}

// A paused object makes no Google call, read or write, for several resync periods, so drift
// behind its back stays; its status says it is paused and settled (neither Reconciling nor
// Stalled; Ready keeps the last pass's word). Resumed, it corrects the drift.
func TestPause_NoGoogleCallWhilePausedAndDriftCorrectedOnResume(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("held", group("devs", "user:alice@acme.com")))
	w.waitReady("held")

	w.setPaused("held", true)
	ps := w.waitFor("held", iapv1alpha1.ConditionPaused, metav1.ConditionTrue, iapv1alpha1.ReasonPaused)
	for _, c := range []string{iapv1alpha1.ConditionReconciling, iapv1alpha1.ConditionStalled} {
		if got := meta.FindStatusCondition(ps.Status.Conditions, c); got == nil || got.Status != metav1.ConditionFalse || got.Reason != iapv1alpha1.ReasonPaused {
			t.Errorf("%s = %v, want False/Paused", c, got)
		}
	}
	if r := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady); r == nil || r.Reason != iapv1alpha1.ReasonProtected {
		t.Errorf("Ready = %v, want the last pass's word (Protected)", r)
	}
	calls := len(w.serviceCalls())
	w.removeMemberOutOfBand("user:alice@acme.com")
	time.Sleep(3 * resync)
	if got := w.serviceCalls(); len(got) != calls {
		t.Errorf("a paused object called Google: %v", got[calls:])
	}
	if slices.Contains(bindingsOf(w.iapPolicy())[accessor+"|runguard:devs"], "user:alice@acme.com") {
		t.Error("drift was corrected while paused")
	}
	if len(w.eventsWithReason("held", iapv1alpha1.ReasonPaused)) == 0 {
		t.Error("no Paused Event")
	}

	w.setPaused("held", false)
	w.waitBound("devs", "user:alice@acme.com")
	// Ready kept its word while paused, so wait for the resumed pass's status, not for Ready.
	w.waitUntil("held", "the Paused condition gone after the resume", func(ps *iapv1alpha1.ProtectedService) error {
		if meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionPaused) != nil {
			return errNotYet
		}
		return nil
	})
	w.waitReady("held")
}

// Deleting a paused object with deletionPolicy Delete waits, bindings kept, and says how to go
// on; resumed, its bindings are removed and it goes.
func TestPause_DeletionWaitsForTheResume(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("held", group("devs", "user:alice@acme.com")))
	w.waitReady("held")
	w.setPaused("held", true)
	w.waitFor("held", iapv1alpha1.ConditionPaused, metav1.ConditionTrue, iapv1alpha1.ReasonPaused)
	if err := k8s.Delete(context.Background(), w.get("held")); err != nil {
		t.Fatal(err)
	}
	w.waitFor("held", iapv1alpha1.ConditionDeleting, metav1.ConditionTrue, iapv1alpha1.ReasonPaused)
	time.Sleep(2 * resync)
	if !slices.Contains(bindingsOf(w.iapPolicy())[accessor+"|runguard:devs"], "user:alice@acme.com") {
		t.Fatal("a paused object's bindings were removed")
	}
	w.setPaused("held", false)
	eventually(t, 30*time.Second, "the resumed object cleaned up and gone", func() error {
		if len(bindingsOf(w.iapPolicy())[accessor+"|runguard:devs"]) != 0 {
			return errNotYet
		}
		return existsErr(w.ns, "held")
	})
}
