package controllers

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
)

// passClass is how urgent a pass is, decided from the object alone before the pass reads Google.
// Work-queue priority and admission follow it: revocations first of all, then users' other
// changes, then new objects, then resyncs.
type passClass int

const (
	classResync passClass = iota
	classNew
	classEdit
	classRevocation
)

// Work-queue priorities of the classes above new objects (priority 0) and resyncs (low).
const (
	editPriority       = 10
	revocationPriority = 20
)

// classOf classifies the pass an object needs. A revocation is told from the spec against what
// the last pass bound (status.managedBindings) and found (conditions): no Google read is needed.
func classOf(ps *iapv1alpha1.ProtectedService) passClass {
	switch {
	case !ps.DeletionTimestamp.IsZero() || revokes(ps):
		return classRevocation
	case ps.Status.ObservedGeneration == 0:
		return classNew
	case ps.Status.ObservedGeneration != ps.Generation:
		return classEdit
	}
	return classResync
}

// revokes reports whether the spec takes away access the last pass left in place: a member or a
// group it bound that the spec no longer declares, public access the spec now denies, grants
// above the service it now denies, or IAP it now switches on. A narrowed context is not told
// apart from other edits: it needs the old spec, which status does not keep.
func revokes(ps *iapv1alpha1.ProtectedService) bool {
	if ps.Status.ObservedGeneration == 0 || ps.Status.ObservedGeneration == ps.Generation {
		return false
	}
	for _, b := range ps.Status.ManagedBindings {
		if isGrantGroup(b.Group) {
			continue
		}
		g := accessGroupNamed(ps, b.Group)
		if g == nil {
			return true
		}
		for _, bound := range b.Members {
			if !slices.ContainsFunc(g.Members, func(m iapv1alpha1.Member) bool { return iampolicy.SameMember(string(m), bound) }) {
				return true
			}
		}
	}
	return conditionIs(ps, iapv1alpha1.ConditionPublicAccessRevoked, metav1.ConditionFalse) && ps.Spec.PublicAccess != iapv1alpha1.PublicAccessAllow ||
		conditionIs(ps, iapv1alpha1.ConditionInheritedAccess, metav1.ConditionTrue) && ps.Spec.InheritedAccess == iapv1alpha1.InheritedAccessDeny ||
		conditionIs(ps, iapv1alpha1.ConditionIAPEnabled, metav1.ConditionFalse) && ps.Spec.IAPEnabled()
}

func conditionIs(ps *iapv1alpha1.ProtectedService, t string, status metav1.ConditionStatus) bool {
	c := meta.FindStatusCondition(ps.Status.Conditions, t)
	return c != nil && c.Status == status
}

// priorityOf is the work-queue priority of a pass of that class; nil is the queue's default.
func priorityOf(c passClass) *int {
	switch c {
	case classRevocation:
		return ptr(revocationPriority)
	case classEdit:
		return ptr(editPriority)
	}
	return nil
}

// admit decides whether the pass may start now. A revocation always may, and its calls never
// wait for runguard's pace. Another pass that will need Cloud Run writes books them first, in
// turn with every pass of its project and region; when its turn is further away than
// admissionSlack it is not started: it reads nothing, keeps its booking, and comes back at its
// turn. Passes that need no Cloud Run write (most resyncs, access edits) start at once: their
// reads are paced, and with the herd no longer reading in vain, reads are there to be had.
func (r *ProtectedServiceReconciler) admit(ctx context.Context, s *scope) (context.Context, *outcome) {
	class := classOf(s.ps)
	s.facts.class = class
	switch class {
	case classRevocation:
		return gcp.Urgent(ctx), nil
	case classEdit:
		// A user's edit reads at once, whatever resyncs have taken of the read rate.
		ctx = gcp.ReadsFirst(ctx)
	}
	writes, firstPass := r.memory.expectedRunWrites(s.key(), scopeOf(s.ps.Spec.Service), class, s.ps)
	// A new object's first pass runs on a booking even when it books nothing, so what it writes
	// is learned for the next ones.
	if r.planOnly || writes == 0 && !firstPass {
		return ctx, nil
	}
	b := r.memory.booking(s.key())
	if b == nil {
		b = r.Google.BookRunWrites(s.ps.Spec.Service.Project, s.ps.Spec.Service.Location, writes, s.facts.now)
		r.memory.book(s.key(), b)
	}
	if d := b.Due(s.facts.now); d > admissionSlack {
		s.facts.admittedAt = b.At()
		return ctx, &outcome{kind: retrying, reason: iapv1alpha1.ReasonThrottled, after: d,
			err: &gcp.ThrottledError{Limit: "run write " + scopeOf(s.ps.Spec.Service), API: "run", Write: true, After: d}}
	}
	r.memory.book(s.key(), nil)
	s.booking = b
	return gcp.WithBooking(ctx, b), nil
}

// admissionSlack is how early a booked pass may start: its first writes come after a few reads.
const admissionSlack = 500 * time.Millisecond

// scopeOf is the project and region whose Cloud Run quota a service's calls count against.
func scopeOf(svc iapv1alpha1.ServiceRef) string { return svc.Project + "/" + svc.Location }

// expectedRunWrites is how many Cloud Run writes a pass of that class is expected to make: a new
// object's first pass as many as new objects of its project and region have made lately (2
// before any has: the invoker grant and switching IAP on); an edit that switches IAP or public
// access, 2. Any other pass none — once an object's writing pass has run, what follows (a rollout
// to follow, a retry, an edit of members) writes only what that pass could not — unless the
// object's last pass was held back by the write rate.
// firstPass says the pass is a new object's first.
func (m *memory) expectedRunWrites(key types.NamespacedName, scope string, class passClass, ps *iapv1alpha1.ProtectedService) (writes int, firstPass bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.objects[key]
	switch {
	case class == classNew && (o == nil || o.bookedGeneration == 0):
		// Rounded down: a pass that writes more than it booked is charged the rest without
		// waiting, while a turn booked and not used is lost to the adoption.
		if avg, ok := m.newObjectWrites[scope]; ok {
			return int(math.Floor(avg)), true
		}
		return 2, true
	case class == classEdit && (o == nil || o.bookedGeneration != ps.Generation) && switchesIAPOrPublicAccess(ps):
		return 2, false
	case o != nil && o.runWritesPaced:
		return 1, false
	}
	return 0, false
}

// switchesIAPOrPublicAccess reports whether the spec turns IAP or public access around from what
// the last pass found (conditions the last pass did not report say nothing).
func switchesIAPOrPublicAccess(ps *iapv1alpha1.ProtectedService) bool {
	iap := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionIAPEnabled)
	public := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionPublicAccessRevoked)
	return iap != nil && iap.Status != metav1.ConditionUnknown && (iap.Status == metav1.ConditionTrue) != ps.Spec.IAPEnabled() ||
		public != nil && public.Status != metav1.ConditionUnknown && (public.Status == metav1.ConditionTrue) == (ps.Spec.PublicAccess == iapv1alpha1.PublicAccessAllow)
}

// passAdmitted learns from a pass that ran: how many Cloud Run writes a new object makes in its
// project and region (a moving average), and whether the object's pass was held back by the
// write rate (its next pass then books a write).
func (m *memory) passAdmitted(key types.NamespacedName, generation int64, scope string, class passClass, b *gcp.Booking, runWritesPaced bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.object(key)
	o.runWritesPaced = runWritesPaced
	if b == nil {
		return
	}
	o.bookedGeneration = generation
	if class != classNew {
		return
	}
	if m.newObjectWrites == nil {
		m.newObjectWrites = map[string]float64{}
	}
	avg, ok := m.newObjectWrites[scope]
	if !ok {
		avg = float64(b.Used())
	}
	m.newObjectWrites[scope] = 0.8*avg + 0.2*float64(b.Used())
}

// booking is the object's held booking, if any.
func (m *memory) booking(key types.NamespacedName) *gcp.Booking {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.objects[key]; o != nil {
		return o.booking
	}
	return nil
}

// book holds a booking for the object (nil: drops it).
func (m *memory) book(key types.NamespacedName, b *gcp.Booking) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.object(key).booking = b
}

// runWritesPaced reports whether the pass was handed back by the Cloud Run write rate.
func runWritesPaced(outcomes []*outcome) bool {
	for _, o := range outcomes {
		var te *gcp.ThrottledError
		if errors.As(o.err, &te) && te.API == "run" && te.Write {
			return true
		}
	}
	return false
}
