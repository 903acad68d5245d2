package controllers

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/iapsettings"
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
			fmt.Sprintf("Enforce would make %d changes: %s. %s", len(pending), listSome(pending), pendingListed(len(pending))))
	}
	msg := fmt.Sprintf("Observing Cloud Run service %s (spec.mode: Observe): nothing is written to Google Cloud; %d changes pending.", ps.Spec.Service, len(pending))
	set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonObserving, "Nothing needs a human.")
	set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, iapv1alpha1.ReasonObserving, msg)
	set(ps, iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonObserving, msg)
}

// pendingListed says where the changes are listed, and that the list is cut when it is.
func pendingListed(n int) string {
	if n > maxPendingShown {
		return fmt.Sprintf("status.pendingChanges lists the first %d.", maxPendingShown)
	}
	return "See status.pendingChanges."
}

// forgetObservation removes what Observe mode shows once the object enforces again.
func forgetObservation(ps *iapv1alpha1.ProtectedService) {
	meta.RemoveStatusCondition(&ps.Status.Conditions, iapv1alpha1.ConditionInSync)
	ps.Status.PendingChanges, ps.Status.PendingChangeCount = nil, 0
}

// pendingChanges says, in the order Enforce would make them, the changes the pass planned: one
// per (role, member, condition) tuple an access write adds or removes, one per other write.
func pendingChanges(writes []googleWrite) []string {
	var out []string
	for _, w := range writes {
		switch w.kind {
		case writeGrantInvoker:
			for _, t := range w.added {
				out = append(out, fmt.Sprintf("grant %s on %s to IAP's service agent %s", t.Role, w.resource, t.Member))
			}
		case writeBindAccess, writeRevokeAccess, writeRemoveAccess:
			out = append(out, accessChanges(w)...)
		case writeEnableIAP:
			out = append(out, "switch IAP on for "+w.resource)
		case writeDisableIAP:
			out = append(out, "switch IAP off for "+w.resource+", once the revocation of public access has propagated")
		case writeRevokePublicAccess:
			out = append(out, fmt.Sprintf("revoke %s from %s on %s", strings.Join(tupleMembers(w.removed), ", "), iampolicy.InvokerRole, w.resource))
		case writeEnableInvokerCheck:
			out = append(out, "turn the invoker IAM check back on for "+w.resource+" (invoker_iam_disabled: false)")
		case writeApplySettings:
			out = append(out, fmt.Sprintf("set IAP settings on %s: %s", w.resource, iapsettings.Plan{Changes: w.settings}.Diff()))
		}
	}
	return out
}

// accessChanges is one change for each tuple an access write adds or removes.
func accessChanges(w googleWrite) []string {
	why := ""
	if w.because != "" {
		why = ", " + w.because
	}
	out := make([]string, 0, len(w.added)+len(w.removed))
	for _, t := range w.added {
		out = append(out, fmt.Sprintf("grant %s to %s (%s)", t.Role, t.Member, conditionName(t)))
	}
	for _, t := range w.removed {
		out = append(out, fmt.Sprintf("remove %s (%s) from %s%s", t.Member, conditionName(t), t.Role, why))
	}
	return out
}

// conditionName names the condition a tuple is bound under.
func conditionName(t iampolicy.Tuple) string {
	if t.ConditionTitle == "" {
		return "unconditional"
	}
	return t.ConditionTitle
}
