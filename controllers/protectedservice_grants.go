package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
)

// grantsFact is what the pass found of the object's AccessGrants.
type grantsFact struct {
	// groups are the active grants' bindings, as access groups named grant.NAME.
	groups []iampolicy.AccessGroup
	// unbound are active grants this pass cannot bind, with why.
	unbound map[string]string
	// nextChange is the soonest an included grant expires: the pass comes back then.
	nextChange time.Time
}

// collectGrants turns the object's active AccessGrants into access groups. Each takes its access
// group's context (levels as resolved for the group), narrowed by the grant's own clauses, and
// ends at the grant's expiry in the condition itself: Google denies afterwards even if runguard
// never runs again. A grant counts only while the clock says it is active, whatever its status
// says, so a pass after expiry removes its binding even before the grant controller marks it.
func (r *ProtectedServiceReconciler) collectGrants(ctx context.Context, s *scope) *outcome {
	s.facts.grants = grantsFact{}
	if r.planOnly {
		return nil
	}
	var list iapv1alpha1.AccessGrantList
	if err := r.Client.List(ctx, &list, client.InNamespace(s.ps.Namespace), client.MatchingFields{grantServiceIndex: s.ps.Name}); err != nil {
		return transient(fmt.Errorf("list AccessGrants: %w", err))
	}
	declared := accessGroups(s.ps, s.facts.levels)
	for i := range list.Items {
		g := &list.Items[i]
		if !grantActiveAt(g, s.facts.now) {
			continue
		}
		group, why := grantGroup(g, s, declared)
		if why != "" {
			s.facts.grants.leaveUnbound(g.Name, why)
			continue
		}
		s.facts.grants.groups = append(s.facts.grants.groups, group)
		if end := g.Status.ExpiresAt.Time; s.facts.grants.nextChange.IsZero() || end.Before(s.facts.grants.nextChange) {
			s.facts.grants.nextChange = end
		}
	}
	return nil
}

func (f *grantsFact) leaveUnbound(grant, why string) {
	if f.unbound == nil {
		f.unbound = map[string]string{}
	}
	f.unbound[grant] = why
}

// refuse leaves every grant unbound, with why.
func (f *grantsFact) refuse(why string) {
	for _, g := range f.groups {
		f.leaveUnbound(strings.TrimPrefix(g.Name, iapv1alpha1.GrantGroupPrefix), why)
	}
	f.groups, f.nextChange = nil, time.Time{}
}

// grantActiveAt: the grant's status says Active and the clock is within its window.
func grantActiveAt(g *iapv1alpha1.AccessGrant, now time.Time) bool {
	st := g.Status
	return st.Phase == iapv1alpha1.GrantActive && g.DeletionTimestamp.IsZero() &&
		st.ActiveFrom != nil && st.ExpiresAt != nil && !now.Before(st.ActiveFrom.Time) && now.Before(st.ExpiresAt.Time)
}

// grantGroup is one grant's binding as an access group, or why it cannot be bound: its group is
// gone or waits for an access level, it would widen the group, a member is not allowed, or the
// condition would break one of IAM's limits.
func grantGroup(g *iapv1alpha1.AccessGrant, s *scope, declared []iampolicy.AccessGroup) (iampolicy.AccessGroup, string) {
	if _, misfit := grantMisfit(g, s.ps, s.namespace.Annotations); misfit != "" {
		return iampolicy.AccessGroup{}, misfit
	}
	var base *iampolicy.AccessGroup
	for i := range declared {
		if declared[i].Name == g.Spec.AccessGroup {
			base = &declared[i]
		}
	}
	if base == nil {
		return iampolicy.AccessGroup{}, "the access group's access levels are not resolved yet"
	}
	group := iampolicy.AccessGroup{Name: iapv1alpha1.GrantGroupPrefix + g.Name, Context: narrowedContext(base.Context, g)}
	for _, m := range g.Spec.Members {
		group.Members = append(group.Members, string(m))
	}
	if err := iampolicy.ValidateGroups([]iampolicy.AccessGroup{group}); err != nil {
		return iampolicy.AccessGroup{}, err.Error()
	}
	return group, ""
}

// narrowedContext is the group's context with the grant's clauses and window. The grant's paths
// and hosts replace the group's: each lies within the group's (widening checked that), so the
// replacement is the intersection. The window is the later start and the earlier end.
func narrowedContext(c iampolicy.Context, g *iapv1alpha1.AccessGrant) iampolicy.Context {
	out := c
	if n := g.Spec.Context; n != nil {
		if len(n.PathPrefixes) > 0 {
			out.PathPrefixes = nil
			for _, p := range n.PathPrefixes {
				out.PathPrefixes = append(out.PathPrefixes, string(p))
			}
		}
		if len(n.Hosts) > 0 {
			out.Hosts = nil
			for _, h := range n.Hosts {
				out.Hosts = append(out.Hosts, string(h))
			}
		}
	}
	end := g.Status.ExpiresAt.UTC()
	if out.NotAfter == nil || end.Before(*out.NotAfter) {
		out.NotAfter = &end
	}
	// Without startsAt the binding is written when the grant becomes active, so a start clause
	// would only spend one of IAM's 12 logical operators.
	if g.Spec.StartsAt != nil {
		start := g.Status.ActiveFrom.UTC()
		if out.NotBefore == nil || start.After(*out.NotBefore) {
			out.NotBefore = &start
		}
	}
	return out
}

// withoutGrants drops the grants' groups, keeping the declared ones.
func withoutGrants(groups []iampolicy.AccessGroup) []iampolicy.AccessGroup {
	out := make([]iampolicy.AccessGroup, 0, len(groups))
	for _, g := range groups {
		if !strings.HasPrefix(g.Name, iapv1alpha1.GrantGroupPrefix) {
			out = append(out, g)
		}
	}
	return out
}

// isGrantGroup reports whether a marked group is an AccessGrant's binding.
func isGrantGroup(group string) bool { return strings.HasPrefix(group, iapv1alpha1.GrantGroupPrefix) }

// objectOfGrant enqueues the ProtectedService a grant names, ahead of resyncs and new objects:
// a grant that becomes active, expires or goes is a change of who may pass.
func objectOfGrant() handler.TypedEventHandler[client.Object, reconcile.Request] {
	enqueue := func(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		g, ok := o.(*iapv1alpha1.AccessGrant)
		if !ok {
			return
		}
		enqueueAt(q, types.NamespacedName{Namespace: g.Namespace, Name: g.Spec.ProtectedService}, ptr(editPriority))
	}
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if g, ok := e.Object.(*iapv1alpha1.AccessGrant); ok && g.Status.Phase == iapv1alpha1.GrantActive {
				enqueue(e.Object, q)
			}
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			before, after := e.ObjectOld.(*iapv1alpha1.AccessGrant), e.ObjectNew.(*iapv1alpha1.AccessGrant)
			if before.Status.Phase != after.Status.Phase || !before.Status.ExpiresAt.Equal(after.Status.ExpiresAt) {
				enqueue(e.ObjectNew, q)
			}
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q)
		},
	}
}
