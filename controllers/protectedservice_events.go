package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
)

// recordWrites turns each Google write of the pass into an Event and, when the object was
// already Ready for this generation, into a drift correction.
func (r *ProtectedServiceReconciler) recordWrites(s *scope) {
	if s.observing() {
		r.recordPlan(s)
		return
	}
	for _, w := range s.facts.writes {
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, "GoogleCloudUpdated", string(w.kind), "%s", writeNote(w))
		if !s.facts.wasReady || s.facts.deletion != nil {
			continue
		}
		field := w.kind.field()
		driftCorrections.WithLabelValues(field).Inc()
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, "DriftCorrected", string(w.kind), "Corrected drift of %s on %s.", field, s.ps.Spec.Service)
		if n, fighting := r.drift.corrected(s.ps, field); fighting {
			r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, "FightingWriter", string(w.kind),
				"%s was corrected %d times within %s: another tool keeps writing it. Find that writer (Terraform, gcloud scripts, Config Connector) and stop it managing %s.",
				field, n, fightWindow, field)
		}
	}
}

func writeNote(w googleWrite) string {
	switch w.kind {
	case writeGrantInvoker:
		return fmt.Sprintf("Granted roles/run.invoker on %s to IAP's service agent %s.", w.resource, w.detail)
	case writeBindAccess:
		return fmt.Sprintf("Updated IAP access on %s: %s", w.resource, w.detail)
	case writeRevokeAccess:
		return fmt.Sprintf("Applied only the removals on %s (%s): %s", w.resource, w.reason, w.detail)
	case writeEnableIAP:
		return fmt.Sprintf("Switching IAP on for Cloud Run service %s.", w.resource)
	case writeDisableIAP:
		return fmt.Sprintf("Switching IAP off for Cloud Run service %s, as declared.", w.resource)
	case writeRevokePublicAccess:
		return fmt.Sprintf("Revoked public access to %s: removed %s from roles/run.invoker.", w.resource, w.detail)
	case writeEnableInvokerCheck:
		return fmt.Sprintf("Turned the invoker IAM check back on for %s (invoker_iam_disabled was true).", w.resource)
	case writeApplySettings:
		return fmt.Sprintf("Updated IAP settings on %s: %s.", w.resource, w.detail)
	case writeRemoveAccess:
		return fmt.Sprintf("Removed this object's IAP access bindings from %s: %s. IAP stays on, so the service fails closed.", w.resource, w.detail)
	}
	return string(w.kind) + " " + w.resource
}

// recordPlan tells, once per change of the plan, what Enforce would do: an observing object
// writes nothing, so it has no GoogleCloudUpdated Events and no drift.
func (r *ProtectedServiceReconciler) recordPlan(s *scope) {
	pending := pendingChanges(s.facts.writes)
	if slices.Equal(pending[:min(len(pending), maxPendingShown)], s.original.Status.PendingChanges) && int32(len(pending)) == s.original.Status.PendingChangeCount {
		return
	}
	if len(pending) == 0 {
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, "InSync", "Observe", "Google Cloud matches the spec: Enforce would change nothing.")
		return
	}
	r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, "ChangesPending", "Observe", "Enforce would make %d changes: %s.", len(pending), listSome(pending))
}

// report emits the pass's warnings and counts its outcome.
func (r *ProtectedServiceReconciler) report(ctx context.Context, s *scope, shown *outcome) {
	f := &s.facts
	if len(f.access.unrestricted) > 0 && f.access.reason == iapv1alpha1.ReasonBound {
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, "UnconditionalGrant", string(writeBindAccess),
			"%s also hold %s without a condition on %s (granted outside runguard), so their group's context does not restrict them.",
			strings.Join(f.access.unrestricted, ", "), iampolicy.AccessorRole, f.iapResource)
	}
	switch {
	case f.deletion != nil && f.deletion.done && s.ps.Spec.DeletionPolicy == iapv1alpha1.DeletionPolicyAbandon:
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, "Abandoned", "Delete", "deletionPolicy is Abandon: Google Cloud was left as it is.")
	case f.deletion != nil && shown != nil:
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, "CleanupFailed", "Delete", "%s", outcomeMessage(shown, f))
	case shown == nil:
		reason := iapv1alpha1.ReasonProtected
		switch {
		case s.observing():
			reason = iapv1alpha1.ReasonObserving
		case !s.ps.Spec.IAPEnabled():
			reason = iapv1alpha1.ReasonReconciled
		}
		reconcileOutcomes.WithLabelValues(reason).Inc()
	case shown.kind == stalled:
		reconcileOutcomes.WithLabelValues(shown.reason).Inc()
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, shown.reason, "Reconcile", "%s", outcomeMessage(shown, f))
	case shown.kind == retrying:
		reconcileOutcomes.WithLabelValues(shown.reason).Inc()
		log.FromContext(ctx).Info("transient failure; retrying", "error", shown.err.Error())
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, shown.reason, "Reconcile", "%s", outcomeMessage(shown, f))
	default:
		reconcileOutcomes.WithLabelValues(shown.reason).Inc()
	}
}
