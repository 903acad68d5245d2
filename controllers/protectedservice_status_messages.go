package controllers

// The messages of the status function (protectedservice_status.go): what a user reads about how a
// pass ended and what to do about it, made from the pass's facts.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/tenancy"
)

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
	case iapv1alpha1.ReasonNamespaceIdentityRequired, iapv1alpha1.ReasonNamespaceIdentityUnusable:
		return namespaceIdentityMessage(o, f)
	case iapv1alpha1.ReasonInheritedAccessFound:
		return "inheritedAccess is Deny: " + inheritedMessage(f.inherited.grants())
	case iapv1alpha1.ReasonAccessTestFailed:
		return failedTestsMessage(f)
	case iapv1alpha1.ReasonAccessLevelNotFound:
		return levelNotFoundMessage(f)
	case iapv1alpha1.ReasonAccessLevelNotReady:
		return fmt.Sprintf("Waiting for AccessLevel %s to exist and be Ready before binding the groups that require it; nothing was written to the IAP policy.", f.levels.notReady)
	case iapv1alpha1.ReasonServiceNotFound:
		return fmt.Sprintf("Cloud Run service %s does not exist (yet); runguard keeps checking and protects it once it is deployed.", t.FullName())
	case iapv1alpha1.ReasonRollingOut:
		return rolloutMessage(f)
	case iapv1alpha1.ReasonRolloutFailed:
		return rolloutFailedMessage(f)
	case iapv1alpha1.ReasonIAPServiceAgentPropagating:
		return fmt.Sprintf("IAP's service agent %s was created recently and IAM does not accept it yet; runguard retries the invoker grant on %s for up to %s before reporting IAPServiceAgentMissing.",
			f.resolved.IAPServiceAgentEmail(), f.resolved.Path(), f.agentWindow.Round(time.Second))
	case iapv1alpha1.ReasonRevocationPropagating:
		return fmt.Sprintf("Waiting %s for the revocation of public access on %s to propagate before switching IAP off.", f.iap.remaining.Round(time.Second), f.resolved.Path())
	case iapv1alpha1.ReasonRetrying:
		return fmt.Sprintf("Retrying after a transient error: %v", o.err)
	case iapv1alpha1.ReasonThrottled:
		if !f.admittedAt.IsZero() {
			// The turn is a time, not a countdown: the message stays the same until the pass starts.
			return fmt.Sprintf("Waiting for its turn at the Cloud Run write rate of %s/%s (runguard's --run-writes-per-minute): the pass starts at %s, without reading anything before. Nothing is wrong; an adoption is being spread out, and revocations go first.",
				f.target.Project, f.target.Location, f.admittedAt.UTC().Format(time.RFC3339))
		}
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

func agentMissingMessage(f *facts) string {
	return fmt.Sprintf("IAP's service agent %s does not exist yet, so it cannot be allowed to invoke %s. Create it: gcloud beta services identity create --service=iap.googleapis.com --project=%s",
		f.resolved.IAPServiceAgentEmail(), f.resolved.Path(), f.target.Project)
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

func listSome(items []string) string {
	if len(items) <= 5 {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:5], ", "), len(items)-5)
}

// namespaceIdentityMessage says why the namespace's Google identity cannot be used.
func namespaceIdentityMessage(o *outcome, f *facts) string {
	switch o.reason {
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
	}
	return ""
}

// levelNotFoundMessage names the missing level and says what became of the groups requiring it.
func levelNotFoundMessage(f *facts) string {
	what := fmt.Sprintf("Access level %s does not exist in Access Context Manager", f.levels.missing)
	if !isFullLevelName(f.levels.missing) {
		what = fmt.Sprintf("AccessLevel %s is neither in the manifests planned nor in the cluster", f.levels.missing)
	}
	return what + ": IAM would accept a condition naming it, and it would let nobody in. Create it or fix the name in the access group; until then the groups that require it get no access, and only removals were applied."
}
