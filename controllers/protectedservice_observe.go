package controllers

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
)

// maxPendingShown bounds status.pendingChanges; pendingChangeCount has the total.
const maxPendingShown = 20

// applyObserveStatus is applyStatus for spec.mode: Observe. The pass wrote nothing, so the
// per-step conditions, which report what runguard did, are not shown; InSync and
// status.pendingChanges say what Enforce would change. The object is Ready when observing works
// (Argo CD and Flux see it healthy): being out of sync with Google is what it reports, not a
// failure of its own.
func applyObserveStatus(ps *iapv1alpha1.ProtectedService, f *facts, shown *outcome) {
	for _, t := range stepConditions {
		meta.RemoveStatusCondition(&ps.Status.Conditions, t)
	}
	pending := pendingChanges(f.writes)
	ps.Status.PendingChangeCount = int32(len(pending))
	ps.Status.PendingChanges = pending[:min(len(pending), maxPendingShown)]
	if shown != nil {
		// A stall or failure means the plan could not be completed: what is pending is partial.
		msg := outcomeMessage(shown, f)
		set(ps, iapv1alpha1.ConditionInSync, metav1.ConditionUnknown, shown.reason, "Not known: "+msg)
		return
	}
	if len(pending) == 0 {
		set(ps, iapv1alpha1.ConditionInSync, metav1.ConditionTrue, iapv1alpha1.ReasonMatches, "Google Cloud matches the spec: Enforce would change nothing.")
	} else {
		set(ps, iapv1alpha1.ConditionInSync, metav1.ConditionFalse, iapv1alpha1.ReasonChangesPending,
			fmt.Sprintf("Enforce would make %d changes: %s. See status.pendingChanges.", len(pending), listSome(pending)))
	}
	msg := fmt.Sprintf("Observing Cloud Run service %s (spec.mode: Observe): nothing is written to Google Cloud; %d changes pending.", ps.Spec.Service, len(pending))
	set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonObserving, "Nothing needs a human.")
	set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, iapv1alpha1.ReasonObserving, msg)
	set(ps, iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonObserving, msg)
}

// forgetObservation removes what Observe mode shows once the object enforces again.
func forgetObservation(ps *iapv1alpha1.ProtectedService) {
	meta.RemoveStatusCondition(&ps.Status.Conditions, iapv1alpha1.ConditionInSync)
	ps.Status.PendingChanges, ps.Status.PendingChangeCount = nil, 0
}

// pendingChanges says, in the order Enforce would make them, the changes the pass planned.
func pendingChanges(writes []googleWrite) []string {
	var out []string
	for _, w := range writes {
		switch w.kind {
		case writeGrantInvoker:
			out = append(out, fmt.Sprintf("grant %s on %s to IAP's service agent %s", iampolicy.InvokerRole, w.resource, w.detail))
		case writeBindAccess, writeRevokeAccess, writeRemoveAccess:
			out = append(out, accessChanges(w)...)
		case writeEnableIAP:
			out = append(out, "switch IAP on for "+w.resource)
		case writeDisableIAP:
			out = append(out, "switch IAP off for "+w.resource+", once the revocation of public access has propagated")
		case writeRevokePublicAccess:
			out = append(out, fmt.Sprintf("revoke %s from %s on %s", w.detail, iampolicy.InvokerRole, w.resource))
		case writeEnableInvokerCheck:
			out = append(out, "turn the invoker IAM check back on for "+w.resource+" (invoker_iam_disabled: false)")
		case writeApplySettings:
			out = append(out, fmt.Sprintf("set IAP settings on %s: %s", w.resource, w.detail))
		}
	}
	return out
}

// accessChanges turns a plan's diff ("+member (title); -member (title)") into one change each.
func accessChanges(w googleWrite) []string {
	var out []string
	for _, entry := range strings.Split(w.detail, "; ") {
		why := ""
		if w.reason != "" {
			why = ", " + w.reason
		}
		switch {
		case strings.HasPrefix(entry, "+"):
			out = append(out, fmt.Sprintf("grant %s to %s", iampolicy.AccessorRole, strings.TrimPrefix(entry, "+")))
		case strings.HasPrefix(entry, "-"):
			out = append(out, fmt.Sprintf("remove %s from %s%s", strings.TrimPrefix(entry, "-"), iampolicy.AccessorRole, why))
		case entry != "":
			out = append(out, entry) // "and N more"
		}
	}
	return out
}
