package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups=iap.runguard.dev,resources=accessgrants,verbs=get;list;watch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=accessgrants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iap.runguard.dev,resources=accessgrantapprovals,verbs=get;list;watch

// AccessGrantReconciler decides each AccessGrant's phase from its approvals, its
// ProtectedService and the clock. It makes no Google call: the ProtectedService's own pass
// writes the binding of every grant that is Active, so one writer owns each IAP policy.
type AccessGrantReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
}

// Indexes: grants by the ProtectedService they name, approvals by the grant they decide.
const (
	grantServiceIndex  = "spec.protectedService"
	approvalGrantIndex = "spec.grant"
)

// registerGrantIndexes lets a ProtectedService find its grants and a grant its approvals in
// the cache.
func registerGrantIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &iapv1alpha1.AccessGrant{}, grantServiceIndex, func(o client.Object) []string {
		return []string{o.(*iapv1alpha1.AccessGrant).Spec.ProtectedService}
	}); err != nil {
		return fmt.Errorf("index AccessGrants by ProtectedService: %w", err)
	}
	if err := indexer.IndexField(ctx, &iapv1alpha1.AccessGrantApproval{}, approvalGrantIndex, func(o client.Object) []string {
		return []string{o.(*iapv1alpha1.AccessGrantApproval).Spec.Grant}
	}); err != nil {
		return fmt.Errorf("index AccessGrantApprovals by grant: %w", err)
	}
	return nil
}

// SetupWithManager registers the controller and its watches. The indexes are registered by the
// ProtectedService controller, which reads them too.
func (r *AccessGrantReconciler) SetupWithManager(mgr ctrl.Manager) error {
	registerGrantGauges(mgr.GetCache())
	return ctrl.NewControllerManagedBy(mgr).
		For(&iapv1alpha1.AccessGrant{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&iapv1alpha1.AccessGrantApproval{}, handler.EnqueueRequestsFromMapFunc(grantOfApproval)).
		// A ProtectedService's status says whether a grant's binding is in Google; its spec
		// whether the grant's group still exists.
		Watches(&iapv1alpha1.ProtectedService{}, handler.EnqueueRequestsFromMapFunc(r.grantsOf)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Named("accessgrant").
		Complete(r)
}

// Reconcile decides the grant's phase, writes status once, records the transition, and comes
// back when the clock alone will change the phase (start, expiry).
func (r *AccessGrantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	g := &iapv1alpha1.AccessGrant{}
	if err := r.Client.Get(ctx, req.NamespacedName, g); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	in, err := r.readGrantInput(ctx, g)
	if err != nil {
		return ctrl.Result{}, err
	}
	before := g.DeepCopy()
	d := decideGrant(in)
	applyGrantStatus(g, d, in.ps)
	if !equality.Semantic.DeepEqual(before.Status, g.Status) {
		if err := r.Client.Status().Patch(ctx, g, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		r.recordGrantTransition(before, g, in.ps, d)
	}
	if d.recheckAt.IsZero() {
		return ctrl.Result{}, nil
	}
	// The work queue's timer may fire a hair early; the decision then sees the old phase and
	// comes back at once.
	return ctrl.Result{RequeueAfter: max(d.recheckAt.Sub(in.now), time.Millisecond)}, nil
}

// readGrantInput reads, from the cache, what the grant's phase is decided from.
func (r *AccessGrantReconciler) readGrantInput(ctx context.Context, g *iapv1alpha1.AccessGrant) (grantInput, error) {
	in := grantInput{grant: g, now: time.Now()}
	ps := &iapv1alpha1.ProtectedService{}
	switch err := r.Client.Get(ctx, types.NamespacedName{Namespace: g.Namespace, Name: g.Spec.ProtectedService}, ps); {
	case err == nil:
		in.ps = ps
	case !apierrors.IsNotFound(err):
		return in, fmt.Errorf("read ProtectedService %s: %w", g.Spec.ProtectedService, err)
	}
	ns, err := readNamespace(ctx, r.Client, g.Namespace)
	if err != nil {
		return in, err
	}
	in.annotations = ns.Annotations
	var approvals iapv1alpha1.AccessGrantApprovalList
	if err := r.Client.List(ctx, &approvals, client.InNamespace(g.Namespace), client.MatchingFields{approvalGrantIndex: g.Name}); err != nil {
		return in, fmt.Errorf("list approvals of %s: %w", g.Name, err)
	}
	in.approvals = approvals.Items
	sortApprovals(in.approvals)
	return in, nil
}

// recordGrantTransition tells the grant's and the ProtectedService's readers what changed: each
// new decision, and the new phase.
func (r *AccessGrantReconciler) recordGrantTransition(before, g *iapv1alpha1.AccessGrant, ps *iapv1alpha1.ProtectedService, d grantDecision) {
	for _, a := range g.Status.Approvals[min(len(before.Status.Approvals), len(g.Status.Approvals)):] {
		if a.Ignored != "" {
			r.Recorder.Eventf(g, nil, corev1.EventTypeWarning, "ApprovalIgnored", "Approve", "Approval %s by %s does not count: %s", a.Approval, a.By, a.Ignored)
			continue
		}
		r.Recorder.Eventf(g, nil, corev1.EventTypeNormal, string(a.Decision), "Approve", "%s by %s (approval %s)", a.Decision, a.By, a.Approval)
	}
	if before.Status.Phase == g.Status.Phase {
		return
	}
	kind, reason, note := grantEvent(g, d)
	r.Recorder.Eventf(g, ps, kind, reason, "Grant", "%s", note)
	if ps != nil && (g.Status.Phase == iapv1alpha1.GrantActive || before.Status.Phase == iapv1alpha1.GrantActive) {
		r.Recorder.Eventf(ps, g, kind, reason, "Grant", "AccessGrant %s: %s", g.Name, note)
	}
}

// grantEvent is the Event for a grant's new phase.
func grantEvent(g *iapv1alpha1.AccessGrant, d grantDecision) (kind, reason, note string) {
	members := joinStrings(g.Spec.Members)
	switch g.Status.Phase {
	case iapv1alpha1.GrantActive:
		if g.Spec.BreakGlass {
			return corev1.EventTypeWarning, "BreakGlass", fmt.Sprintf("Break-glass access for %s to group %s until %s, without approval (requested by %s: %s); review required",
				members, g.Spec.AccessGroup, d.expires.Format(time.RFC3339), g.Spec.RequestedBy, g.Spec.Reason)
		}
		return corev1.EventTypeNormal, "GrantActive", fmt.Sprintf("%s may reach group %s until %s", members, g.Spec.AccessGroup, d.expires.Format(time.RFC3339))
	case iapv1alpha1.GrantPending:
		return corev1.EventTypeNormal, "GrantPending", d.message
	case iapv1alpha1.GrantExpired:
		return corev1.EventTypeNormal, "GrantExpired", fmt.Sprintf("Access for %s ended: %s", members, d.message)
	case iapv1alpha1.GrantRevoked:
		return corev1.EventTypeWarning, "GrantRevoked", fmt.Sprintf("Access for %s revoked (%s): %s", members, d.reason, d.message)
	}
	return corev1.EventTypeWarning, "GrantDenied", fmt.Sprintf("%s: %s", d.reason, d.message)
}

// grantOfApproval enqueues the grant an approval decides.
func grantOfApproval(_ context.Context, o client.Object) []reconcile.Request {
	a := o.(*iapv1alpha1.AccessGrantApproval)
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: a.Namespace, Name: a.Spec.Grant}}}
}

// grantsOf enqueues the grants that name a ProtectedService.
func (r *AccessGrantReconciler) grantsOf(ctx context.Context, o client.Object) []reconcile.Request {
	var list iapv1alpha1.AccessGrantList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{grantServiceIndex: o.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, g := range list.Items {
		if !g.Status.Phase.Finished() {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: g.Namespace, Name: g.Name}})
		}
	}
	return out
}
