package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/gcp"
)

// +kubebuilder:rbac:groups=iap.runguard.dev,resources=accesslevels,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=accesslevels/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=accesslevels/finalizers,verbs=update

// AccessLevelReconciler keeps one Access Context Manager level per AccessLevel object. Levels
// are organization-wide, so every call is made as runguard's own identity, never a namespace's.
type AccessLevelReconciler struct {
	Client   client.Client
	Google   *gcp.Clients
	Recorder events.EventRecorder
	// Options: ClusterName goes into each level's ownership mark, AccessPolicy is the policy of
	// objects that name none; ResyncPeriod and StalledRecheck as for ProtectedServices.
	Options

	// wake enqueues the objects an audit entry names.
	wake chan event.TypedGenericEvent[*iapv1alpha1.AccessLevel]
	// checkedPolicies are the organization-level policies already read: a policy's scopes
	// cannot change once it is created, so one read per policy and manager is enough.
	checkedPolicies sync.Map
}

// levelScope is one pass over an AccessLevel: the object, what was read, and the facts found.
type levelScope struct {
	al       *iapv1alpha1.AccessLevel
	original *iapv1alpha1.AccessLevel
	now      time.Time

	// name is the level's full name; desired what it should be; actual what Google holds (nil:
	// no such level).
	name    string
	desired *acmpb.AccessLevel
	actual  *acmpb.AccessLevel

	facts levelFacts
}

// levelFacts are what a pass found and did, as plain values: the input of applyLevelStatus.
type levelFacts struct {
	// mask is what differs between the declaration and Google: written in Enforce, shown in Observe.
	mask []string
	// created, updated: what this pass wrote.
	created, updated bool
	// otherOwner is who marked the level in Google instead; notOwned: an observed level runguard
	// does not own (Enforce would stall unless it is adopted).
	otherOwner *accesslevel.Owner
	notOwned   bool
	// missing is the level (full name or object name) a reference names that does not exist;
	// notReady the required AccessLevel object that is not Ready yet.
	missing, notReady string
	// cycle is the chain of levels that require each other.
	cycle []string
	// usedBy are the ProtectedServices (namespace/name) that still require a deleted level.
	usedBy []string
	// deleted: the level is gone from Google (or was abandoned), so the finalizer may go.
	deleted bool
}

// SetupWithManager registers the controller and its watches.
func (r *AccessLevelReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.wake = make(chan event.TypedGenericEvent[*iapv1alpha1.AccessLevel], wakeBuffer)
	return ctrl.NewControllerManagedBy(mgr).
		For(&iapv1alpha1.AccessLevel{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, deletionStarted{}, predicate.AnnotationChangedPredicate{}))).
		// A level that requires another is looked at again when that one changes or becomes Ready.
		Watches(&iapv1alpha1.AccessLevel{}, handler.EnqueueRequestsFromMapFunc(r.levelsRequiring)).
		// A deleted level waiting for its users goes once the last ProtectedService stops requiring it.
		Watches(&iapv1alpha1.ProtectedService{}, handler.EnqueueRequestsFromMapFunc(r.levelsReferencedBy)).
		WatchesRawSource(source.Channel(r.wake, &handler.TypedEnqueueRequestForObject[*iapv1alpha1.AccessLevel]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("accesslevel").
		Complete(r)
}

// Reconcile runs one pass: get the object, ensure the finalizer, converge (or clean up), then
// write status once.
func (r *AccessLevelReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	al := &iapv1alpha1.AccessLevel{}
	if err := r.Client.Get(ctx, req.NamespacedName, al); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !al.DeletionTimestamp.IsZero()
	if carryOn, err := holdFinalizer(ctx, r.Client, al); !carryOn {
		return ctrl.Result{}, err
	}
	s := &levelScope{al: al, original: al.DeepCopy(), now: time.Now()}
	if al.Spec.Mode == iapv1alpha1.ModeObserve {
		ctx = gcp.ObserveOnly(ctx)
	}
	var out *outcome
	if deleting {
		out = r.cleanUpLevel(ctx, s)
	} else {
		out = r.convergeLevel(ctx, s)
	}
	applyLevelStatus(s, out)
	r.recordLevelEvents(s, out)
	if deleting && s.facts.deleted {
		before := al.DeepCopy()
		controllerutil.RemoveFinalizer(al, iapv1alpha1.Finalizer)
		return ctrl.Result{}, client.IgnoreNotFound(r.Client.Patch(ctx, al, client.MergeFrom(before)))
	}
	if !equality.Semantic.DeepEqual(s.original.Status, al.Status) {
		if err := r.Client.Status().Patch(ctx, al, client.MergeFrom(s.original)); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("patch status: %w", err)
		}
	}
	return r.levelRequeue(out)
}

// levelRequeue: a settled level is compared again each resync period, a Stalled one each
// stalled recheck, one waiting for another level when that one changes (the watch) or at the
// stalled recheck at the latest; a transient failure is returned as the error, so the work
// queue's rate limiter backs off (Access Context Manager's quota is the organization's).
func (r *AccessLevelReconciler) levelRequeue(out *outcome) (ctrl.Result, error) {
	switch {
	case out == nil:
		return ctrl.Result{RequeueAfter: r.ResyncPeriod}, nil
	case out.after > 0:
		return ctrl.Result{RequeueAfter: out.after}, nil
	case out.kind == retrying && out.err != nil:
		return ctrl.Result{}, out.err
	}
	return ctrl.Result{RequeueAfter: r.StalledRecheck}, nil
}

// WakeLevel enqueues the AccessLevel objects that manage the level fullName, for an audit entry
// that reports a change to it. It never blocks: a full buffer drops the wake-up, and the resync
// still comes.
func (r *AccessLevelReconciler) WakeLevel(ctx context.Context, fullName string) int {
	var list iapv1alpha1.AccessLevelList
	if r.wake == nil || r.Client.List(ctx, &list, client.MatchingFields{levelNameIndex: fullName}) != nil {
		return 0
	}
	for i := range list.Items {
		select {
		case r.wake <- event.TypedGenericEvent[*iapv1alpha1.AccessLevel]{Object: &list.Items[i]}:
		default:
		}
	}
	return len(list.Items)
}
