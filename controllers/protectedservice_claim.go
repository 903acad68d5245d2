package controllers

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// serviceNameIndex indexes ProtectedServices by the name of the Cloud Run service they target.
// The claim check and audit log entries look objects up by service, and filter the few that
// share a name: one key per object, where an index per spelling of the service (claims by
// project ID, audit entries by project ID or number, with or without a region) kept ten sets
// per object in the cache — 35 MB at 10,000 objects, more than the objects themselves. The cost:
// a lookup reads every object targeting a service of that name in any project or region (a
// handful, usually; "api" in many projects is the case to watch).
const serviceNameIndex = "spec.service.name"

// RegisterIndexes adds the cache indexes the reconciler's queries need.
func RegisterIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &iapv1alpha1.ProtectedService{}, serviceNameIndex, func(o client.Object) []string {
		return []string{o.(*iapv1alpha1.ProtectedService).Spec.Service.Name}
	}); err != nil {
		return fmt.Errorf("index ProtectedServices by service name: %w", err)
	}
	if err := registerGrantIndexes(ctx, indexer); err != nil {
		return err
	}
	return registerLevelIndexes(ctx, indexer)
}

// objectsTargeting lists the objects whose target is the Cloud Run service named service and
// matches. The items are the cache's own (no copy): read them, never change them.
func (r *ProtectedServiceReconciler) objectsTargeting(ctx context.Context, service string, matches func(*iapv1alpha1.ProtectedService) bool) ([]iapv1alpha1.ProtectedService, error) {
	var list iapv1alpha1.ProtectedServiceList
	if err := r.Client.List(ctx, &list, client.MatchingFields{serviceNameIndex: service}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	kept := list.Items[:0]
	for i := range list.Items {
		if matches(&list.Items[i]) {
			kept = append(kept, list.Items[i])
		}
	}
	return kept, nil
}

// objectsTargetingService lists the objects whose target is service (any namespace), from the
// cache without copies: read them, never change them.
func (r *ProtectedServiceReconciler) objectsTargetingService(ctx context.Context, service iapv1alpha1.ServiceRef) ([]iapv1alpha1.ProtectedService, error) {
	return r.objectsTargeting(ctx, service.Name, func(other *iapv1alpha1.ProtectedService) bool { return other.Spec.Service == service })
}

func (r *ProtectedServiceReconciler) objectsInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var list iapv1alpha1.ProtectedServiceList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetName()), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "list ProtectedServices of namespace", "namespace", o.GetName())
		return nil
	}
	return requestsFor(list.Items, "")
}

func (r *ProtectedServiceReconciler) objectsTargetingSameService(ctx context.Context, o client.Object) []reconcile.Request {
	ps := o.(*iapv1alpha1.ProtectedService)
	same, err := r.objectsTargetingService(ctx, ps.Spec.Service)
	if err != nil {
		log.FromContext(ctx).Error(err, "list ProtectedServices of service", "service", ps.Spec.Service.String())
		return nil
	}
	return requestsFor(same, string(ps.UID))
}

func requestsFor(items []iapv1alpha1.ProtectedService, skipUID string) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(items))
	for _, item := range items {
		if string(item.UID) != skipUID {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: item.Namespace, Name: item.Name}})
		}
	}
	return out
}

// claimHolder is the object that manages a service. An object that has bound access keeps its
// claim (sticky: a later member rejection does not hand it over); otherwise the oldest wins, then
// by namespace/name. Creation times have one-second resolution, so objects applied together tie,
// and without the first rule a newcomer could win the tie-break against the object whose bindings
// are already in Google. Candidates must be allowed to target the service (see checkClaim).
func claimHolder(items []iapv1alpha1.ProtectedService) *iapv1alpha1.ProtectedService {
	if len(items) == 0 {
		return nil
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if ha, hb := holdsClaim(&a), holdsClaim(&b); ha != hb {
			return ha
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return &items[0]
}

func holdsClaim(ps *iapv1alpha1.ProtectedService) bool {
	return len(ps.Status.ManagedBindings) > 0 ||
		meta.IsStatusConditionTrue(ps.Status.Conditions, iapv1alpha1.ConditionAccessBound)
}
