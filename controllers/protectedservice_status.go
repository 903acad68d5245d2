package controllers

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
)

// scope is what one reconcile pass knows and decided.
type scope struct {
	ps       *iapv1alpha1.ProtectedService
	original *iapv1alpha1.ProtectedService
	owner    iampolicy.Owner
	// wasReady: the object was Ready for this very generation when the pass began, so any
	// write this pass makes corrects drift rather than applying a spec change.
	wasReady bool

	// namespace is the object's Namespace as checkTenancy read it (its annotations decide).
	namespace *corev1.Namespace

	projectNumber int64
	service       *runpb.Service
	serviceStale  bool // we updated the service this pass; re-read before another update
	iapResource   string
	// servicePolicy is the service's IAM policy as the invoker phase left it, for the lockdown
	// phase's first read-modify-write attempt.
	servicePolicy *iampb.Policy

	stalled   *stalledError
	waiting   *waitingError
	transient error
	// rejected is a member-level rejection: removals were still applied and the pass went on,
	// but the object ends Stalled.
	rejected *stalledError
}

func newScope(ps *iapv1alpha1.ProtectedService, cluster string) *scope {
	ready := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady)
	s := &scope{
		ps:       ps,
		original: ps.DeepCopy(),
		owner:    iampolicy.Owner{Cluster: cluster, Namespace: ps.Namespace, Name: ps.Name},
		wasReady: ready != nil && ready.Status == metav1.ConditionTrue &&
			ps.Status.ObservedGeneration == ps.Generation && ready.ObservedGeneration == ps.Generation,
	}
	// Every condition exists from the first visit, Unknown until a step decides it.
	for _, t := range []string{iapv1alpha1.ConditionReady, iapv1alpha1.ConditionInvokerGranted, iapv1alpha1.ConditionAccessBound,
		iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ConditionPublicAccessRevoked} {
		if meta.FindStatusCondition(ps.Status.Conditions, t) == nil {
			s.set(t, metav1.ConditionUnknown, iapv1alpha1.ReasonPending, "Not evaluated yet.")
		}
	}
	return s
}

// stalledError needs a human; retrying alone will not fix it.
type stalledError struct{ reason, message string }

func (e *stalledError) Error() string { return e.reason + ": " + e.message }

func stalled(reason, format string, args ...any) *stalledError {
	return &stalledError{reason: reason, message: fmt.Sprintf(format, args...)}
}

// waitingError is expected progress (a rollout, a service that does not exist yet).
type waitingError struct {
	reason, message string
	after           time.Duration // 0: back off
}

func (e *waitingError) Error() string { return e.reason + ": " + e.message }

func (s *scope) fail(err error) {
	switch e := err.(type) {
	case *stalledError:
		s.stalled = e
	case *waitingError:
		s.waiting = e
	default:
		s.transient = err
	}
}

func (s *scope) wait(reason, message string, after time.Duration) {
	if s.waiting == nil {
		s.waiting = &waitingError{reason: reason, message: message, after: after}
	}
}

func (s *scope) set(conditionType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&s.ps.Status.Conditions, metav1.Condition{
		Type: conditionType, Status: status, Reason: reason, Message: message,
		ObservedGeneration: s.ps.Generation,
	})
}

func (s *scope) markStalled() {
	e := s.stalled
	s.set(iapv1alpha1.ConditionStalled, metav1.ConditionTrue, e.reason, e.message)
	s.set(iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, e.reason, "Waiting for a human; see the Stalled condition.")
	s.set(iapv1alpha1.ConditionReady, metav1.ConditionFalse, e.reason, e.message)
	// kstatus compares generations before conditions: only with observedGeneration current do
	// Flux and Argo CD report this object as failed rather than still in progress.
	s.ps.Status.ObservedGeneration = s.ps.Generation
}

func (s *scope) markWaiting() {
	e := s.waiting
	s.set(iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonProgressing, "Nothing needs a human.")
	s.set(iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, e.reason, e.message)
	s.set(iapv1alpha1.ConditionReady, metav1.ConditionFalse, e.reason, e.message)
	s.ps.Status.ObservedGeneration = s.ps.Generation
}

// markRetrying leaves observedGeneration alone: a transient failure evaluated nothing for sure.
func (s *scope) markRetrying(err error) {
	msg := fmt.Sprintf("Retrying after a transient Google Cloud error: %v", err)
	s.set(iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonRetrying, "Retrying; nothing known needs a human.")
	s.set(iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, iapv1alpha1.ReasonRetrying, msg)
	if !s.wasReady {
		s.set(iapv1alpha1.ConditionReady, metav1.ConditionFalse, iapv1alpha1.ReasonRetrying, msg)
	}
}

// publicAccessRevoked records when public access was last revoked, so IAP is switched off only
// after the revocation has propagated (kept in status so a restart does not forget it).
func (s *scope) publicAccessRevoked() {
	now := metav1.Now()
	s.ps.Status.PublicAccessRevokedTime = &now
}

func (s *scope) markReady(resync time.Duration) {
	s.set(iapv1alpha1.ConditionStalled, metav1.ConditionFalse, s.readyReason(), "Nothing needs a human.")
	s.set(iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, s.readyReason(), "Google Cloud matches the spec.")
	target := s.ps.Spec.Service.String()
	if s.ps.Spec.IAPEnabled() {
		s.set(iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonProtected,
			fmt.Sprintf("Cloud Run service %s is behind IAP; %d members in %d access groups may pass.",
				target, s.ps.Status.MemberCount, len(s.ps.Spec.AccessGroups)))
	} else {
		s.set(iapv1alpha1.ConditionReady, metav1.ConditionTrue, iapv1alpha1.ReasonReconciled,
			fmt.Sprintf("IAP is off on Cloud Run service %s, as declared; access is by Cloud Run IAM only.", target))
	}
	s.ps.Status.ObservedGeneration = s.ps.Generation
	// lastSyncTime is written with another status change, or once per resync period at most,
	// so a quiet resync costs no write.
	last := s.ps.Status.LastSyncTime
	if !s.statusUnchanged() || last == nil || time.Since(last.Time) >= resync {
		now := metav1.Now()
		s.ps.Status.LastSyncTime = &now
	}
}

func (s *scope) readyReason() string {
	if s.ps.Spec.IAPEnabled() {
		return iapv1alpha1.ReasonProtected
	}
	return iapv1alpha1.ReasonReconciled
}

func (s *scope) statusUnchanged() bool {
	a, b := s.original.Status.DeepCopy(), s.ps.Status.DeepCopy()
	a.LastSyncTime, b.LastSyncTime = nil, nil
	return equality.Semantic.DeepEqual(a, b)
}

// patchStatus writes status only when it changed: a quiet reconcile costs no write.
func (r *ProtectedServiceReconciler) patchStatus(ctx context.Context, s *scope) error {
	if equality.Semantic.DeepEqual(s.original.Status, s.ps.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, s.ps, client.MergeFrom(s.original)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("patch status: %w", err)
	}
	return nil
}
