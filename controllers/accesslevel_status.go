package controllers

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/gcp"
)

// applyLevelStatus is the one place that turns an AccessLevel pass's facts and outcome into
// conditions and words.
func applyLevelStatus(s *levelScope, out *outcome) {
	st := &s.al.Status
	if s.name != "" {
		st.Name = s.name
	}
	if s.actual != nil {
		st.Meaning = accesslevel.Describe(s.actual)
	} else if s.desired != nil && out == nil {
		st.Meaning = accesslevel.Describe(s.desired)
	}
	applyLevelObservation(s, out)
	msg := levelMessage(s, out)
	switch {
	case out == nil:
		setLevel(s.al, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonReconciled, "Nothing needs a human.")
		setLevel(s.al, iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, iapv1alpha1.ReasonReconciled, "The level in Google matches the spec.")
		setLevel(s.al, iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonReconciled, msg)
	case out.kind == stalled:
		setLevel(s.al, iapv1alpha1.ConditionStalled, metav1.ConditionTrue, out.reason, msg)
		setLevel(s.al, iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, out.reason, "Waiting for a human; see the Stalled condition.")
		setLevel(s.al, iapv1alpha1.ConditionReady, metav1.ConditionFalse, out.reason, msg)
	case out.kind == waiting:
		setLevel(s.al, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonProgressing, "Nothing needs a human.")
		setLevel(s.al, iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, out.reason, msg)
		setLevel(s.al, iapv1alpha1.ConditionReady, metav1.ConditionFalse, out.reason, msg)
	default:
		setLevel(s.al, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonRetrying, "Retrying; nothing known needs a human.")
		setLevel(s.al, iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, out.reason, msg)
		// A Ready level stays Ready through a blip: its users keep binding it.
		if !levelReady(s.original) {
			setLevel(s.al, iapv1alpha1.ConditionReady, metav1.ConditionFalse, out.reason, msg)
		}
		return
	}
	st.ObservedGeneration = s.al.Generation
}

// applyLevelObservation shows, in Observe mode, what Enforce would write.
func applyLevelObservation(s *levelScope, out *outcome) {
	if s.al.Spec.Mode != iapv1alpha1.ModeObserve || s.al.DeletionTimestamp != nil {
		meta.RemoveStatusCondition(&s.al.Status.Conditions, iapv1alpha1.ConditionInSync)
		s.al.Status.PendingChanges = nil
		return
	}
	switch {
	case out != nil && out.reason != iapv1alpha1.ReasonChangesPending:
		setLevel(s.al, iapv1alpha1.ConditionInSync, metav1.ConditionUnknown, out.reason, "Not compared: see the Ready condition.")
	case len(s.facts.mask) == 0:
		s.al.Status.PendingChanges = nil
		setLevel(s.al, iapv1alpha1.ConditionInSync, metav1.ConditionTrue, iapv1alpha1.ReasonMatches, "The level in Google matches the spec.")
	default:
		s.al.Status.PendingChanges = pendingLevelChanges(s)
		msg := "Enforce would " + strings.Join(s.al.Status.PendingChanges, "; ") + "."
		if s.facts.notOwned {
			msg += " runguard did not make this level: Enforce stalls (AccessLevelNotOwned) unless the object is annotated " + iapv1alpha1.AnnotationAdoptLevel + `: "true".`
		}
		setLevel(s.al, iapv1alpha1.ConditionInSync, metav1.ConditionFalse, iapv1alpha1.ReasonChangesPending, msg)
	}
}

func pendingLevelChanges(s *levelScope) []string {
	if s.actual == nil {
		return []string{"create " + s.name}
	}
	out := make([]string, 0, len(s.facts.mask))
	for _, field := range s.facts.mask {
		out = append(out, "write "+field+" of "+s.name)
	}
	return out
}

// levelMessage says what a pass found, from its outcome and facts.
func levelMessage(s *levelScope, out *outcome) string {
	if out == nil {
		switch {
		case s.facts.created:
			return fmt.Sprintf("Created %s: %s.", s.name, s.al.Status.Meaning)
		case s.facts.updated:
			return fmt.Sprintf("Updated %s (%s): %s.", s.name, strings.Join(s.facts.mask, ", "), s.al.Status.Meaning)
		}
		return fmt.Sprintf("%s holds: %s.", s.name, s.al.Status.Meaning)
	}
	switch out.reason {
	case iapv1alpha1.ReasonAccessPolicyUnset:
		return "No access policy: set spec.accessPolicy (accessPolicies/NUMBER), or start the manager with --access-policy."
	case iapv1alpha1.ReasonAccessPolicyNotFound:
		return fmt.Sprintf("Access policy %s does not exist, or runguard may not read it (accesscontextmanager.policies.get): %s", policyOf(s.name), gcp.Message(out.err))
	case iapv1alpha1.ReasonScopedAccessPolicy:
		return fmt.Sprintf("Access policy %s is scoped to %v; IAP honours only levels of the organization's access policy. Name that policy in spec.accessPolicy (an organization admin can grant you roles/accesscontextmanager.policyEditor on it alone).", policyOf(s.name), out.err)
	case iapv1alpha1.ReasonInvalidCondition:
		return "The level is not one Access Context Manager accepts, so nothing was sent: " + out.err.Error()
	case iapv1alpha1.ReasonInvalidExpression:
		return "spec.custom.expression does not compile: " + out.err.Error()
	case iapv1alpha1.ReasonReferenceCycle:
		return "Levels require each other in a cycle: " + strings.Join(s.facts.cycle, " → ") + ". Remove one of the requiredAccessLevels."
	case iapv1alpha1.ReasonAccessLevelNotFound:
		return fmt.Sprintf("Required level %s does not exist: create it, or remove it from requiredAccessLevels.", s.facts.missing)
	case iapv1alpha1.ReasonAccessLevelNotReady:
		return fmt.Sprintf("Waiting for the required AccessLevel %s to exist and be Ready.", s.facts.notReady)
	case iapv1alpha1.ReasonAccessLevelNotOwned:
		return notOwnedMessage(s)
	case iapv1alpha1.ReasonChangesPending:
		return fmt.Sprintf("Observe mode: %s does not exist in Google; Enforce would create it.", s.name)
	case iapv1alpha1.ReasonInUse:
		return fmt.Sprintf("Deleting: waiting until no ProtectedService requires this level (%s), so nobody is locked out.", strings.Join(s.facts.usedBy, ", "))
	}
	return googleOutcomeMessage(out)
}

func notOwnedMessage(s *levelScope) string {
	if o := s.facts.otherOwner; o != nil {
		return fmt.Sprintf("%s belongs to AccessLevel %s of runguard in cluster %q; runguard never edits a level another owner manages. Give this object another spec.levelName.", s.name, o.Name, o.Cluster)
	}
	return fmt.Sprintf("%s exists in Google and runguard did not create it; runguard never edits a level it does not own. Give this object another spec.levelName, or annotate it %s: \"true\" to take the level over.", s.name, iapv1alpha1.AnnotationAdoptLevel)
}

// googleOutcomeMessage words an outcome of a Google call.
func googleOutcomeMessage(out *outcome) string {
	if out.err == nil {
		return out.reason
	}
	if p := gcp.Permission(out.err); p != "" && out.reason == iapv1alpha1.ReasonPermissionDenied {
		return fmt.Sprintf("runguard lacks %s on %s: grant it (roles/accesscontextmanager.policyEditor on the access policy holds it).", p, gcp.Resource(out.err))
	}
	return out.err.Error()
}

func setLevel(al *iapv1alpha1.AccessLevel, conditionType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&al.Status.Conditions, metav1.Condition{
		Type: conditionType, Status: status, Reason: reason, Message: message, ObservedGeneration: al.Generation,
	})
}

// recordLevelEvents tells what a pass wrote to Google, and a new stall once.
func (r *AccessLevelReconciler) recordLevelEvents(s *levelScope, out *outcome) {
	switch {
	case s.facts.created:
		r.Recorder.Eventf(s.al, nil, corev1.EventTypeNormal, "Created", "CreateAccessLevel", "Created %s", s.name)
	case s.facts.updated:
		r.Recorder.Eventf(s.al, nil, corev1.EventTypeNormal, "Updated", "UpdateAccessLevel", "Wrote %s of %s", strings.Join(s.facts.mask, ", "), s.name)
	case s.facts.deleted && s.al.DeletionTimestamp != nil && s.al.Spec.DeletionPolicy == iapv1alpha1.DeletionPolicyDelete:
		r.Recorder.Eventf(s.al, nil, corev1.EventTypeNormal, "Deleted", "DeleteAccessLevel", "Released %s", s.name)
	}
	if out == nil {
		reconcileOutcomes.WithLabelValues(iapv1alpha1.ReasonReconciled).Inc()
	} else {
		// The Stalled alert counts the AccessLevels' stalls with the ProtectedServices'.
		reconcileOutcomes.WithLabelValues(out.reason).Inc()
	}
	if out != nil && out.kind == stalled {
		before := meta.FindStatusCondition(s.original.Status.Conditions, iapv1alpha1.ConditionStalled)
		if before == nil || before.Reason != out.reason || before.Status != metav1.ConditionTrue {
			r.Recorder.Eventf(s.al, nil, corev1.EventTypeWarning, out.reason, "Reconcile", "%s", levelMessage(s, out))
		}
	}
}
