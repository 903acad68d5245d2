// Package controllers turns a ProtectedService into calls to Google Cloud.
package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/invalid"
)

// +kubebuilder:rbac:groups=iap.runguard.dev,resources=protectedservices,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=protectedservices/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=protectedservices/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

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
	// RequireNamespaceIdentity stalls objects in namespaces without the
	// iap.runguard.dev/google-service-account annotation instead of using runguard's identity.
	RequireNamespaceIdentity bool
	// IAPAgentPropagation is how long IAM's rejection of the IAP service agent is taken for a
	// just-created agent (gcloud itself retries 10 × 15 s) before IAPServiceAgentMissing.
	IAPAgentPropagation time.Duration
}

// DefaultOptions is the one place the defaults live; the manager's flags start from it.
func DefaultOptions() Options {
	return Options{
		ClusterName:             "default",
		ResyncPeriod:            10 * time.Minute,
		StalledRecheck:          5 * time.Minute,
		MaxConcurrentReconciles: 64,
		IAMPropagationDelay:     7 * time.Minute,
		IAPAgentPropagation:     3 * time.Minute,
	}
}

// maxWorkers bounds MaxConcurrentReconciles: more would only queue on Google's quotas.
const maxWorkers = 1000

// Validate rejects options the controller cannot run with: the one place their bounds live (the
// manager names the flag from the *invalid.Option).
func (o Options) Validate() error {
	switch {
	case o.ClusterName == "":
		return &invalid.Option{Field: "ClusterName", Value: `""`, Want: "name the cluster; it is written into every binding runguard marks"}
	case o.ResyncPeriod <= 0:
		return &invalid.Option{Field: "ResyncPeriod", Value: o.ResyncPeriod, Want: "a positive period"}
	case o.StalledRecheck <= 0:
		return &invalid.Option{Field: "StalledRecheck", Value: o.StalledRecheck, Want: "a positive period"}
	case o.IAMPropagationDelay < 0:
		return &invalid.Option{Field: "IAMPropagationDelay", Value: o.IAMPropagationDelay, Want: "0 or a positive delay"}
	case o.IAPAgentPropagation < 0:
		return &invalid.Option{Field: "IAPAgentPropagation", Value: o.IAPAgentPropagation, Want: "0 or a positive timeout"}
	case o.MaxConcurrentReconciles <= 0 || o.MaxConcurrentReconciles > maxWorkers:
		return &invalid.Option{Field: "MaxConcurrentReconciles", Value: o.MaxConcurrentReconciles, Want: fmt.Sprintf("use 1 to %d workers", maxWorkers)}
	}
	return nil
}

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
	Options

	// memory is what is remembered of objects and projects between passes.
	memory memory
	// wake enqueues objects at once: those backing off from a project that answers again, and
	// those an audit entry names.
	wake chan event.TypedGenericEvent[*iapv1alpha1.ProtectedService]
	// planOnly: the pass is runguard plan's, outside any cluster (PlanWithoutCluster).
	planOnly bool
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
	registerVerificationAge(&r.memory)
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
			predicate.GenerationChangedPredicate{}, deletionStarted{}))).
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
		// Objects backing off from a project that answers again, and objects an audit entry
		// names, are reconciled at once.
		WatchesRawSource(source.Channel(r.wake, &handler.TypedEnqueueRequestForObject[*iapv1alpha1.ProtectedService]{})).
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
			r.memory.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !ps.DeletionTimestamp.IsZero()
	if deleting && !controllerutil.ContainsFinalizer(ps, iapv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if !deleting && !controllerutil.ContainsFinalizer(ps, iapv1alpha1.Finalizer) {
		before := ps.DeepCopy()
		controllerutil.AddFinalizer(ps, iapv1alpha1.Finalizer)
		if err := r.Client.Patch(ctx, ps, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
	}
	ns, err := r.namespace(ctx, ps.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	s := newScope(ps, r.ClusterName, ns, time.Now())
	if ps.Spec.Observing() {
		ctx = gcp.ObserveOnly(ctx) // no Google write of any kind, whatever a phase asks
	}
	var outcomes []*outcome
	if deleting {
		outcomes = r.cleanupPass(ctx, s)
	} else {
		outcomes = r.pass(ctx, s)
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
	converge := []phase{r.checkPermissions, reports(iapv1alpha1.ConditionAccessBound, r.checkDeclaration),
		reports(iapv1alpha1.ConditionInvokerGranted, r.ensureInvokerGrant), reports(iapv1alpha1.ConditionAccessBound, r.bindAccess),
		reports(iapv1alpha1.ConditionSettingsApplied, r.applySettings)}
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
		priority = ptr(editPriority)
	}
	return ctrl.Result{RequeueAfter: r.requeueAfter(key, outcomes), Priority: priority}
}

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

// wakeBuffer bounds the wake-ups waiting to be enqueued; past it a wake-up is dropped and the
// object keeps its own backoff.
const wakeBuffer = 4096

// wakeUp enqueues an object now, without blocking a worker.
func (r *ProtectedServiceReconciler) wakeUp(key types.NamespacedName) {
	ps := &iapv1alpha1.ProtectedService{}
	ps.Namespace, ps.Name = key.Namespace, key.Name
	select {
	case r.wake <- event.TypedGenericEvent[*iapv1alpha1.ProtectedService]{Object: ps}:
	default:
	}
}

// userChange reports whether the pass serves a user's change not yet applied: an edit of an
// object runguard had applied (observedGeneration stays behind until a pass completes for the
// new generation; paced and failed passes leave it), or a deletion. A new object is not one:
// thousands arrive together in an adoption.
func userChange(ps *iapv1alpha1.ProtectedService) bool {
	return !ps.DeletionTimestamp.IsZero() ||
		(ps.Status.ObservedGeneration > 0 && ps.Status.ObservedGeneration != ps.Generation)
}

// namespace reads a Namespace's metadata from the metadata-only cache the watch fills.
func (r *ProtectedServiceReconciler) namespace(ctx context.Context, name string) (*metav1.PartialObjectMetadata, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return nil, fmt.Errorf("read namespace %s: %w", name, err)
	}
	return ns, nil
}

// editPriority is a user's edit's place in the work queue: ahead of new objects (an adoption
// of thousands), of passes that still have work (priority 0) and of resyncs (low priority).
const editPriority = 10

// editsFirst enqueues each ProtectedService event for its object, as For's handler does, with
// edits (a new generation, or deletion starting) at editPriority: a user who changes who may
// pass IAP should not wait behind an adoption. Creates keep controller-runtime's priorities
// (normal; low for the initial listing).
func editsFirst() handler.TypedEventHandler[client.Object, reconcile.Request] {
	enqueue := func(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request], priority *int) {
		req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}}
		if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
			pq.AddWithOpts(priorityqueue.AddOpts{Priority: priority}, req)
			return
		}
		q.Add(req)
	}
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q, nil)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.ObjectNew, q, ptr(editPriority))
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q, nil)
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q, nil)
		},
	}
}

// requeuePriority orders the work queue (controller-runtime's priority queue): a plain resync of
// a converged object, and the recheck of a Stalled one, wait behind everything else, like the
// initial listing at start; a pass that still has work — a rollout to follow, a failure to
// retry — comes back at normal priority, with users' edits, so an adoption finishes objects
// instead of starting ever more of them.
func requeuePriority(outcomes []*outcome) *int {
	for _, o := range outcomes {
		if o.kind != stalled {
			return ptr(0)
		}
	}
	return ptr(handler.LowPriority)
}

func ptr[T any](v T) *T { return &v }

// requeueAfter is the soonest any outcome of the pass asks to be looked at again. Transient
// failures and progress polls back off separately: a rollout started right after an outage is
// polled from 1 s again, not at the backoff the outage left behind.
func (r *ProtectedServiceReconciler) requeueAfter(key types.NamespacedName, outcomes []*outcome) time.Duration {
	soonest := jitter(r.ResyncPeriod)
	failed, polled := false, false
	for _, o := range outcomes {
		d := jitter(r.StalledRecheck)
		switch {
		case o.kind == waiting && o.after > 0:
			d = o.after
		case o.kind == waiting:
			d, polled = r.memory.nextBackoff(key, true), true
		case o.reason == iapv1alpha1.ReasonThrottled:
			d = o.after
		case o.kind == retrying:
			d, failed = max(r.memory.nextBackoff(key, false), min(o.after, maxBackoff)), true
		}
		soonest = min(soonest, d)
	}
	if !failed {
		r.memory.resetBackoff(key, false)
	}
	if !polled {
		r.memory.resetBackoff(key, true)
	}
	return soonest
}

func (r *ProtectedServiceReconciler) releaseFinalizer(ctx context.Context, ps *iapv1alpha1.ProtectedService) error {
	before := ps.DeepCopy()
	controllerutil.RemoveFinalizer(ps, iapv1alpha1.Finalizer)
	if err := r.Client.Patch(ctx, ps, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("remove finalizer: %w", err)
	}
	r.memory.forget(types.NamespacedName{Namespace: ps.Namespace, Name: ps.Name})
	return nil
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
