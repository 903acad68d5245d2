package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/iapsettings"
)

// recordWrites records the pass's Google writes as one Event: DriftCorrected when the object was
// already Ready for this generation (the writes corrected drift), else GoogleCloudUpdated. Its
// note lists every write in order. Drift is also counted per kind of write, and a field corrected
// too often gets a FightingWriter warning of its own.
func (r *ProtectedServiceReconciler) recordWrites(s *scope) {
	if s.observing() {
		r.recordPlan(s)
		return
	}
	writes := s.facts.writes
	if len(writes) == 0 {
		return
	}
	drift := slices.DeleteFunc(slices.Clone(writes), func(w googleWrite) bool { return grantChange(s, w) })
	if !s.facts.wasReady || s.facts.deletion != nil || len(drift) == 0 {
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, "GoogleCloudUpdated", writesAction(writes), "%s",
			writesNote(fmt.Sprintf("Updated Google Cloud for %s", s.ps.Spec.Service), writes))
		return
	}
	writes = drift
	var fields []string
	for _, w := range writes {
		field := w.kind.field()
		if !slices.Contains(fields, field) {
			fields = append(fields, field)
		}
		driftCorrections.WithLabelValues(field).Inc()
		if n, fighting := r.memory.corrected(s.key(), field, s.facts.now); fighting {
			r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, "FightingWriter", string(w.kind),
				"%s was corrected %d times within %s: another tool keeps writing it. Find that writer (Terraform, gcloud scripts, Config Connector) and stop it managing %s.",
				field, n, fightWindow, field)
		}
	}
	r.Recorder.Eventf(s.ps, nil, corev1.EventTypeNormal, "DriftCorrected", writesAction(writes), "%s",
		writesNote(fmt.Sprintf("Corrected drift of %s on %s", strings.Join(fields, " and "), s.ps.Spec.Service), writes))
}

// grantChange reports whether a write only followed the object's AccessGrants: it bound a grant
// whose binding the last pass did not find, or removed the binding of a grant no longer active.
// Such a write is the grant's doing, not drift; a grant binding someone else removed and runguard
// put back is drift like any other.
func grantChange(s *scope, w googleWrite) bool {
	if w.kind != writeBindAccess && w.kind != writeRevokeAccess || len(w.added)+len(w.removed) == 0 {
		return false
	}
	boundBefore := func(group string) bool {
		return slices.ContainsFunc(s.original.Status.ManagedBindings, func(b iapv1alpha1.ManagedBinding) bool { return b.Group == group })
	}
	active := func(group string) bool {
		return slices.ContainsFunc(s.facts.grants.groups, func(g iampolicy.AccessGroup) bool { return g.Name == group })
	}
	for _, t := range w.added {
		group, ok := strings.CutPrefix(t.ConditionTitle, iampolicy.TitlePrefix)
		if !ok || !isGrantGroup(group) || boundBefore(group) {
			return false
		}
	}
	for _, t := range w.removed {
		group, ok := strings.CutPrefix(t.ConditionTitle, iampolicy.TitlePrefix)
		if !ok || !isGrantGroup(group) || active(group) {
			return false
		}
	}
	return true
}

// maxNote is the longest note events.k8s.io/v1 accepts.
const maxNote = 1024

// writesAction is the action of a pass's Event: the kinds of its writes, in order. The events API
// folds Events with the same type, reason, action and object within minutes into one series that
// keeps the first note and only counts the others; with the kinds as action, a pass that wrote
// something else (an edit applied after the adoption) is an Event of its own, while the same
// correction made again and again (a fight) folds into one counted series, as before.
func writesAction(writes []googleWrite) string {
	var kinds []string
	for _, w := range writes {
		if !slices.Contains(kinds, string(w.kind)) {
			kinds = append(kinds, string(w.kind))
		}
	}
	return strings.Join(kinds, ",")
}

// writesNote is head followed by every write's note, numbered, within maxNote: the writes that do
// not fit are left out from the end and counted instead.
func writesNote(head string, writes []googleWrite) string {
	items := make([]string, len(writes))
	for i, w := range writes {
		items[i] = writeNote(w)
		if len(writes) > 1 {
			items[i] = fmt.Sprintf("(%d) %s", i+1, items[i])
		}
	}
	more := func(shown int) string {
		if shown == len(items) {
			return ""
		}
		if left := len(items) - shown; left > 1 {
			return fmt.Sprintf(" … and %d more writes.", left)
		}
		return " … and 1 more write."
	}
	for shown := len(items); shown > 0; shown-- {
		if note := head + ": " + strings.Join(items[:shown], " ") + more(shown); len(note) <= maxNote {
			return note
		}
	}
	return cutNote(head+": "+items[0], maxNote-len(more(1))) + more(1)
}

// cutNote shortens s to at most n bytes, at a character boundary, marking the cut.
func cutNote(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	end := n - len(mark)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + mark
}

func writeNote(w googleWrite) string {
	diff := iampolicy.Plan{Changed: true, Added: w.added, Removed: w.removed}.Diff()
	switch w.kind {
	case writeGrantInvoker:
		return fmt.Sprintf("Granted roles/run.invoker on %s to IAP's service agent %s.", w.resource, strings.Join(tupleMembers(w.added), ", "))
	case writeBindAccess:
		return fmt.Sprintf("Updated IAP access on %s: %s", w.resource, diff)
	case writeRevokeAccess:
		return fmt.Sprintf("Applied only the removals on %s (%s): %s", w.resource, w.because, diff)
	case writeEnableIAP:
		return fmt.Sprintf("Switching IAP on for Cloud Run service %s.", w.resource)
	case writeDisableIAP:
		return fmt.Sprintf("Switching IAP off for Cloud Run service %s, as declared.", w.resource)
	case writeRevokePublicAccess:
		return fmt.Sprintf("Revoked public access to %s: removed %s from roles/run.invoker.", w.resource, strings.Join(tupleMembers(w.removed), ", "))
	case writeEnableInvokerCheck:
		return fmt.Sprintf("Turned the invoker IAM check back on for %s (invoker_iam_disabled was true).", w.resource)
	case writeApplySettings:
		return fmt.Sprintf("Updated IAP settings on %s: %s.", w.resource, iapsettings.Plan{Changes: w.settings}.Diff())
	case writeRemoveAccess:
		return fmt.Sprintf("Removed this object's IAP access bindings from %s: %s. IAP stays on, so the service fails closed.", w.resource, diff)
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
			strings.Join(f.access.unrestricted, ", "), iampolicy.AccessorRole, f.resolved.IAPResource())
	}
	for _, grant := range slices.Sorted(maps.Keys(f.grants.unbound)) {
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, "GrantNotBound", string(writeBindAccess),
			"AccessGrant %s is active but not bound: %s.", grant, f.grants.unbound[grant])
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
	case shown.reason == iapv1alpha1.ReasonThrottled:
		// runguard's own pacing is no failure: an Event for every object held back by it would be
		// the error storm pacing exists to avoid. The metric and the pacer's waits say it.
		reconcileOutcomes.WithLabelValues(shown.reason).Inc()
		log.FromContext(ctx).V(1).Info("paced", "reason", shown.err.Error())
	case shown.kind == retrying:
		reconcileOutcomes.WithLabelValues(shown.reason).Inc()
		log.FromContext(ctx).Info("transient failure; retrying", "error", shown.err.Error())
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, shown.reason, "Reconcile", "%s", outcomeMessage(shown, f))
	default:
		reconcileOutcomes.WithLabelValues(shown.reason).Inc()
	}
}
