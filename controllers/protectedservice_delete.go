package controllers

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
)

// reconcileDelete removes this object's marked bindings (deletionPolicy Delete) and leaves IAP on,
// so the service fails closed; Abandon leaves Google Cloud as it is. The IAP service agent's
// invoker grant stays: it only lets IAP through.
func (r *ProtectedServiceReconciler) reconcileDelete(ctx context.Context, ps *iapv1alpha1.ProtectedService) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ps, iapv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	key := types.NamespacedName{Namespace: ps.Namespace, Name: ps.Name}
	if ps.Spec.DeletionPolicy != iapv1alpha1.DeletionPolicyAbandon {
		if err := r.removeOwnedBindings(ctx, ps); err != nil {
			delay := r.backoff.next(key)
			log.FromContext(ctx).Info("cleanup failed; retrying", "after", delay, "error", err.Error())
			r.Recorder.Eventf(ps, nil, corev1.EventTypeWarning, "CleanupFailed", "Delete",
				"Could not remove this object's bindings: %v. Retrying in %s; set deletionPolicy: Abandon to leave Google Cloud as it is.", err, delay)
			return ctrl.Result{RequeueAfter: delay}, nil
		}
	} else {
		r.Recorder.Eventf(ps, nil, corev1.EventTypeNormal, "Abandoned", "Delete", "deletionPolicy is Abandon: Google Cloud was left as it is.")
	}
	before := ps.DeepCopy()
	controllerutil.RemoveFinalizer(ps, iapv1alpha1.Finalizer)
	if err := r.Client.Patch(ctx, ps, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("remove finalizer: %w", err)
	}
	r.backoff.reset(key)
	r.drift.forget(key)
	return ctrl.Result{}, nil
}

func (r *ProtectedServiceReconciler) removeOwnedBindings(ctx context.Context, ps *iapv1alpha1.ProtectedService) error {
	target := ps.Spec.Service
	ns, err := r.namespace(ctx, ps.Namespace)
	if err != nil {
		return err
	}
	// An object that was never allowed to reach the project wrote nothing there; do not call
	// Google for it. One that lost its permission later still cleans up its own bindings.
	if !r.AllowAnyProject && !projectAllowed(ns.Annotations[AnnotationAllowedProjects], target) && len(ps.Status.ManagedBindings) == 0 {
		return nil
	}
	if _, err := r.Google.GetService(ctx, target.FullName()); err != nil {
		switch {
		case gcp.Classify(err) == gcp.NotFound:
			return nil // the IAP resource went with the service
		case gcp.Classify(err) == gcp.PermissionDenied && len(ps.Status.ManagedBindings) == 0:
			return nil // a project that does not exist (or was never ours to read) holds nothing of ours
		}
		return err
	}
	// The number is cached in status, so cleanup does not depend on Resource Manager.
	number, _ := strconv.ParseInt(ps.Status.ProjectNumber, 10, 64)
	if number == 0 {
		n, err := r.Google.ProjectNumber(ctx, target.Project)
		if err != nil {
			return err
		}
		number = n
	}
	resource := gcp.IAPResource(number, target.Location, target.Name)
	// Only this owner's marked bindings go, whatever the bindingPolicy: Exclusive governs what
	// the object keeps while it exists, not what its deletion may remove.
	desired := iampolicy.Desired{
		Owner: iampolicy.Owner{Cluster: r.ClusterName, Namespace: ps.Namespace, Name: ps.Name},
		Role:  iampolicy.AccessorRole, Mode: iampolicy.Merge,
	}
	plan, err := r.applyRemovals(ctx, resource, desired)
	if err != nil {
		if gcp.Classify(err) == gcp.NotFound {
			return nil
		}
		return err
	}
	if plan.Changed {
		r.Recorder.Eventf(ps, nil, corev1.EventTypeNormal, "GoogleCloudUpdated", "RemoveAccess",
			"Removed this object's IAP access bindings from %s: %s. IAP stays on, so the service fails closed.", resource, plan.Diff())
	}
	return nil
}
