// Package controllers turns a ProtectedService into calls to Google Cloud.
package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
)

// +kubebuilder:rbac:groups=iap.runguard.dev,resources=protectedservices,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=protectedservices/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=protectedservices/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// serviceIndex indexes ProtectedServices by target, so a claim check reads only the objects that
// target the same Cloud Run service.
const serviceIndex = "spec.service"

// Options are the manager flags the controller honours.
type Options struct {
	// ClusterName is written into every binding's marker, so two clusters never remove each other's bindings.
	ClusterName string
	// AllowAnyProject turns the namespace allowed-projects check off (single-tenant clusters).
	AllowAnyProject bool
	// ResyncPeriod is how often each object is re-checked against Google Cloud to correct drift.
	ResyncPeriod time.Duration
	// StalledRecheck is how often a Stalled object is re-checked.
	StalledRecheck time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
	// IAMPropagationDelay is how long IAP stays on after public access was revoked, when IAP is
	// being switched off: Google documents that IAM changes take about 2 minutes, sometimes 7 or more.
	IAMPropagationDelay time.Duration
}

// ProtectedServiceReconciler converges Google Cloud to each ProtectedService.
type ProtectedServiceReconciler struct {
	Client   client.Client
	Google   *gcp.Clients
	Recorder events.EventRecorder
	Options

	backoff backoffTracker
	drift   driftTracker
}

// SetupWithManager registers the controller, its index and its watches.
func (r *ProtectedServiceReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.ClusterName == "" {
		r.ClusterName = "default"
	}
	if r.ResyncPeriod <= 0 {
		r.ResyncPeriod = 10 * time.Minute
	}
	if r.StalledRecheck <= 0 {
		r.StalledRecheck = 5 * time.Minute
	}
	if r.IAMPropagationDelay <= 0 {
		r.IAMPropagationDelay = 7 * time.Minute
	}
	if r.MaxConcurrentReconciles <= 0 {
		r.MaxConcurrentReconciles = 4
	}
	if err := RegisterIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Status writes do not change the generation, so our own status patches never wake us.
		For(&iapv1alpha1.ProtectedService{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, deletionStarted{}))).
		// A changed tenant annotation re-checks every object in the namespace.
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.objectsInNamespace),
			builder.WithPredicates(predicate.AnnotationChangedPredicate{})).
		// When an object that holds a claim goes away, the next one in line takes over.
		Watches(&iapv1alpha1.ProtectedService{}, handler.EnqueueRequestsFromMapFunc(r.objectsTargetingSameService),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc:  func(event.CreateEvent) bool { return false },
				UpdateFunc:  func(event.UpdateEvent) bool { return false },
				DeleteFunc:  func(event.DeleteEvent) bool { return true },
				GenericFunc: func(event.GenericEvent) bool { return false },
			})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("protectedservice").
		Complete(r)
}

// RegisterIndexes adds the cache indexes the reconciler's queries need.
func RegisterIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &iapv1alpha1.ProtectedService{}, serviceIndex, func(o client.Object) []string {
		return []string{o.(*iapv1alpha1.ProtectedService).Spec.Service.String()}
	}); err != nil {
		return fmt.Errorf("index ProtectedServices by service: %w", err)
	}
	return nil
}

// Reconcile runs one pass: finalizer, then the ordered phases, then one status patch.
func (r *ProtectedServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ps := &iapv1alpha1.ProtectedService{}
	if err := r.Client.Get(ctx, req.NamespacedName, ps); err != nil {
		if apierrors.IsNotFound(err) {
			r.backoff.reset(req.NamespacedName)
			r.drift.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ps.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, ps)
	}
	if !controllerutil.ContainsFinalizer(ps, iapv1alpha1.Finalizer) {
		before := ps.DeepCopy()
		controllerutil.AddFinalizer(ps, iapv1alpha1.Finalizer)
		if err := r.Client.Patch(ctx, ps, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
	}

	s := newScope(ps, r.ClusterName)
	for _, phase := range r.phases(ps) {
		if err := phase(ctx, s); err != nil {
			s.fail(err)
			break
		}
	}
	result := r.finish(ctx, s)
	if err := r.patchStatus(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	return result, nil
}

type phase func(context.Context, *scope) error

// phases is the reconcile order. Access is bound before IAP is switched on so nobody is locked
// out; with IAP off, public access is revoked first of all, so nothing else that may need a human
// (a missing IAP agent, a bad condition) can keep a Deny service public, and IAP is switched off
// only once that revocation has propagated.
func (r *ProtectedServiceReconciler) phases(ps *iapv1alpha1.ProtectedService) []phase {
	if ps.Spec.IAPEnabled() {
		return []phase{r.checkTenancy, r.checkClaim, r.resolveService, r.checkDeclaration,
			r.ensureInvokerGrant, r.bindAccess, r.enableIAP, r.revokePublicAccess}
	}
	return []phase{r.checkTenancy, r.checkClaim, r.resolveService, r.revokePublicAccess, r.checkDeclaration,
		r.ensureInvokerGrant, r.bindAccess, r.disableIAP}
}

// finish turns the pass's outcome into conditions and a requeue.
func (r *ProtectedServiceReconciler) finish(ctx context.Context, s *scope) ctrl.Result {
	key := types.NamespacedName{Namespace: s.ps.Namespace, Name: s.ps.Name}
	logger := log.FromContext(ctx)
	if s.stalled == nil && s.transient == nil && s.rejected != nil {
		s.stalled = s.rejected
	}
	switch {
	case s.stalled != nil:
		r.backoff.reset(key)
		s.markStalled()
		reconcileOutcomes.WithLabelValues(s.stalled.reason).Inc()
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, s.stalled.reason, "Reconcile", "%s", s.stalled.message)
		return ctrl.Result{RequeueAfter: jitter(r.StalledRecheck)}
	case s.transient != nil:
		delay := r.backoff.next(key)
		if d, ok := gcp.RetryDelay(s.transient); ok && d > delay {
			delay = min(d, maxBackoff)
		}
		s.markRetrying(s.transient)
		reconcileOutcomes.WithLabelValues(iapv1alpha1.ReasonRetrying).Inc()
		logger.Info("transient failure; retrying", "after", delay, "error", s.transient.Error())
		r.Recorder.Eventf(s.ps, nil, corev1.EventTypeWarning, iapv1alpha1.ReasonRetrying, "Reconcile", "%s (retrying in %s)", s.transient.Error(), delay.Round(time.Second))
		return ctrl.Result{RequeueAfter: delay}
	case s.waiting != nil:
		s.markWaiting()
		reconcileOutcomes.WithLabelValues(s.waiting.reason).Inc()
		after := s.waiting.after
		if after <= 0 {
			after = r.backoff.next(key)
		}
		return ctrl.Result{RequeueAfter: after}
	default:
		r.backoff.reset(key)
		s.markReady(r.ResyncPeriod)
		reconcileOutcomes.WithLabelValues(s.readyReason()).Inc()
		return ctrl.Result{RequeueAfter: jitter(r.ResyncPeriod)}
	}
}

func (r *ProtectedServiceReconciler) objectsInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var list iapv1alpha1.ProtectedServiceList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetName())); err != nil {
		log.FromContext(ctx).Error(err, "list ProtectedServices of namespace", "namespace", o.GetName())
		return nil
	}
	return requestsFor(list.Items, "")
}

func (r *ProtectedServiceReconciler) objectsTargetingSameService(ctx context.Context, o client.Object) []reconcile.Request {
	ps := o.(*iapv1alpha1.ProtectedService)
	var list iapv1alpha1.ProtectedServiceList
	if err := r.Client.List(ctx, &list, client.MatchingFields{serviceIndex: ps.Spec.Service.String()}); err != nil {
		log.FromContext(ctx).Error(err, "list ProtectedServices of service", "service", ps.Spec.Service.String())
		return nil
	}
	return requestsFor(list.Items, string(ps.UID))
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

// deletionStarted lets the update that sets deletionTimestamp through the generation filter.
type deletionStarted struct{ predicate.Funcs }

func (deletionStarted) Update(e event.UpdateEvent) bool {
	return e.ObjectOld != nil && e.ObjectNew != nil &&
		e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
}
func (deletionStarted) Create(event.CreateEvent) bool   { return true }
func (deletionStarted) Delete(event.DeleteEvent) bool   { return true }
func (deletionStarted) Generic(event.GenericEvent) bool { return true }

const (
	minBackoff = time.Second
	maxBackoff = 2 * time.Minute
)

// jitter spreads resyncs of objects created together over ±10% of the period.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}
