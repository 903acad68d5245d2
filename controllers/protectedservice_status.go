package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/tenancy"
)

// stepConditions are the conditions that report one step each.
var stepConditions = []string{iapv1alpha1.ConditionInvokerGranted, iapv1alpha1.ConditionAccessBound,
	iapv1alpha1.ConditionIAPEnabled, iapv1alpha1.ConditionPublicAccessRevoked, iapv1alpha1.ConditionSettingsApplied}

// applyStatus is the one place that turns a pass's facts and outcome into conditions and words.
// It is a pure function of its arguments (and of the object's previous status). Every condition
// is evaluated for the current generation, kept from an earlier pass of this generation only when
// a transient failure stopped this one, or else marked Unknown with the reason the pass ended.
func applyStatus(ps *iapv1alpha1.ProtectedService, f *facts, shown *outcome) {
	before := ps.Status.DeepCopy()
	if f.deletion != nil {
		applyDeletionStatus(ps, f, shown)
		return
	}
	if ps.Spec.Observing() {
		applyObserveStatus(ps, f, shown)
	} else {
		forgetObservation(ps)
	}
	if ps.Spec.Observing() && shown == nil {
		ps.Status.ObservedGeneration = ps.Generation
		if !sameStatusButSync(before, &ps.Status) || ps.Status.LastSyncTime == nil {
			now := metav1.NewTime(f.now)
			ps.Status.LastSyncTime = &now
		}
		return
	}
	hidden := false
	if !ps.Spec.Observing() {
		hidden = applyStepConditions(ps, f, shown)
	}
	readyReason := iapv1alpha1.ReasonProtected
	if !ps.Spec.IAPEnabled() {
		readyReason = iapv1alpha1.ReasonReconciled
	}
	switch {
	case shown == nil:
		set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, readyReason, "Nothing needs a human.")
		set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, readyReason, "Google Cloud matches the spec.")
		set(ps, iapv1alpha1.ConditionReady, metav1.ConditionTrue, readyReason, readyMessage(ps))
	case shown.kind == stalled:
		msg := outcomeMessage(shown, f)
		set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionTrue, shown.reason, msg)
		set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionFalse, shown.reason, "Waiting for a human; see the Stalled condition.")
		set(ps, iapv1alpha1.ConditionReady, metav1.ConditionFalse, shown.reason, msg)
	case shown.kind == waiting:
		msg := outcomeMessage(shown, f)
		set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonProgressing, "Nothing needs a human.")
		set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, shown.reason, msg)
		set(ps, iapv1alpha1.ConditionReady, metav1.ConditionFalse, shown.reason, msg)
	default:
		msg := outcomeMessage(shown, f)
		set(ps, iapv1alpha1.ConditionStalled, metav1.ConditionFalse, iapv1alpha1.ReasonRetrying, "Retrying; nothing known needs a human.")
		set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, shown.reason, msg)
		// A Ready object stays Ready through a blip, unless the failure hid what a check found.
		if !f.wasReady || hidden {
			set(ps, iapv1alpha1.ConditionReady, metav1.ConditionFalse, shown.reason, msg)
		}
		// A transient failure evaluated nothing for sure: observedGeneration stays.
		return
	}
	// kstatus compares generations before conditions: only with observedGeneration current do
	// Flux and Argo CD report a Stalled object as failed rather than still in progress.
	ps.Status.ObservedGeneration = ps.Generation
	if shown == nil && (!sameStatusButSync(before, &ps.Status) || ps.Status.LastSyncTime == nil) {
		// lastSyncTime is written only with another status change, so a quiet resync costs no
		// Kubernetes write and GitOps tools see no change: it says when the status last changed
		// and was verified. That every Ready object is verified each resync period is told by
		// runguard_verification_age_max_seconds (docs/controller.md).
		now := metav1.NewTime(f.now)
		ps.Status.LastSyncTime = &now
	}
}

// applyStepConditions sets the condition of each step and reports whether a failed check hid
// what Google holds.
func applyStepConditions(ps *iapv1alpha1.ProtectedService, f *facts, shown *outcome) (hidden bool) {
	for _, t := range stepConditions {
		if t == iapv1alpha1.ConditionSettingsApplied && ps.Spec.IAP.Settings == nil {
			// Settings nobody declares are not runguard's to report on.
			meta.RemoveStatusCondition(&ps.Status.Conditions, t)
			continue
		}
		status, reason, message := stepCondition(t, f, ps)
		if reason == "" {
			unverified := slices.Contains(f.unverified, t)
			hidden = hidden || unverified
			status, reason, message = notEvaluated(ps, t, shown, unverified)
			if reason == "" {
				continue
			}
		}
		set(ps, t, status, reason, message)
	}
	return hidden
}

// notEvaluated is a step condition the pass did not decide. unverified: its phase ran and failed.
func notEvaluated(ps *iapv1alpha1.ProtectedService, conditionType string, shown *outcome, unverified bool) (metav1.ConditionStatus, string, string) {
	prev := meta.FindStatusCondition(ps.Status.Conditions, conditionType)
	if shown == nil {
		return metav1.ConditionUnknown, iapv1alpha1.ReasonPending, "Not evaluated yet."
	}
	if unverified {
		return metav1.ConditionUnknown, shown.reason, "Could not be checked: the last pass ended with " + shown.reason + "; see the Ready condition."
	}
	if shown.kind == retrying && prev != nil && prev.ObservedGeneration == ps.Generation {
		return "", "", "" // a transient failure elsewhere: still the last word for this generation
	}
	return metav1.ConditionUnknown, shown.reason, "Not checked in the last pass, which ended with " + shown.reason + "; see the Ready condition."
}

// stepCondition is the condition of one step the pass evaluated; reason "" when it did not.
func stepCondition(conditionType string, f *facts, ps *iapv1alpha1.ProtectedService) (metav1.ConditionStatus, string, string) {
	switch conditionType {
	case iapv1alpha1.ConditionInvokerGranted:
		switch f.invoker.reason {
		case iapv1alpha1.ReasonGranted:
			return metav1.ConditionTrue, f.invoker.reason, fmt.Sprintf("IAP's service agent %s may invoke the service.", agentEmail(f))
		case iapv1alpha1.ReasonIAPServiceAgentMissing:
			return metav1.ConditionFalse, f.invoker.reason, agentMissingMessage(f)
		case iapv1alpha1.ReasonIAPServiceAgentPropagating:
			return metav1.ConditionFalse, f.invoker.reason, fmt.Sprintf("IAM does not accept IAP's service agent %s yet (created recently?); retrying.", agentEmail(f))
		case iapv1alpha1.ReasonNotNeeded:
			return metav1.ConditionFalse, f.invoker.reason, "IAP is off: its service agent needs no invoker grant, and none is made; a grant already there is left as it is."
		}
	case iapv1alpha1.ConditionAccessBound:
		return accessCondition(f, ps)
	case iapv1alpha1.ConditionSettingsApplied:
		if f.settings.reason == iapv1alpha1.ReasonApplied {
			return metav1.ConditionTrue, f.settings.reason, fmt.Sprintf("The declared IAP settings hold on %s: %s. Other settings are left as they are.",
				f.resolved.IAPResource(), strings.Join(f.settings.managed, ", "))
		}
	case iapv1alpha1.ConditionIAPEnabled:
		return iapCondition(f)
	case iapv1alpha1.ConditionPublicAccessRevoked:
		switch f.public.reason {
		case iapv1alpha1.ReasonRevoked:
			return metav1.ConditionTrue, f.public.reason, "allUsers and allAuthenticatedUsers may not invoke the service, and the invoker IAM check is on."
		case iapv1alpha1.ReasonPublicAccessAllowed:
			return metav1.ConditionFalse, f.public.reason, "publicAccess is Allow: public roles/run.invoker grants and invoker_iam_disabled are left as they are."
		}
	}
	return "", "", ""
}

func accessCondition(f *facts, ps *iapv1alpha1.ProtectedService) (metav1.ConditionStatus, string, string) {
	switch a := f.access; a.reason {
	case "":
		return "", "", ""
	case iapv1alpha1.ReasonBound:
		msg := fmt.Sprintf("%d access groups are bound on %s with role %s.", len(ps.Spec.AccessGroups), f.resolved.IAPResource(), iampolicy.AccessorRole)
		if len(a.unrestricted) > 0 {
			msg += fmt.Sprintf(" Note: %s also hold the role unconditionally (granted outside runguard); their context does not restrict them.", strings.Join(a.unrestricted, ", "))
		}
		return metav1.ConditionTrue, a.reason, msg
	case iapv1alpha1.ReasonMemberRejected:
		return metav1.ConditionFalse, a.reason, memberRejectedMessage(f)
	default:
		return metav1.ConditionFalse, a.reason, "Not bound as declared (" + a.reason + "); only removals were applied. See the Stalled condition."
	}
}

func iapCondition(f *facts) (metav1.ConditionStatus, string, string) {
	note := ""
	if f.iap.failedRollout != "" {
		note = fmt.Sprintf(" Note: the service's latest rollout failed (%s); that is not runguard's to fix.", f.iap.failedRollout)
	}
	switch f.iap.reason {
	case iapv1alpha1.ReasonEnabled:
		return metav1.ConditionTrue, f.iap.reason, "IAP is on." + note
	case iapv1alpha1.ReasonDisabled:
		return metav1.ConditionFalse, f.iap.reason, "IAP is off, as declared." + note
	case iapv1alpha1.ReasonRevocationPropagating:
		return metav1.ConditionTrue, f.iap.reason, fmt.Sprintf("IAP stays on until the revocation of public access has propagated (%s more).", f.iap.remaining.Round(time.Second))
	case iapv1alpha1.ReasonRollingOut:
		return metav1.ConditionFalse, f.iap.reason, rolloutMessage(f)
	case iapv1alpha1.ReasonRolloutFailed:
		return metav1.ConditionFalse, f.iap.reason, rolloutFailedMessage(f)
	}
	return "", "", ""
}

func rolloutFailedMessage(f *facts) string {
	verb := "on"
	if !f.iap.on {
		verb = "off"
	}
	return fmt.Sprintf("The rollout runguard started to switch IAP %s for %s failed: %s. iap_enabled is set on the service, but the new revision does not serve, so the switch has not taken effect. Fix the revision (see the service's terminal condition in Cloud Run) and deploy again; runguard follows without sending the update again.",
		verb, f.resolved.Path(), strings.TrimSuffix(f.iap.failedRollout, "."))
}

func rolloutMessage(f *facts) string {
	if f.iap.on {
		return fmt.Sprintf("Switching IAP on for %s; waiting for the rollout.", f.resolved.Path())
	}
	return fmt.Sprintf("Switching IAP off for %s; waiting for the rollout.", f.resolved.Path())
}

func readyMessage(ps *iapv1alpha1.ProtectedService) string {
	if ps.Spec.IAPEnabled() {
		return fmt.Sprintf("Cloud Run service %s is behind IAP; %d members in %d access groups may pass.",
			ps.Spec.Service, ps.Status.MemberCount, len(ps.Spec.AccessGroups))
	}
	return fmt.Sprintf("IAP is off on Cloud Run service %s, as declared; access is by Cloud Run IAM only.", ps.Spec.Service)
}

// outcomeMessage is what a user reads about how the pass ended, and what to do about it.
func outcomeMessage(o *outcome, f *facts) string {
	t := f.target
	switch o.reason {
	case iapv1alpha1.ReasonProjectNotAllowed:
		allowed := f.annotations[iapv1alpha1.AnnotationAllowedProjects]
		return fmt.Sprintf("Namespace %s may not target Cloud Run service %s: %s. Ask a cluster admin to add %q (or %q) to the %s annotation of namespace %s.",
			f.namespace, t, describeAllowed(allowed), t.Project+"/"+t.Location+"/"+t.Name, t.Project, iapv1alpha1.AnnotationAllowedProjects, f.namespace)
	case iapv1alpha1.ReasonServiceClaimed:
		if m := f.otherOwner; m != nil {
			return fmt.Sprintf("The IAP access policy of %s holds bindings marked by another runguard owner (cluster %s, ProtectedService %s/%s, group %s); only one ProtectedService may manage a service, so nothing was written. If that owner no longer exists, remove its bindings (condition titles starting with %q) from the policy.",
				f.resolved.IAPResource(), m.Owner.Cluster, m.Owner.Namespace, m.Owner.Name, m.Group, iampolicy.TitlePrefix)
		}
		return fmt.Sprintf("Cloud Run service %s is already managed by ProtectedService %s; only one ProtectedService may manage a service, so nothing was written. Merge the access groups into that object, or delete it first.",
			t, f.claimedBy)
	case iapv1alpha1.ReasonMemberNotAllowed:
		return fmt.Sprintf("Namespace %s may grant only members matching %q (annotation %s); not allowed: %s. Remove them from the access groups or ask a cluster admin to widen the annotation. Only removals were applied.",
			f.namespace, f.annotations[iapv1alpha1.AnnotationAllowedMembers], iapv1alpha1.AnnotationAllowedMembers, listSome(f.disallowed))
	case iapv1alpha1.ReasonInvalidCondition:
		if iampolicy.IsInvalidCondition(o.err) {
			return fmt.Sprintf("%v. Fix the access group's context; only removals were applied.", o.err)
		}
		return fmt.Sprintf("Cannot mark bindings for this object: %v.", o.err)
	case iapv1alpha1.ReasonPolicyTooLarge:
		return fmt.Sprintf("%v on %s. Reduce the members declared (or those other tools grant on this resource); use group: members instead of many user: members. Only removals were applied.", o.err, f.resolved.IAPResource())
	case iapv1alpha1.ReasonMemberRejected:
		return memberRejectedMessage(f)
	case iapv1alpha1.ReasonIAPServiceAgentMissing:
		return agentMissingMessage(f)
	case iapv1alpha1.ReasonWouldExposeService:
		return fmt.Sprintf("Switching IAP off would leave Cloud Run service %s publicly invocable (%s). Set publicAccess: Deny, or ask a cluster admin to annotate namespace %s with %s: \"true\".",
			f.resolved.Path(), exposedBy(f.exposure), f.namespace, iapv1alpha1.AnnotationAllowPublic)
	case iapv1alpha1.ReasonNamespaceIdentityRequired:
		return fmt.Sprintf("The manager runs with --require-namespace-identity and namespace %s names no Google service account to act as; nothing was called in Google. Ask a cluster admin to annotate namespace %s with %s: NAME@PROJECT.iam.gserviceaccount.com (docs/tenancy.md).",
			f.namespace, f.namespace, iapv1alpha1.AnnotationGoogleServiceAccount)
	case iapv1alpha1.ReasonNamespaceIdentityUnusable:
		if errors.Is(o.err, tenancy.ErrIdentityBlank) || errors.Is(o.err, tenancy.ErrIdentityMalformed) {
			return fmt.Sprintf("Namespace %s's annotation %s cannot be used (%q): %v. Nothing was sent to Google for this object: runguard never falls back to its own identity when the annotation is present (docs/tenancy.md).",
				f.namespace, iapv1alpha1.AnnotationGoogleServiceAccount, f.annotations[iapv1alpha1.AnnotationGoogleServiceAccount], o.err)
		}
		return fmt.Sprintf("runguard cannot act as %q, the Google service account namespace %s names (annotation %s): %s. Nothing but that token request was sent to Google for this object. Fix the annotation, or grant runguard's own Google identity roles/iam.serviceAccountTokenCreator on that account (docs/tenancy.md).",
			f.identity, f.namespace, iapv1alpha1.AnnotationGoogleServiceAccount, strings.TrimSuffix(gcp.Message(o.err), "."))
	case iapv1alpha1.ReasonServiceNotFound:
		return fmt.Sprintf("Cloud Run service %s does not exist (yet); runguard keeps checking and protects it once it is deployed.", t.FullName())
	case iapv1alpha1.ReasonRollingOut:
		return rolloutMessage(f)
	case iapv1alpha1.ReasonRolloutFailed:
		return rolloutFailedMessage(f)
	case iapv1alpha1.ReasonIAPServiceAgentPropagating:
		return fmt.Sprintf("IAP's service agent %s was created recently and IAM does not accept it yet; runguard retries the invoker grant on %s for up to %s before reporting IAPServiceAgentMissing.",
			agentEmail(f), f.resolved.Path(), f.agentWindow.Round(time.Second))
	case iapv1alpha1.ReasonRevocationPropagating:
		return fmt.Sprintf("Waiting %s for the revocation of public access on %s to propagate before switching IAP off.", f.iap.remaining.Round(time.Second), f.resolved.Path())
	case iapv1alpha1.ReasonRetrying:
		return fmt.Sprintf("Retrying after a transient error: %v", o.err)
	case iapv1alpha1.ReasonThrottled:
		// No countdown: the message stays the same from one paced pass to the next, so they write
		// no status.
		return "Pacing Google calls to stay within the quota of this project and region (runguard's --run-writes-per-minute and related flags): the pass resumes when its call is due. Nothing is wrong; a large adoption or resync wave is being spread out."
	}
	return googleMessage(o, f)
}

// googleMessage explains a Google failure that needs a human.
func googleMessage(o *outcome, f *facts) string {
	msg := strings.TrimSuffix(gcp.Message(o.err), ".")
	switch o.reason {
	case iapv1alpha1.ReasonAPIDisabled:
		api := gcp.DisabledAPI(o.err)
		if api == "" {
			api = "iap.googleapis.com"
		}
		return fmt.Sprintf("%s. Enable it: gcloud services enable %s --project=%s", msg, api, f.target.Project)
	case iapv1alpha1.ReasonPermissionDenied:
		if len(f.missingPermissions) > 0 {
			return fmt.Sprintf("%s lacks %s. Grant the runguard role described in docs/install.md; nothing was written.",
				identityName(f), strings.Join(permissionsOn(f.missingPermissions), ", "))
		}
		if gcp.Permission(o.err) == "resourcemanager.projects.get" {
			return fmt.Sprintf("Project %s does not exist, or %s lacks resourcemanager.projects.get on it: check spec.service.project and grant the role in docs/install.md.", f.target.Project, identityName(f))
		}
		return fmt.Sprintf("%s lacks permission %s on %s: %s. Grant the runguard role described in docs/install.md.",
			identityName(f), gcp.Permission(o.err), gcp.Resource(o.err), msg)
	case iapv1alpha1.ReasonUnauthenticated:
		if f.identity != "" {
			return fmt.Sprintf("Google did not accept the token runguard minted for %s (%s). Check that the account is enabled (docs/tenancy.md).", f.identity, msg)
		}
		return fmt.Sprintf("Google did not accept runguard's credentials (%s). Check Workload Identity or the Application Default Credentials of the manager (docs/install.md).", msg)
	case iapv1alpha1.ReasonRequestRejected:
		return fmt.Sprintf("Google rejected the request to %s on %s: %s.", gcp.Op(o.err), gcp.Resource(o.err), msg)
	}
	return fmt.Sprintf("%s: %v", o.reason, o.err)
}

// identityName says who made the calls: the namespace's service account, or runguard itself.
func identityName(f *facts) string {
	switch {
	case f.identity != "":
		return fmt.Sprintf("Google service account %s (namespace %s's %s)", f.identity, f.namespace, iapv1alpha1.AnnotationGoogleServiceAccount)
	case f.caller != "":
		return f.caller
	}
	return "runguard's Google identity"
}

func agentEmail(f *facts) string {
	return f.resolved.IAPServiceAgentEmail()
}

func agentMissingMessage(f *facts) string {
	return fmt.Sprintf("IAP's service agent %s does not exist yet, so it cannot be allowed to invoke %s. Create it: gcloud beta services identity create --service=iap.googleapis.com --project=%s",
		agentEmail(f), f.resolved.Path(), f.target.Project)
}

func memberRejectedMessage(f *facts) string {
	a := f.access
	google := strings.TrimSuffix(gcp.Message(a.rejection), ".")
	if len(a.rejected) > 0 {
		return fmt.Sprintf("Google rejected %s on %s: %s. Everyone else is bound and removals were applied; fix or remove the rejected member.",
			strings.Join(a.rejected, ", "), f.resolved.IAPResource(), google)
	}
	return fmt.Sprintf("Google rejected the access policy for %s: %s. Removals were applied; additions wait until the member is fixed (a deleted or misspelled principal, or an organization policy restricting domains).",
		f.resolved.IAPResource(), google)
}

// applyDeletionStatus reports a cleanup that could not finish: the finalizer stays, and the
// Deleting condition says why and what to do.
func applyDeletionStatus(ps *iapv1alpha1.ProtectedService, f *facts, shown *outcome) {
	if shown == nil {
		return
	}
	msg := fmt.Sprintf("Cannot remove this object's access bindings from Google Cloud yet: %s The finalizer stays until they are removed; fix the cause, or set deletionPolicy: Abandon to leave Google Cloud as it is.",
		ensurePeriod(outcomeMessage(shown, f)))
	set(ps, iapv1alpha1.ConditionDeleting, metav1.ConditionTrue, shown.reason, msg)
	set(ps, iapv1alpha1.ConditionReady, metav1.ConditionFalse, iapv1alpha1.ReasonDeleting, msg)
	set(ps, iapv1alpha1.ConditionReconciling, metav1.ConditionTrue, iapv1alpha1.ReasonDeleting, msg)
	stalledStatus := metav1.ConditionFalse
	if shown.kind == stalled {
		stalledStatus = metav1.ConditionTrue
	}
	set(ps, iapv1alpha1.ConditionStalled, stalledStatus, shown.reason, msg)
	for _, t := range stepConditions {
		if t == iapv1alpha1.ConditionSettingsApplied && ps.Spec.IAP.Settings == nil {
			continue
		}
		set(ps, t, metav1.ConditionUnknown, iapv1alpha1.ReasonDeleting, "The object is being deleted; see the Deleting condition.")
	}
	// Setting deletionTimestamp bumps the generation; a cleanup that decided something observed it.
	if shown.kind != retrying {
		ps.Status.ObservedGeneration = ps.Generation
	}
}

// exposedBy says what would leave the service public.
func exposedBy(e *exposure) string {
	if e.invokerIAMDisabled {
		return "invoker_iam_disabled is true"
	}
	return e.member + " has " + iampolicy.InvokerRole
}

// permissionsOn names each missing permission with its resource.
func permissionsOn(missing []missingPermission) []string {
	out := make([]string, len(missing))
	for i, m := range missing {
		out[i] = m.permission + " on " + m.resource
	}
	return out
}

func describeAllowed(annotation string) string {
	if strings.TrimSpace(annotation) == "" {
		return fmt.Sprintf("the namespace has no %s annotation", iapv1alpha1.AnnotationAllowedProjects)
	}
	return fmt.Sprintf("the namespace allows only %q", annotation)
}

func ensurePeriod(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

func set(ps *iapv1alpha1.ProtectedService, conditionType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&ps.Status.Conditions, metav1.Condition{
		Type: conditionType, Status: status, Reason: reason, Message: message,
		ObservedGeneration: ps.Generation,
	})
}

func sameStatusButSync(a, b *iapv1alpha1.ProtectedServiceStatus) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	a.LastSyncTime, b.LastSyncTime = nil, nil
	return equality.Semantic.DeepEqual(a, b)
}

func listSome(items []string) string {
	if len(items) <= 5 {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:5], ", "), len(items)-5)
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
