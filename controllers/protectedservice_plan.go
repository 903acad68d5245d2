package controllers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
)

// Plan is what applying one ProtectedService would change in Google Cloud, as `runguard plan`
// shows it without a cluster.
type Plan struct {
	// Changes are the writes Enforce would make, in its order, in the words of
	// status.pendingChanges.
	Changes []string
	// Blocked is set when the pass could not be completed (a check stalled, Google failed): Reason
	// and Message are those the object's status would show. Changes are then partial.
	Blocked *metav1.Condition
}

// PlanWithoutCluster runs the pass an object in Observe mode runs — the same checks, the same
// planners, and no Google write of any kind — for an object that is not in a cluster.
// namespace carries the annotations the object's namespace is assumed to have. With no cluster
// there are no other objects, so the claim check is left out (runguard's markers in Google still
// tell another owner's service apart); and the caller, usually a CI identity that may only read,
// is checked for the read permissions alone.
func PlanWithoutCluster(ctx context.Context, google *gcp.Clients, ps *iapv1alpha1.ProtectedService, namespace *metav1.PartialObjectMetadata, opts Options) Plan {
	r := &ProtectedServiceReconciler{Google: google, Options: opts, planOnly: true}
	s := newScope(ps.DeepCopy(), opts.ClusterName, namespace, time.Now())
	var shown *outcome
	for _, o := range r.pass(gcp.ObserveOnly(ctx), s) {
		shown = worst(shown, o)
	}
	plan := Plan{Changes: pendingChanges(s.facts.writes)}
	if shown != nil {
		plan.Blocked = &metav1.Condition{Type: iapv1alpha1.ConditionInSync, Status: metav1.ConditionUnknown,
			Reason: shown.reason, Message: outcomeMessage(shown, &s.facts)}
	}
	return plan
}
