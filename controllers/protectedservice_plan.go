package controllers

import (
	"context"
	"slices"
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
	// MissingPermissions are the read permissions the caller lacks ("permission on resource"),
	// when the preflight blocked the plan: the status message would name runguard's identity.
	MissingPermissions []string
}

// PlanWithoutCluster runs the pass an object in Observe mode runs — the same checks, the same
// planners, and no Google write of any kind — for an object that is not in a cluster.
// namespace carries the annotations the object's namespace is assumed to have; caller names who
// the calls are made as, for messages. With no cluster
// there are no other objects, so the claim check is left out (runguard's markers in Google still
// tell another owner's service apart); and the caller, usually a CI identity that may only read,
// is checked for the read permissions alone.
//
// levels are the AccessLevel objects the plan may resolve references against (those in the
// manifests planned, and those read from a cluster): the level of one not applied yet is the one
// it would create.
func PlanWithoutCluster(ctx context.Context, google *gcp.Clients, caller string, ps *iapv1alpha1.ProtectedService, namespace *metav1.PartialObjectMetadata, opts Options, levels []iapv1alpha1.AccessLevel) Plan {
	r := &ProtectedServiceReconciler{Google: google, Options: opts, planOnly: true, planLevels: map[string]*iapv1alpha1.AccessLevel{}}
	for i := range levels {
		r.planLevels[levels[i].Name] = &levels[i]
	}
	// Whatever mode the manifest says, this is the Observe pass: it decides and writes nothing.
	ps = ps.DeepCopy()
	ps.Spec.Mode = iapv1alpha1.ModeObserve
	s := newScope(ps, opts.ClusterName, namespace, time.Now())
	s.facts.caller = caller
	var shown *outcome
	for _, o := range r.pass(gcp.ObserveOnly(ctx), s) {
		shown = worst(shown, o)
	}
	plan := Plan{Changes: pendingChanges(s.facts.writes), MissingPermissions: permissionsOn(s.facts.missingPermissions)}
	if shown != nil {
		plan.Blocked = &metav1.Condition{Type: iapv1alpha1.ConditionInSync, Status: metav1.ConditionUnknown,
			Reason: shown.reason, Message: outcomeMessage(shown, &s.facts)}
	}
	return plan
}

// PlanPermissions are the permissions runguard plan's preflight asks its caller for, besides
// resourcemanager.projects.get (settings' only when settings are declared).
func PlanPermissions() []string {
	return readPermissions(slices.Concat(gcp.ServicePermissions, gcp.AccessPermissions, gcp.SettingsPermissions))
}
