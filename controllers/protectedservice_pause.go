package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// paused reports whether the object carries iap.runguard.dev/paused: "true".
func paused(o client.Object) bool {
	return o.GetAnnotations()[iapv1alpha1.AnnotationPaused] == "true"
}

// holdPaused ends the pass of a paused object without any Google call: it says so in status and
// is not requeued (removing the annotation wakes it, see pauseChanged). A deleted paused object
// with deletionPolicy Abandon goes at once, since its cleanup makes no call either; with Delete
// its bindings stay until it is resumed, because a pause promises that nothing is written.
// It reports whether the finalizer may be released.
func (r *ProtectedServiceReconciler) holdPaused(ctx context.Context, s *scope) (release bool, err error) {
	deleting := !s.ps.DeletionTimestamp.IsZero()
	if deleting && s.ps.Spec.DeletionPolicy == iapv1alpha1.DeletionPolicyAbandon {
		return true, nil
	}
	wasPaused := meta.IsStatusConditionTrue(s.ps.Status.Conditions, iapv1alpha1.ConditionPaused)
	s.facts.paused = true
	applyStatus(s.ps, &s.facts, nil)
	if !wasPaused {
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, iapv1alpha1.ReasonPaused, "Pause", "%s",
			meta.FindStatusCondition(s.ps.Status.Conditions, iapv1alpha1.ConditionPaused).Message)
	}
	return false, r.patchStatus(ctx, s)
}

// applyPausedStatus is the status of a paused object: Paused, neither Reconciling nor Stalled, so
// GitOps tools see it settled (Flux: Current; Argo CD: Suspended). Ready keeps what the last pass
// found, with that pass's observedGeneration, as Crossplane does for paused resources: setting
// it False would hold every Flux health check that waits for the object, and True was never
// verified for the current generation; the Paused condition says it is no longer being checked.
func applyPausedStatus(ps *iapv1alpha1.ProtectedService) {
	msg := "Paused by the annotation " + iapv1alpha1.AnnotationPaused + `: "true": runguard neither reads nor writes Google Cloud for this object, so drift is not corrected. Remove the annotation to resume.`
	set(ps, iapv1alpha1.ConditionPaused, metav1.ConditionTrue, iapv1alpha1.ReasonPaused, msg)
	set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, iapv1alpha1.ReasonPaused, msg)
	set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonPaused, "Nothing needs a human.")
	if !ps.DeletionTimestamp.IsZero() {
		set(ps, iapv1alpha1.ConditionDeleting, metav1.ConditionTrue, iapv1alpha1.ReasonPaused,
			"The object is paused, so its access bindings are not removed from Google Cloud: remove the annotation "+iapv1alpha1.AnnotationPaused+" to let the cleanup run, or set deletionPolicy: Abandon to leave Google Cloud as it is.")
	}
	ps.Status.ObservedGeneration = ps.Generation
}

// pauseChanged lets an update that pauses or resumes an object through the generation filter:
// annotations do not change the generation.
type pauseChanged struct{ predicate.Funcs }

func (pauseChanged) Update(e event.UpdateEvent) bool {
	return e.ObjectOld != nil && e.ObjectNew != nil && paused(e.ObjectOld) != paused(e.ObjectNew)
}
