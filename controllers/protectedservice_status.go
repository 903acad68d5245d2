package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
)

// stepConditions are the conditions that report one step each.
var stepConditions = []string{iapv1alpha1.ConditionInvokerGranted, iapv1alpha1.ConditionAccessBound,
	iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ConditionPublicAccessRevoked, iapv1alpha1.ConditionSettingsApplied}

// applyStatus is the one place that turns a pass's facts and outcome into conditions and words.
// It is a pure function of its arguments (and of the object's previous status). Every condition
// is evaluated for the current generation, kept from an earlier pass of this generation only when
// a transient failure stopped this one, or else marked Unknown with the reason the pass ended.
func applyStatus(ps *iapv1alpha1.ProtectedService, f *facts, shown *outcome) {
	before := ps.Status.DeepCopy()
	if f.paused {
		applyPausedStatus(ps)
		return
	}
	meta.RemoveStatusCondition(&ps.Status.Conditions, iapv1alpha1.ConditionPaused)
	if f.deletion != nil {
		applyDeletionStatus(ps, f, shown)
		return
	}
	if f.levels.resolved != nil {
		ps.Status.AccessLevels = groupLevels(ps, f.levels)
	}
	applyInheritedStatus(ps, f)
	if len(ps.Spec.AccessTests) == 0 {
		ps.Status.AccessTests = nil
	} else if f.tests != nil {
		ps.Status.AccessTests = testResults(f)
	}
	if ps.Spec.Observing() {
		applyObserveStatus(ps, f, shown)
	} else {
		forgetObservation(ps)
	}
	if ps.Spec.Observing() && shown == nil {
		ps.Status.ObservedGeneration = ps.Generation
		if !sameStatusButSync(before, &ps.Status) || ps.Status.LastSyncTime == nil {
			now := metav1.NewTime(f.now)
			ps.Status.LastSyncTime = &now
		}
		return
	}
	hidden := false
	if !ps.Spec.Observing() {
		hidden = applyStepConditions(ps, f, shown)
	}
	if !applyOutcome(ps, f, shown, hidden) {
		// A transient failure evaluated nothing for sure: observedGeneration stays.
		return
	}
	// kstatus compares generations before conditions: only with observedGeneration current do
	// Flux and Argo CD report a Stalled object as failed rather than still in progress.
	ps.Status.ObservedGeneration = ps.Generation
	if shown == nil && (!sameStatusButSync(before, &ps.Status) || ps.Status.LastSyncTime == nil) {
		// lastSyncTime is written only with another status change, so a quiet resync costs no
		// Kubernetes write and GitOps tools see no change: it says when the status last changed
		// and was verified. That every Ready object is verified each resync period is told by
		// runguard_verification_age_max_seconds (docs/controller.md).
		now := metav1.NewTime(f.now)
		ps.Status.LastSyncTime = &now
	}
}

// applyOutcome sets Ready, Stalled and Reconciling from how the pass ended. It reports whether
// the pass evaluated the generation: a transient failure evaluated nothing for sure.
func applyOutcome(ps *iapv1alpha1.ProtectedService, f *facts, shown *outcome, hidden bool) bool {
	readyReason := iapv1alpha1.ReasonProtected
	if !ps.Spec.IAPEnabled() {
		readyReason = iapv1alpha1.ReasonReconciled
	}
	switch {
	case shown == nil:
		set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, readyReason, "Nothing needs a human.")
		set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, readyReason, "Google Cloud matches the spec.")
		set(ps, iapv1alpha1.ConditionReady, metav1.ConditionTrue, readyReason, readyMessage(ps))
	case shown.kind == stalled:
		msg := outcomeMessage(shown, f)
		set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionTrue, shown.reason, msg)
		set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, shown.reason, "Waiting for a human; see the Stalled condition.")
		set(ps, iapv1alpha1.ConditionReady, metav1.ConditionFalse, shown.reason, msg)
	case shown.kind == waiting:
		msg := outcomeMessage(shown, f)
		set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonProgressing, "Nothing needs a human.")
		set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, shown.reason, msg)
		set(ps, iapv1alpha1.ConditionReady, metav1.ConditionFalse, shown.reason, msg)
	default:
		msg := outcomeMessage(shown, f)
		set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonRetrying, "Retrying; nothing known needs a human.")
		set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, shown.reason, msg)
		// A Ready object stays Ready through a blip, unless the failure hid what a check found.
		if !f.wasReady || hidden {
			set(ps, iapv1alpha1.ConditionReady, metav1.ConditionFalse, shown.reason, msg)
		}
		return false
	}
	return true
}

// applyStepConditions sets the condition of each step and reports whether a failed check hid
// what Google holds.
func applyStepConditions(ps *iapv1alpha1.ProtectedService, f *facts, shown *outcome) (hidden bool) {
	for _, t := range stepConditions {
		if t == iapv1alpha1.ConditionSettingsApplied && ps.Spec.IAP.Settings == nil {
			// Settings nobody declares are not runguard's to report on.
			meta.RemoveStatusCondition(&ps.Status.Conditions, t)
			continue
		}
		status, reason, message := stepCondition(t, f, ps)
		if reason == "" {
			unverified := slices.Contains(f.unverified, t)
			hidden = hidden || unverified
			status, reason, message = notEvaluated(ps, t, shown, unverified)
			if reason == "" {
				continue
			}
		}
		set(ps, t, status, reason, message)
	}
	return hidden
}

// notEvaluated is a step condition the pass did not decide. unverified: its phase ran and failed.
func notEvaluated(ps *iapv1alpha1.ProtectedService, conditionType string, shown *outcome, unverified bool) (metav1.ConditionStatus, string, string) {
	prev := meta.FindStatusCondition(ps.Status.Conditions, conditionType)
	if shown == nil {
		return metav1.ConditionUnknown, iapv1alpha1.ReasonPending, "Not evaluated yet."
	}
	if unverified {
		return metav1.ConditionUnknown, shown.reason, "Could not be checked: the last pass ended with " + shown.reason + "; see the Ready condition."
	}
	if shown.kind == retrying && prev != nil && prev.ObservedGeneration == ps.Generation {
		return "", "", "" // a transient failure elsewhere: still the last word for this generation
	}
	return metav1.ConditionUnknown, shown.reason, "Not checked in the last pass, which ended with " + shown.reason + "; see the Ready condition."
}

// stepCondition is the condition of one step the pass evaluated; reason "" when it did not.
func stepCondition(conditionType string, f *facts, ps *iapv1alpha1.ProtectedService) (metav1.ConditionStatus, string, string) {
	switch conditionType {
	case iapv1alpha1.ConditionInvokerGranted:
		switch f.invoker.reason {
		case iapv1alpha1.ReasonGranted:
			return metav1.ConditionTrue, f.invoker.reason, fmt.Sprintf("IAP's service agent %s may invoke the service.", f.resolved.IAPServiceAgentEmail())
		case iapv1alpha1.ReasonIAPServiceAgentMissing:
			return metav1.ConditionFalse, f.invoker.reason, agentMissingMessage(f)
		case iapv1alpha1.ReasonIAPServiceAgentPropagating:
			return metav1.ConditionFalse, f.invoker.reason, fmt.Sprintf("IAM does not accept IAP's service agent %s yet (created recently?); retrying.", f.resolved.IAPServiceAgentEmail())
		case iapv1alpha1.ReasonNotNeeded:
			return metav1.ConditionFalse, f.invoker.reason, "IAP is off: its service agent needs no invoker grant, and none is made; a grant already there is left as it is."
		}
	case iapv1alpha1.ConditionAccessBound:
		return accessCondition(f, ps)
	case iapv1alpha1.ConditionSettingsApplied:
		if f.settings.reason == iapv1alpha1.ReasonApplied {
			return metav1.ConditionTrue, f.settings.reason, fmt.Sprintf("The declared IAP settings hold on %s: %s. Other settings are left as they are.",
				f.resolved.IAPResource(), strings.Join(f.settings.managed, ", "))
		}
	case iapv1alpha1.ConditionIAPEnabled:
		return iapCondition(f)
	case iapv1alpha1.ConditionPublicAccessRevoked:
		switch f.public.reason {
		case iapv1alpha1.ReasonRevoked:
			return metav1.ConditionTrue, f.public.reason, "allUsers and allAuthenticatedUsers may not invoke the service, and the invoker IAM check is on."
		case iapv1alpha1.ReasonPublicAccessAllowed:
			return metav1.ConditionFalse, f.public.reason, "publicAccess is Allow: public roles/run.invoker grants and invoker_iam_disabled are left as they are."
		}
	}
	return "", "", ""
}

func accessCondition(f *facts, ps *iapv1alpha1.ProtectedService) (metav1.ConditionStatus, string, string) {
	switch a := f.access; a.reason {
	case "":
		return "", "", ""
	case iapv1alpha1.ReasonBound:
		msg := fmt.Sprintf("%d access groups are bound on %s with role %s.", len(ps.Spec.AccessGroups), f.resolved.IAPResource(), iampolicy.AccessorRole)
		if len(a.unrestricted) > 0 {
			msg += fmt.Sprintf(" Note: %s also hold the role unconditionally (granted outside runguard); their context does not restrict them.", strings.Join(a.unrestricted, ", "))
		}
		return metav1.ConditionTrue, a.reason, msg
	case iapv1alpha1.ReasonMemberRejected:
		return metav1.ConditionFalse, a.reason, memberRejectedMessage(f)
	default:
		return metav1.ConditionFalse, a.reason, "Not bound as declared (" + a.reason + "); only removals were applied. See the Stalled condition."
	}
}

func iapCondition(f *facts) (metav1.ConditionStatus, string, string) {
	note := ""
	if f.iap.failedRollout != "" {
		note = fmt.Sprintf(" Note: the service's latest rollout failed (%s); that is not runguard's to fix.", f.iap.failedRollout)
	}
	switch f.iap.reason {
	case iapv1alpha1.ReasonEnabled:
		return metav1.ConditionTrue, f.iap.reason, "IAP is on." + note
	case iapv1alpha1.ReasonDisabled:
		return metav1.ConditionFalse, f.iap.reason, "IAP is off, as declared." + note
	case iapv1alpha1.ReasonRevocationPropagating:
		return metav1.ConditionTrue, f.iap.reason, fmt.Sprintf("IAP stays on until the revocation of public access has propagated (%s more).", f.iap.remaining.Round(time.Second))
	case iapv1alpha1.ReasonRollingOut:
		return metav1.ConditionFalse, f.iap.reason, rolloutMessage(f)
	case iapv1alpha1.ReasonRolloutFailed:
		return metav1.ConditionFalse, f.iap.reason, rolloutFailedMessage(f)
	}
	return "", "", ""
}

// applyDeletionStatus reports a cleanup that could not finish: the finalizer stays, and the
// Deleting condition says why and what to do.
func applyDeletionStatus(ps *iapv1alpha1.ProtectedService, f *facts, shown *outcome) {
	if shown == nil {
		return
	}
	msg := fmt.Sprintf("Cannot remove this object's access bindings from Google Cloud yet: %s The finalizer stays until they are removed; fix the cause, or set deletionPolicy: Abandon to leave Google Cloud as it is.",
		ensurePeriod(outcomeMessage(shown, f)))
	set(ps, iapv1alpha1.ConditionDeleting, metav1.ConditionTrue, shown.reason, msg)
	set(ps, iapv1alpha1.ConditionReady, metav1.ConditionFalse, iapv1alpha1.ReasonDeleting, msg)
	set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, iapv1alpha1.ReasonDeleting, msg)
	stalledStatus := metav1.ConditionFalse
	if shown.kind == stalled {
		stalledStatus = metav1.ConditionTrue
	}
	set(ps, iapv1alpha1.ConditionStalled, stalledStatus, shown.reason, msg)
	for _, t := range stepConditions {
		if t == iapv1alpha1.ConditionSettingsApplied && ps.Spec.IAP.Settings == nil {
			continue
		}
		set(ps, t, metav1.ConditionUnknown, iapv1alpha1.ReasonDeleting, "The object is being deleted; see the Deleting condition.")
	}
	// Setting deletionTimestamp bumps the generation; a cleanup that decided something observed it.
	if shown.kind != retrying {
		ps.Status.ObservedGeneration = ps.Generation
	}
}

func set(ps *iapv1alpha1.ProtectedService, conditionType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&ps.Status.Conditions, metav1.Condition{
		Type: conditionType, Status: status, Reason: reason, Message: message,
		ObservedGeneration: ps.Generation,
	})
}

func sameStatusButSync(a, b *iapv1alpha1.ProtectedServiceStatus) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	a.LastSyncTime, b.LastSyncTime = nil, nil
	return equality.Semantic.DeepEqual(a, b)
}

// patchStatus writes status only when it changed: a quiet reconcile costs no write.
func (r *ProtectedServiceReconciler) patchStatus(ctx context.Context, s *scope) error {
	if equality.Semantic.DeepEqual(s.original.Status, s.ps.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, s.ps, client.MergeFrom(s.original)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("patch status: %w", err)
	}
	return nil
}
