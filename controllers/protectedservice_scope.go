package controllers

import (
	"context"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/iapsettings"
)

// scope is one reconcile pass: the object, what the phases read from Kubernetes and Google, and
// the facts they recorded. Phases write facts; only the status function turns them into words.
type scope struct {
	ps       *iapv1alpha1.ProtectedService
	original *iapv1alpha1.ProtectedService
	owner    iampolicy.Owner

	// namespace is the object's Namespace, metadata only; its annotations decide tenancy.
	namespace *metav1.PartialObjectMetadata
	// google makes the pass's Google calls, as the namespace's identity (resolveIdentity).
	google *gcp.Clients
	// service is the Cloud Run service as last read; serviceStale says this pass updated it, so
	// it is read again before another update.
	service      *runpb.Service
	serviceStale bool
	// accessPolicy is the IAP policy as the claim check read it: bindAccess's first read.
	accessPolicy *iampb.Policy
	// servicePolicy is the service's IAM policy as the invoker phase left it: the lockdown's
	// first read.
	servicePolicy *iampb.Policy
	// booking is the pass's turn at the Cloud Run write rate, when admit booked one.
	booking *gcp.Booking

	facts facts
}

// facts are what a pass found and did, as plain values: the input of the status function.
type facts struct {
	// wasReady: the object was Ready for this very generation when the pass began, so any write
	// the pass makes corrects drift rather than applying a spec change.
	wasReady bool
	// now is when the pass started.
	now time.Time
	// class is how urgent the pass is (admit); admittedAt, for a pass not started yet, when its
	// turn at the Cloud Run write rate comes.
	class      passClass
	admittedAt time.Time

	target      iapv1alpha1.ServiceRef
	namespace   string
	annotations map[string]string

	// identity is the service account the pass acts as; "" is runguard's own identity.
	identity string
	// caller names who runguard plan's calls are made as, in messages; "" in the cluster.
	caller string
	// claimedBy is the object that manages the service instead of this one.
	claimedBy string
	// otherOwner is another runguard owner whose markers are on the IAP policy.
	otherOwner *iampolicy.Marker
	// disallowed are declared members the namespace's allowed-members annotation refuses.
	disallowed []string
	// exposure says why switching IAP off would leave the service public.
	exposure *exposure
	// missingPermissions are the permissions the preflight found missing, with their resources.
	missingPermissions []missingPermission
	// agentWindow is how long a rejected IAP service agent is retried as propagating.
	agentWindow time.Duration

	// resolved is the target once its project number is known: the service and its IAP resource.
	resolved gcp.Service

	invoker stepFact
	access  accessFact
	iap     iapFact
	public  stepFact
	// settings are the declared IAP settings that hold (reason Applied).
	settings settingsFact
	// levels is what the access levels the groups require resolved to.
	levels levelsFact
	// grants are the object's active AccessGrants, as groups to bind.
	grants grantsFact
	// inherited is what the policies above the service grant; tests the access tests' results.
	inherited inheritedFact
	tests     []testResult

	// unverified are the step conditions whose phase ran and failed before deciding them: their
	// last word cannot stand, even for this generation.
	unverified []string
	// writes are the Google writes this pass made, in order; the pass's one Event lists them.
	writes []googleWrite
	// deletion is set on a pass that cleans up a deleted object.
	deletion *deletionFact
	// paused: the object carries iap.runguard.dev/paused and the pass made no Google call.
	paused bool
}

// exposure is what makes a service publicly invocable: the invoker IAM check switched off, or a
// public member holding roles/run.invoker.
type exposure struct {
	invokerIAMDisabled bool
	member             string
}

// settingsFact is what became of spec.iap.settings.
type settingsFact struct {
	reason string
	// managed names the declared settings, as the spec does.
	managed []string
}

// stepFact is the result of one step: the reason of its condition, "" when the step did not run.
type stepFact struct{ reason string }

// accessFact is what became of the declared access groups.
type accessFact struct {
	// reason: Bound; MemberRejected; or the reason (InvalidCondition, MemberNotAllowed,
	// PolicyTooLarge) for which only removals were applied.
	reason       string
	members      int
	unrestricted []string
	rejected     []string
	rejection    error
}

// iapFact is IAP's state on the service as this pass left it.
type iapFact struct {
	// reason: Enabled, Disabled, RollingOut, RolloutFailed or RevocationPropagating.
	reason string
	// on: the rollout switches IAP on (RollingOut, RolloutFailed).
	on bool
	// started: this pass sent the switch; followRollout reads the service once more to see
	// whether its rollout has finished.
	started bool
	// remaining is how long IAP stays on for the revocation to propagate.
	remaining time.Duration
	// failedRollout is the message of a failed rollout of the service.
	failedRollout string
}

// deletionFact is what cleanup did.
type deletionFact struct {
	// done: nothing of this object's is left in Google (or it is abandoned).
	done bool
}

// googleWrite is one Google write the pass made (or, observing, would make), as typed values:
// kind selects the Event's action; status, Events and the Observe rendering turn it into words.
type googleWrite struct {
	kind     writeKind
	resource string
	// added and removed are the (role, member, condition) tuples of a policy write.
	added, removed []iampolicy.Tuple
	// settings are the IAP settings a settings write changes.
	settings []iapsettings.Change
	// because is the stall reason a removal-only write was made for.
	because string
}

type writeKind string

// The kinds of a pass's writes make its Event's action (writesAction); field names a kind in
// drift metrics and FightingWriter warnings.
const (
	writeGrantInvoker       writeKind = "GrantInvoker"
	writeBindAccess         writeKind = "BindAccess"
	writeRevokeAccess       writeKind = "RevokeAccess"
	writeEnableIAP          writeKind = "EnableIAP"
	writeDisableIAP         writeKind = "DisableIAP"
	writeRevokePublicAccess writeKind = "RevokePublicAccess"
	writeEnableInvokerCheck writeKind = "EnableInvokerIAMCheck"
	writeRemoveAccess       writeKind = "RemoveAccess"
	writeApplySettings      writeKind = "ApplyIAPSettings"
)

func (k writeKind) field() string {
	switch k {
	case writeGrantInvoker:
		return "invoker grant"
	case writeBindAccess, writeRevokeAccess, writeRemoveAccess:
		return "access bindings"
	case writeEnableIAP, writeDisableIAP:
		return "iap_enabled"
	case writeRevokePublicAccess:
		return "public invoker grant"
	case writeApplySettings:
		return "iap settings"
	}
	return "invoker_iam_disabled"
}

func newScope(ps *iapv1alpha1.ProtectedService, cluster string, ns *metav1.PartialObjectMetadata, now time.Time) *scope {
	ready := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady)
	return &scope{
		ps:        ps,
		original:  ps.DeepCopy(),
		owner:     iampolicy.Owner{Cluster: cluster, Namespace: ps.Namespace, Name: ps.Name},
		namespace: ns,
		facts: facts{
			wasReady: ready != nil && ready.Status == metav1.ConditionTrue &&
				ps.Status.ObservedGeneration == ps.Generation && ready.ObservedGeneration == ps.Generation,
			now:         now,
			target:      ps.Spec.Service,
			namespace:   ns.Name,
			annotations: ns.Annotations,
		},
	}
}

// observing: spec.mode is Observe, and the pass's context refuses every Google write
// (gcp.ObserveOnly); phases record what Enforce would write.
func (s *scope) observing() bool { return s.ps.Spec.Observing() }

// key is the object's name.
func (s *scope) key() types.NamespacedName {
	return types.NamespacedName{Namespace: s.ps.Namespace, Name: s.ps.Name}
}

// wrote records a Google write of the pass.
func (s *scope) wrote(w googleWrite) { s.facts.writes = append(s.facts.writes, w) }

// wrotePolicy records a policy write: the tuples its plan added and removed.
func (s *scope) wrotePolicy(kind writeKind, resource string, plan iampolicy.Plan) {
	s.wrote(googleWrite{kind: kind, resource: resource, added: plan.Added, removed: plan.Removed})
}

// phase is one step of a pass: it records facts and returns nil, or ends its stage with an outcome.
type phase func(context.Context, *scope) *outcome

// reports names the condition a phase decides: when the phase ends with an outcome before
// deciding it, the condition is marked unverified, so an old True never outlives a failed check.
func reports(conditionType string, p phase) phase {
	return func(ctx context.Context, s *scope) *outcome {
		o := p(ctx, s)
		if o != nil {
			s.facts.unverified = append(s.facts.unverified, conditionType)
		}
		return o
	}
}

// runUntilOutcome runs phases in order and stops at the first outcome.
func (s *scope) runUntilOutcome(ctx context.Context, phases ...phase) []*outcome {
	for _, p := range phases {
		if o := p(ctx, s); o != nil {
			return []*outcome{o}
		}
	}
	return nil
}

// runAll runs every phase whatever the others returned: the lockdown must not be skippable.
func (s *scope) runAll(ctx context.Context, phases ...phase) []*outcome {
	var out []*outcome
	for _, p := range phases {
		if o := p(ctx, s); o != nil {
			out = append(out, o)
		}
	}
	return out
}
