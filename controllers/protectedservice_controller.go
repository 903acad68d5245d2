// Package controllers turns a ProtectedService into calls to Google Cloud.
package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
)

// +kubebuilder:rbac:groups=iap.runguard.dev,resources=protectedservices,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=protectedservices/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=protectedservices/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// ProtectedServiceReconciler converges Google Cloud to each ProtectedService.
type ProtectedServiceReconciler struct {
	Client   client.Client
	Google   *gcp.Clients
	Recorder events.EventRecorder
	// AuditSubscription, when set, triggers passes from Admin Activity audit entries.
	AuditSubscription *gcp.AuditSubscription
	// AuditEventsAbout is the object Events about the audit subscription are recorded on (the
	// manager's leader election Lease); nil records none.
	AuditEventsAbout client.Object
	// Levels, when set, is woken by audit entries that report a change to an access level.
	Levels *AccessLevelReconciler
	Options

	// memory is what is remembered of objects and projects between passes.
	memory memory
	// wake enqueues objects at once: those backing off from a project that answers again, and
	// those an audit entry names.
	wake chan event.TypedGenericEvent[*iapv1alpha1.ProtectedService]
	// wakeLow enqueues at resync priority the objects an audit entry of runguard's own names.
	wakeLow chan event.TypedGenericEvent[*iapv1alpha1.ProtectedService]
	// planOnly: the pass is runguard plan's, outside any cluster (PlanWithoutCluster); its
	// AccessLevel objects are planLevels, by name.
	planOnly   bool
	planLevels map[string]*iapv1alpha1.AccessLevel
}

// SetupWithManager registers the controller, its index and its watches.
func (r *ProtectedServiceReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("controller options: %w", err)
	}
	if err := RegisterIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	r.wake = make(chan event.TypedGenericEvent[*iapv1alpha1.ProtectedService], wakeBuffer)
	r.wakeLow = make(chan event.TypedGenericEvent[*iapv1alpha1.ProtectedService], wakeBuffer)
	registerCollectors(&r.memory, mgr.GetCache())
	if r.AuditSubscription != nil {
		// A RunnableFunc runs only on the leader.
		if err := mgr.Add(manager.RunnableFunc(r.receiveAuditEvents)); err != nil {
			return fmt.Errorf("add the audit event receiver: %w", err)
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Status writes do not change the generation, so our own status patches never wake us.
		// A user's edit goes ahead of everything else queued (editsFirst).
		Watches(&iapv1alpha1.ProtectedService{}, editsFirst(), builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, deletionStarted{}, pauseChanged{}))).
		// A changed tenant annotation re-checks every object in the namespace.
		// Only annotations matter: namespaces are cached as metadata, never whole.
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.objectsInNamespace),
			builder.WithPredicates(predicate.AnnotationChangedPredicate{})).
		// When an object that holds a claim goes away, the next one in line takes over.
		Watches(&iapv1alpha1.ProtectedService{}, handler.EnqueueRequestsFromMapFunc(r.objectsTargetingSameService),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc:  func(event.CreateEvent) bool { return false },
				UpdateFunc:  func(event.UpdateEvent) bool { return false },
				DeleteFunc:  func(event.DeleteEvent) bool { return true },
				GenericFunc: func(event.GenericEvent) bool { return false },
			})).
		// An AccessLevel that becomes Ready, changes meaning or goes wakes the objects requiring it.
		Watches(&iapv1alpha1.AccessLevel{}, handler.EnqueueRequestsFromMapFunc(r.objectsRequiringLevel),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: levelUsable()})).
		// A grant that becomes active, expires or goes changes who may pass.
		Watches(&iapv1alpha1.AccessGrant{}, objectOfGrant()).
		// Objects backing off from a project that answers again, and objects an audit entry
		// names, are reconciled at once.
		WatchesRawSource(source.Channel(r.wake, &handler.TypedEnqueueRequestForObject[*iapv1alpha1.ProtectedService]{})).
		WatchesRawSource(source.Channel(r.wakeLow, atLowPriority())).
		// The priority queue (controller-runtime's default, set here to say it is relied on)
		// puts edits ahead of resyncs and of the initial listing: see requeuePriority.
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles, UsePriorityQueue: ptr(true)}).
		Named("protectedservice").
		Complete(r)
}

// Reconcile runs one pass: get the object, ensure the finalizer, run the stages of the pass (or
// the deletion), then write conditions and at most one status patch.
func (r *ProtectedServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ps := &iapv1alpha1.ProtectedService{}
	if err := r.Client.Get(ctx, req.NamespacedName, ps); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !ps.DeletionTimestamp.IsZero()
	if carryOn, err := holdFinalizer(ctx, r.Client, ps); !carryOn {
		return ctrl.Result{}, err
	}
	ns, err := r.namespace(ctx, ps.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	s := newScope(ps, r.ClusterName, ns, time.Now())
	if paused(ps) {
		release, err := r.holdPaused(ctx, s)
		if release {
			return ctrl.Result{}, r.releaseFinalizer(ctx, s.ps)
		}
		return ctrl.Result{}, err
	}
	if ps.Spec.Observing() {
		ctx = gcp.ObserveOnly(ctx) // no Google write of any kind, whatever a phase asks
	}
	ctx, notYet := r.admit(ctx, s)
	var outcomes []*outcome
	switch {
	case notYet != nil:
		outcomes = []*outcome{notYet}
	case deleting:
		outcomes = r.cleanupPass(ctx, s)
	default:
		outcomes = r.pass(ctx, s)
	}
	if notYet == nil {
		r.memory.passAdmitted(s.key(), ps.Generation, scopeOf(ps.Spec.Service), s.facts.class, s.booking, runWritesPaced(outcomes))
	}
	result := r.finish(ctx, s, outcomes)
	if deleting && s.facts.deletion != nil && s.facts.deletion.done {
		return ctrl.Result{}, r.releaseFinalizer(ctx, s.ps)
	}
	if err := r.patchStatus(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	return result, nil
}

// pass runs the stages in the order that fails closed. The gate (tenancy, claim, service) writes
// nothing; an object that does not pass it — another object or another runguard owner holds the
// claim, or the namespace may not target the service — makes no Google write at all. After
// the gate the lockdown runs on every pass whatever else happens: with IAP on, access is bound
// first (so nobody is locked out while IAM propagates) and a stall there does not skip the
// lockdown; with IAP off, the lockdown comes first and IAP is switched off only once it holds.
func (r *ProtectedServiceReconciler) pass(ctx context.Context, s *scope) []*outcome {
	if out := s.runUntilOutcome(ctx, r.gate()...); out != nil {
		return out
	}
	// The permission preflight opens the converge stage, not the gate: a missing permission must
	// not keep the lockdown (which may need only the others) from running.
	converge := []phase{r.checkPermissions, reports(iapv1alpha1.ConditionAccessBound, r.resolveAccessLevels),
		reports(iapv1alpha1.ConditionAccessBound, r.collectGrants),
		reports(iapv1alpha1.ConditionAccessBound, r.checkDeclaration), r.readInheritedAccess,
		reports(iapv1alpha1.ConditionAccessBound, r.checkAccessTests),
		reports(iapv1alpha1.ConditionInvokerGranted, r.ensureInvokerGrant), reports(iapv1alpha1.ConditionAccessBound, r.bindAccess),
		reports(iapv1alpha1.ConditionSettingsApplied, r.applySettings), r.denyInheritedAccess}
	enableIAP := reports(iapv1alpha1.ConditionIAPEnabled, r.enableIAP)
	revokePublicAccess := reports(iapv1alpha1.ConditionPublicAccessRevoked, r.revokePublicAccess)
	if s.ps.Spec.IAPEnabled() {
		out := s.runUntilOutcome(ctx, converge...)
		if s.facts.otherOwner != nil { // the claim was lost to a concurrent writer
			return out
		}
		// The rollout IAP's switch started is looked at only once public access is revoked too:
		// a read never delays the lockdown.
		return append(out, s.runAll(ctx, enableIAP, revokePublicAccess, reports(iapv1alpha1.ConditionIAPEnabled, r.followRollout))...)
	}
	if out := s.runAll(ctx, revokePublicAccess); out != nil {
		return out
	}
	return s.runUntilOutcome(ctx, append(converge, reports(iapv1alpha1.ConditionIAPEnabled, r.disableIAP))...)
}

// gate is the pass's first stage. Claims are decided among the objects in the cluster: without
// one (runguard plan) there is nobody to share the service with.
func (r *ProtectedServiceReconciler) gate() []phase {
	if r.planOnly {
		return []phase{r.checkTenancy, r.resolveIdentity, r.resolveService, r.checkOwnerMarkers}
	}
	return []phase{r.checkTenancy, r.resolveIdentity, r.checkClaim, r.resolveService, r.checkOwnerMarkers}
}

// finish turns the pass's outcomes into status, Events, metrics and when to look again.
func (r *ProtectedServiceReconciler) finish(ctx context.Context, s *scope, outcomes []*outcome) ctrl.Result {
	key := types.NamespacedName{Namespace: s.ps.Namespace, Name: s.ps.Name}
	var shown *outcome
	for _, o := range outcomes {
		shown = worst(shown, o)
	}
	r.recordWrites(s)
	woken, correctedAfter := r.memory.passEnded(passEndOf(s, outcomes, shown))
	if correctedAfter > 0 {
		auditCorrectionDelay.Observe(correctedAfter.Seconds())
	}
	applyStatus(s.ps, &s.facts, shown)
	r.report(ctx, s, shown)
	for _, k := range woken {
		r.wakeUp(k)
	}
	priority := requeuePriority(outcomes)
	if userChange(s.ps) && *priority != handler.LowPriority {
		// An edit or deletion handed back (by the pacer, a failure) stays ahead; one stalled on a
		// human is rechecked with the other Stalled objects.
		priority = userChangePriority(s.ps)
	}
	after := r.requeueAfter(key, outcomes)
	if next := s.facts.grants.nextChange; !next.IsZero() && next.Sub(s.facts.now) < after {
		// A grant's expiry is a revocation: its binding goes at that moment, ahead of other work
		// (Google's own condition already denies from then on).
		after, priority = max(time.Until(next), 0)+grantExpirySlack, ptr(editPriority)
	}
	return ctrl.Result{RequeueAfter: after, Priority: priority}
}

// grantExpirySlack makes the pass after a grant's expiry start after it on our clock.
const grantExpirySlack = 50 * time.Millisecond

// passEndOf is how a pass ended, as the memory records it.
func passEndOf(s *scope, outcomes []*outcome, shown *outcome) passEnd {
	e := passEnd{key: s.key(), identity: s.facts.identity, project: s.facts.target.Project, started: s.facts.now,
		clean: shown == nil, wrote: len(s.facts.writes) > 0, verified: shown == nil && s.facts.deletion == nil,
		answered: s.service != nil}
	for _, o := range outcomes {
		e.denied = e.denied || o.reason == iapv1alpha1.ReasonPermissionDenied
		if o.kind == retrying && !e.backingOff {
			e.backingOff, e.notBefore = true, s.facts.now.Add(o.after)
		}
	}
	return e
}

// namespace reads a Namespace's metadata from the metadata-only cache the watch fills.
func (r *ProtectedServiceReconciler) namespace(ctx context.Context, name string) (*metav1.PartialObjectMetadata, error) {
	return readNamespace(ctx, r.Client, name)
}

// readNamespace reads a Namespace's metadata (its annotations carry the namespace's rules).
func readNamespace(ctx context.Context, c client.Reader, name string) (*metav1.PartialObjectMetadata, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := c.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return nil, fmt.Errorf("read namespace %s: %w", name, err)
	}
	return ns, nil
}

func (r *ProtectedServiceReconciler) releaseFinalizer(ctx context.Context, ps *iapv1alpha1.ProtectedService) error {
	before := ps.DeepCopy()
	controllerutil.RemoveFinalizer(ps, iapv1alpha1.Finalizer)
	if err := r.Client.Patch(ctx, ps, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("remove finalizer: %w", err)
	}
	r.forget(types.NamespacedName{Namespace: ps.Namespace, Name: ps.Name})
	return nil
}

// holdFinalizer adds runguard's finalizer to a live object. carryOn is false when there is nothing
// to do (a deleted object whose finalizer is already gone) or the patch failed.
func holdFinalizer(ctx context.Context, c client.Client, o client.Object) (carryOn bool, err error) {
	deleting := !o.GetDeletionTimestamp().IsZero()
	switch {
	case controllerutil.ContainsFinalizer(o, iapv1alpha1.Finalizer):
		return true, nil
	case deleting:
		return false, nil
	}
	patch := client.MergeFrom(o.DeepCopyObject().(client.Object))
	controllerutil.AddFinalizer(o, iapv1alpha1.Finalizer)
	if err := c.Patch(ctx, o, patch); err != nil {
		return false, fmt.Errorf("add finalizer: %w", err)
	}
	return true, nil
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

// forget drops what is remembered of a deleted object.
func (r *ProtectedServiceReconciler) forget(key types.NamespacedName) { r.memory.forget(key) }
