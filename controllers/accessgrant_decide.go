package controllers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/tenancy"
)

// grantInput is everything a grant's phase is decided from, as read from the cache.
type grantInput struct {
	grant *iapv1alpha1.AccessGrant
	// ps is the ProtectedService the grant names; nil when it does not exist.
	ps *iapv1alpha1.ProtectedService
	// annotations are the namespace's.
	annotations map[string]string
	// approvals name this grant, oldest first.
	approvals []iapv1alpha1.AccessGrantApproval
	now       time.Time
}

// grantDecision is the grant's next state, as plain values: applyGrantStatus turns it into
// status, and the reconciler into Events and a requeue.
type grantDecision struct {
	phase iapv1alpha1.GrantPhase
	// reason and message explain the phase (the Active condition's).
	reason, message     string
	activeFrom, expires *time.Time
	endedAt             *time.Time
	approvals           []iapv1alpha1.GrantDecision
	approved, needed    int
	approvedReason      string
	reviewRequired      bool
	reviewed            bool
	// recheckAt is when time alone changes the decision (startsAt, expiry); zero: never.
	recheckAt time.Time
}

// grantRules are the namespace's limits on grants.
type grantRules struct {
	maxDuration, maxBreakGlass time.Duration
	approvalsNeeded            int
}

// namespaceGrantRules reads the grant annotations, each with its default when absent.
func namespaceGrantRules(annotations map[string]string) (grantRules, error) {
	rules := grantRules{approvalsNeeded: iapv1alpha1.DefaultGrantApprovals}
	var err error
	if rules.maxDuration, err = annotationDuration(annotations, iapv1alpha1.AnnotationMaxGrantDuration, iapv1alpha1.DefaultMaxGrantDuration); err != nil {
		return rules, err
	}
	if rules.maxBreakGlass, err = annotationDuration(annotations, iapv1alpha1.AnnotationMaxBreakGlassDuration, iapv1alpha1.DefaultMaxBreakGlassDuration); err != nil {
		return rules, err
	}
	if v, ok := annotations[iapv1alpha1.AnnotationGrantApprovals]; ok {
		n, convErr := strconv.Atoi(strings.TrimSpace(v))
		if convErr != nil || n < 0 || n > 10 {
			return rules, fmt.Errorf("annotation %s is %q; it must be a whole number from 0 to 10", iapv1alpha1.AnnotationGrantApprovals, v)
		}
		rules.approvalsNeeded = n
	}
	return rules, nil
}

func annotationDuration(annotations map[string]string, key, def string) (time.Duration, error) {
	v, ok := annotations[key]
	if !ok {
		v = def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("annotation %s is %q; it must be a positive duration such as 8h or 90m", key, v)
	}
	return d, nil
}

// decideGrant decides a grant's phase. A finished grant stays finished (only its review can
// still change); a pending one activates once approved, valid and within its window; an active
// one expires at expiresAt or is revoked when what it was granted against goes away.
func decideGrant(in grantInput) grantDecision {
	g := in.grant
	d := grantDecision{phase: g.Status.Phase, needed: -1}
	if d.phase == "" {
		d.phase = iapv1alpha1.GrantPending
	}
	d.activeFrom, d.expires, d.endedAt = timeOf(g.Status.ActiveFrom), timeOf(g.Status.ExpiresAt), timeOf(g.Status.EndedAt)
	denied := countApprovals(&d, g, in.approvals)
	if d.phase.Finished() {
		d.reason, d.message = finishedReason(g)
		return d
	}
	if denied != "" {
		return d.end(in.now, iapv1alpha1.ReasonApprovalDenied, "denied by "+denied)
	}
	if reason, message := grantInvalid(in); reason != "" {
		return d.end(in.now, reason, message)
	}
	if d.phase == iapv1alpha1.GrantPending {
		return d.pending(in)
	}
	// The approvals an active grant had are judged by the namespace's rules as they are now; if
	// those cannot be read, the Approved condition keeps what it said.
	if rules, err := namespaceGrantRules(in.annotations); err == nil {
		d.judgeApprovals(g, rules)
	}
	return d.active(in.now)
}

// judgeApprovals says whether the grant has the approvals the namespace asks for, or why it
// needs none.
func (d *grantDecision) judgeApprovals(g *iapv1alpha1.AccessGrant, rules grantRules) {
	d.needed = rules.approvalsNeeded
	switch {
	case d.needed == 0:
		d.approvedReason = iapv1alpha1.ReasonApprovalNotNeeded
	case d.approved >= d.needed:
		d.approvedReason = iapv1alpha1.ReasonApproved
	case g.Spec.BreakGlass:
		d.approvedReason = iapv1alpha1.ReasonBreakGlass
	}
}

// countApprovals records the decisions (the requester's own approval marked as not counting; one
// per approver counted)
// and returns who denied, if anyone did.
func countApprovals(d *grantDecision, g *iapv1alpha1.AccessGrant, approvals []iapv1alpha1.AccessGrantApproval) (deniedBy string) {
	seen := map[string]bool{}
	for _, a := range approvals {
		// An approval older than the grant was given for another grant of the same name (deleted
		// since) or before anyone could read this one's members and duration.
		if a.CreationTimestamp.Before(&g.CreationTimestamp) {
			continue
		}
		decision := iapv1alpha1.GrantDecision{Approval: a.Name, By: a.Spec.ApprovedBy, Decision: a.Spec.Decision, At: a.CreationTimestamp}
		if a.Spec.ApprovedBy == g.Spec.RequestedBy && a.Spec.Decision == iapv1alpha1.DecisionApprove {
			decision.Ignored = "the requester cannot approve their own grant"
			d.approvals = append(d.approvals, decision)
			continue
		}
		d.approvals = append(d.approvals, decision)
		if a.Spec.Decision == iapv1alpha1.DecisionDeny && deniedBy == "" {
			deniedBy = a.Spec.ApprovedBy
		}
		if a.Spec.Decision == iapv1alpha1.DecisionApprove && !seen[a.Spec.ApprovedBy] {
			seen[a.Spec.ApprovedBy] = true
			d.approved++
		}
	}
	d.reviewRequired = g.Spec.BreakGlass && d.approved == 0 && deniedBy == ""
	d.reviewed = g.Spec.BreakGlass && !d.reviewRequired
	return deniedBy
}

// grantInvalid says why a grant may not be (or stay) active: what it was granted against —
// the service, the group, the namespace's rules — no longer allows it.
func grantInvalid(in grantInput) (reason, message string) {
	g, ps := in.grant, in.ps
	switch {
	case ps == nil || !ps.DeletionTimestamp.IsZero():
		return iapv1alpha1.ReasonProtectedServiceNotFound, fmt.Sprintf("ProtectedService %s does not exist in namespace %s (or is being deleted)", g.Spec.ProtectedService, g.Namespace)
	case ps.Spec.Observing():
		return iapv1alpha1.ReasonServiceNotEnforced, fmt.Sprintf("ProtectedService %s is in Observe mode: runguard writes nothing for it, so no grant can be bound", ps.Name)
	}
	return grantMisfit(g, ps, in.annotations)
}

// grantMisfit says why a grant does not fit its ProtectedService and namespace: its group is gone,
// it would widen the group, or the namespace may not grant a member. The grant controller denies
// or revokes such a grant; the ProtectedService's pass, which may see the change first, leaves it
// unbound.
func grantMisfit(g *iapv1alpha1.AccessGrant, ps *iapv1alpha1.ProtectedService, annotations map[string]string) (reason, message string) {
	group := accessGroupNamed(ps, g.Spec.AccessGroup)
	if group == nil {
		return iapv1alpha1.ReasonAccessGroupNotFound, fmt.Sprintf("ProtectedService %s has no access group %q (it has %s)", ps.Name, g.Spec.AccessGroup, groupNames(ps))
	}
	if problem := widening(group.Context, g.Spec.Context); problem != "" {
		return iapv1alpha1.ReasonContextWidened, problem + ": a grant can only narrow its access group's context"
	}
	if bad := tenancy.DisallowedMembers(annotations[iapv1alpha1.AnnotationAllowedMembers], grantMembersAsGroup(g)); len(bad) > 0 {
		return iapv1alpha1.ReasonMemberNotAllowed, fmt.Sprintf("namespace %s may not grant %s (annotation %s)", g.Namespace, strings.Join(bad, ", "), iapv1alpha1.AnnotationAllowedMembers)
	}
	return "", ""
}

// pending activates an approved, valid grant once its window opens.
func (d grantDecision) pending(in grantInput) grantDecision {
	g := in.grant
	rules, err := namespaceGrantRules(in.annotations)
	if err != nil {
		return d.end(in.now, iapv1alpha1.ReasonInvalidNamespacePolicy, fmt.Sprintf("namespace %s: %v", g.Namespace, err))
	}
	limit, limitName := rules.maxDuration, iapv1alpha1.AnnotationMaxGrantDuration
	if g.Spec.BreakGlass {
		limit, limitName = rules.maxBreakGlass, iapv1alpha1.AnnotationMaxBreakGlassDuration
	}
	if g.Spec.Duration.Duration > limit {
		return d.end(in.now, iapv1alpha1.ReasonDurationTooLong, fmt.Sprintf("the grant asks for %s; namespace %s allows at most %s (annotation %s)", g.Spec.Duration.Duration, g.Namespace, limit, limitName))
	}
	if d.judgeApprovals(g, rules); d.approvedReason == "" {
		d.reason = iapv1alpha1.ReasonAwaitingApproval
		d.message = fmt.Sprintf("%d of %d approvals by someone other than %s", d.approved, d.needed, g.Spec.RequestedBy)
		return d
	}
	from := in.now
	if g.Spec.StartsAt != nil {
		from = g.Spec.StartsAt.UTC()
	}
	until := from.Add(g.Spec.Duration.Duration)
	d.activeFrom, d.expires = &from, &until
	switch {
	case !in.now.Before(until):
		return d.end(until, iapv1alpha1.ReasonExpired, "the grant's window ended before it was approved")
	case in.now.Before(from):
		d.reason, d.message, d.recheckAt = iapv1alpha1.ReasonNotStarted, "active from "+from.Format(time.RFC3339), from
		return d
	}
	d.phase = iapv1alpha1.GrantActive
	return d.active(in.now)
}

// active keeps an active grant until it expires.
func (d grantDecision) active(now time.Time) grantDecision {
	if d.expires == nil || !now.Before(*d.expires) {
		end := now
		if d.expires != nil {
			end = *d.expires
		}
		return d.end(end, iapv1alpha1.ReasonExpired, "the grant's duration ended")
	}
	d.phase, d.recheckAt = iapv1alpha1.GrantActive, *d.expires
	d.reason, d.message = iapv1alpha1.ReasonBinding, "active until "+d.expires.Format(time.RFC3339)
	return d
}

// end finishes the grant: Revoked when it was active, Expired at its end, Denied otherwise.
func (d grantDecision) end(at time.Time, reason, message string) grantDecision {
	switch {
	case reason == iapv1alpha1.ReasonExpired:
		d.phase = iapv1alpha1.GrantExpired
	case d.phase == iapv1alpha1.GrantActive:
		d.phase = iapv1alpha1.GrantRevoked
	default:
		d.phase = iapv1alpha1.GrantDenied
	}
	d.reason, d.message, d.endedAt, d.recheckAt = reason, message, &at, time.Time{}
	return d
}

// finishedReason keeps the reason a finished grant was given when it finished.
func finishedReason(g *iapv1alpha1.AccessGrant) (string, string) {
	for _, c := range g.Status.Conditions {
		if c.Type == iapv1alpha1.ConditionActive {
			return c.Reason, c.Message
		}
	}
	return string(g.Status.Phase), ""
}

// widening says how a grant's context would widen its group's: a path prefix outside the
// group's, or a host the group does not name. Clauses the group does not declare can only narrow.
func widening(group *iapv1alpha1.AccessContext, narrow *iapv1alpha1.GrantContext) string {
	if narrow == nil || group == nil {
		return ""
	}
	for _, p := range narrow.PathPrefixes {
		if len(group.PathPrefixes) > 0 && !slices.ContainsFunc(group.PathPrefixes, func(gp iapv1alpha1.PathPrefix) bool {
			return strings.HasPrefix(string(p), string(gp))
		}) {
			return fmt.Sprintf("path prefix %s is not under any of the group's (%s)", p, joinStrings(group.PathPrefixes))
		}
	}
	for _, h := range narrow.Hosts {
		if len(group.Hosts) > 0 && !slices.Contains(group.Hosts, h) {
			return fmt.Sprintf("host %s is not one of the group's (%s)", h, joinStrings(group.Hosts))
		}
	}
	return ""
}

func accessGroupNamed(ps *iapv1alpha1.ProtectedService, name string) *iapv1alpha1.AccessGroup {
	for i := range ps.Spec.AccessGroups {
		if ps.Spec.AccessGroups[i].Name == name {
			return &ps.Spec.AccessGroups[i]
		}
	}
	return nil
}

func groupNames(ps *iapv1alpha1.ProtectedService) string {
	names := make([]string, 0, len(ps.Spec.AccessGroups))
	for _, g := range ps.Spec.AccessGroups {
		names = append(names, g.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func grantMembersAsGroup(g *iapv1alpha1.AccessGrant) []iapv1alpha1.AccessGroup {
	return []iapv1alpha1.AccessGroup{{Name: iapv1alpha1.GrantGroupPrefix + g.Name, Members: g.Spec.Members}}
}

func joinStrings[S ~string](in []S) string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
