package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
)

var decideNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func decideGrantFixture(change func(*grantInput)) grantInput {
	ps := &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "app"}}
	ps.Spec.Mode = iapv1alpha1.ModeEnforce
	ps.Spec.AccessGroups = []iapv1alpha1.AccessGroup{{Name: "oncall", Members: []iapv1alpha1.Member{"user:carol@acme.com"},
		Context: &iapv1alpha1.AccessContext{PathPrefixes: []iapv1alpha1.PathPrefix{"/ops"}, Hosts: []iapv1alpha1.Host{"ops.acme.com"}}}}
	g := &iapv1alpha1.AccessGrant{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "bob"}}
	g.Spec = iapv1alpha1.AccessGrantSpec{ProtectedService: "app", AccessGroup: "oncall", Members: []iapv1alpha1.Member{"user:bob@acme.com"},
		Duration: metav1.Duration{Duration: 2 * time.Hour}, Reason: "INC-1", RequestedBy: "bob"}
	in := grantInput{grant: g, ps: ps, annotations: map[string]string{}, now: decideNow}
	if change != nil {
		change(&in)
	}
	return in
}

func approval(name, by string, d iapv1alpha1.ApprovalDecision) iapv1alpha1.AccessGrantApproval {
	return iapv1alpha1.AccessGrantApproval{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: iapv1alpha1.AccessGrantApprovalSpec{Grant: "bob", ApprovedBy: by, Decision: d}}
}

func active(from, until time.Time) func(*grantInput) {
	return func(in *grantInput) {
		in.grant.Status.Phase = iapv1alpha1.GrantActive
		in.grant.Status.ActiveFrom, in.grant.Status.ExpiresAt = &metav1.Time{Time: from}, &metav1.Time{Time: until}
	}
}

// grantRow is one case of decideGrant: the fixture changed, and what is decided.
type grantRow struct {
	name      string
	change    func(*grantInput)
	phase     iapv1alpha1.GrantPhase
	reason    string
	message   string
	recheckIn time.Duration
}

// grantRows are decideGrant's cases; the status table test also runs them through
// applyGrantStatus, so every grant reason has a row.
func grantRows() []grantRow {
	return []grantRow{
		{name: "no approval yet waits", phase: iapv1alpha1.GrantPending, reason: iapv1alpha1.ReasonAwaitingApproval, message: "0 of 1 approvals"},
		{name: "one approval activates for the duration", change: func(in *grantInput) {
			in.approvals = []iapv1alpha1.AccessGrantApproval{approval("a", "alice", iapv1alpha1.DecisionApprove)}
		}, phase: iapv1alpha1.GrantActive, reason: iapv1alpha1.ReasonBinding, recheckIn: 2 * time.Hour},
		{name: "the requester's own approval does not count", change: func(in *grantInput) {
			in.approvals = []iapv1alpha1.AccessGrantApproval{approval("a", "bob", iapv1alpha1.DecisionApprove)}
		}, phase: iapv1alpha1.GrantPending, reason: iapv1alpha1.ReasonAwaitingApproval},
		{name: "an approval given before the grant existed does not count", change: func(in *grantInput) {
			in.grant.CreationTimestamp = metav1.Time{Time: decideNow}
			early := approval("a", "alice", iapv1alpha1.DecisionApprove)
			early.CreationTimestamp = metav1.Time{Time: decideNow.Add(-time.Hour)}
			in.approvals = []iapv1alpha1.AccessGrantApproval{early}
		}, phase: iapv1alpha1.GrantPending, reason: iapv1alpha1.ReasonAwaitingApproval, message: "0 of 1"},
		{name: "the same approver twice counts once", change: func(in *grantInput) {
			in.annotations[iapv1alpha1.AnnotationGrantApprovals] = "2"
			in.approvals = []iapv1alpha1.AccessGrantApproval{approval("a", "alice", iapv1alpha1.DecisionApprove), approval("b", "alice", iapv1alpha1.DecisionApprove)}
		}, phase: iapv1alpha1.GrantPending, reason: iapv1alpha1.ReasonAwaitingApproval, message: "1 of 2"},
		{name: "no approval needed where the namespace says so", change: func(in *grantInput) {
			in.annotations[iapv1alpha1.AnnotationGrantApprovals] = "0"
		}, phase: iapv1alpha1.GrantActive, recheckIn: 2 * time.Hour},
		{name: "a deny denies a pending grant", change: func(in *grantInput) {
			in.approvals = []iapv1alpha1.AccessGrantApproval{approval("a", "alice", iapv1alpha1.DecisionApprove), approval("b", "erin", iapv1alpha1.DecisionDeny)}
		}, phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonApprovalDenied, message: "erin"},
		{name: "a deny revokes an active grant", change: func(in *grantInput) {
			active(decideNow.Add(-time.Hour), decideNow.Add(time.Hour))(in)
			in.approvals = []iapv1alpha1.AccessGrantApproval{approval("b", "erin", iapv1alpha1.DecisionDeny)}
		}, phase: iapv1alpha1.GrantRevoked, reason: iapv1alpha1.ReasonApprovalDenied},
		{name: "break-glass is active at once", change: func(in *grantInput) {
			in.grant.Spec.BreakGlass, in.grant.Spec.Duration.Duration = true, 30*time.Minute
		}, phase: iapv1alpha1.GrantActive, recheckIn: 30 * time.Minute},
		{name: "break-glass beyond its cap is denied", change: func(in *grantInput) {
			in.grant.Spec.BreakGlass = true
		}, phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonDurationTooLong, message: "at most 1h0m0s"},
		{name: "longer than the namespace allows is denied", change: func(in *grantInput) {
			in.annotations[iapv1alpha1.AnnotationMaxGrantDuration] = "1h"
		}, phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonDurationTooLong},
		{name: "an unreadable namespace rule denies", change: func(in *grantInput) {
			in.annotations[iapv1alpha1.AnnotationMaxGrantDuration] = "a while"
		}, phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonInvalidNamespacePolicy, message: "a while"},
		{name: "an unknown service denies", change: func(in *grantInput) { in.ps = nil },
			phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonProtectedServiceNotFound},
		{name: "an unknown group denies and names the groups", change: func(in *grantInput) { in.grant.Spec.AccessGroup = "admins" },
			phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonAccessGroupNotFound, message: "oncall"},
		{name: "an Observe service denies", change: func(in *grantInput) { in.ps.Spec.Mode = iapv1alpha1.ModeObserve },
			phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonServiceNotEnforced},
		{name: "a path outside the group's widens", change: func(in *grantInput) {
			in.grant.Spec.Context = &iapv1alpha1.GrantContext{PathPrefixes: []iapv1alpha1.PathPrefix{"/"}}
		}, phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonContextWidened},
		{name: "a path under the group's narrows", change: func(in *grantInput) {
			in.annotations[iapv1alpha1.AnnotationGrantApprovals] = "0"
			in.grant.Spec.Context = &iapv1alpha1.GrantContext{PathPrefixes: []iapv1alpha1.PathPrefix{"/ops/logs"}, Hosts: []iapv1alpha1.Host{"ops.acme.com"}}
		}, phase: iapv1alpha1.GrantActive, recheckIn: 2 * time.Hour},
		{name: "a host the group does not name widens", change: func(in *grantInput) {
			in.grant.Spec.Context = &iapv1alpha1.GrantContext{Hosts: []iapv1alpha1.Host{"admin.acme.com"}}
		}, phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonContextWidened},
		{name: "a member the namespace may not grant", change: func(in *grantInput) {
			in.annotations[iapv1alpha1.AnnotationAllowedMembers] = "*@example.com"
		}, phase: iapv1alpha1.GrantDenied, reason: iapv1alpha1.ReasonMemberNotAllowed, message: "user:bob@acme.com"},
		{name: "an approved grant starting later waits for its start", change: func(in *grantInput) {
			in.annotations[iapv1alpha1.AnnotationGrantApprovals] = "0"
			in.grant.Spec.StartsAt = &metav1.Time{Time: decideNow.Add(time.Hour)}
		}, phase: iapv1alpha1.GrantPending, reason: iapv1alpha1.ReasonNotStarted, recheckIn: time.Hour},
		{name: "approved after its window is expired, never active", change: func(in *grantInput) {
			in.annotations[iapv1alpha1.AnnotationGrantApprovals] = "0"
			in.grant.Spec.StartsAt = &metav1.Time{Time: decideNow.Add(-3 * time.Hour)}
		}, phase: iapv1alpha1.GrantExpired, reason: iapv1alpha1.ReasonExpired},
		{name: "an active grant expires at its end", change: active(decideNow.Add(-2*time.Hour), decideNow),
			phase: iapv1alpha1.GrantExpired, reason: iapv1alpha1.ReasonExpired},
		{name: "an active grant whose group went is revoked", change: func(in *grantInput) {
			active(decideNow.Add(-time.Hour), decideNow.Add(time.Hour))(in)
			in.ps.Spec.AccessGroups = nil
		}, phase: iapv1alpha1.GrantRevoked, reason: iapv1alpha1.ReasonAccessGroupNotFound, message: "none"},
		{name: "a finished grant stays finished", change: func(in *grantInput) {
			in.grant.Status.Phase = iapv1alpha1.GrantExpired
			in.approvals = []iapv1alpha1.AccessGrantApproval{approval("a", "alice", iapv1alpha1.DecisionApprove)}
		}, phase: iapv1alpha1.GrantExpired},
		{name: "a reviewed break-glass grant stays active", change: func(in *grantInput) {
			in.grant.Spec.BreakGlass, in.grant.Spec.Duration.Duration = true, time.Minute
			in.approvals = []iapv1alpha1.AccessGrantApproval{approval("a", "alice", iapv1alpha1.DecisionApprove)}
		}, phase: iapv1alpha1.GrantActive, recheckIn: time.Minute},
	}
}

func TestDecideGrant(t *testing.T) {
	for _, tc := range grantRows() {
		t.Run(tc.name, func(t *testing.T) {
			d := decideGrant(decideGrantFixture(tc.change))
			if d.phase != tc.phase || (tc.reason != "" && d.reason != tc.reason) || !strings.Contains(d.message, tc.message) {
				t.Fatalf("got %s %s %q; want %s %s containing %q", d.phase, d.reason, d.message, tc.phase, tc.reason, tc.message)
			}
			var recheckIn time.Duration
			if !d.recheckAt.IsZero() {
				recheckIn = d.recheckAt.Sub(decideNow)
			}
			if recheckIn != tc.recheckIn {
				t.Errorf("rechecked in %s, want %s", recheckIn, tc.recheckIn)
			}
			if d.phase == iapv1alpha1.GrantActive && (d.expires == nil || d.activeFrom == nil || d.expires.Sub(*d.activeFrom) != decideGrantFixture(tc.change).grant.Spec.Duration.Duration) {
				t.Errorf("active window %v – %v", d.activeFrom, d.expires)
			}
		})
	}
}

func TestDecideGrant_BreakGlassNeedsReviewUntilApproved(t *testing.T) {
	glass := func(in *grantInput) { in.grant.Spec.BreakGlass, in.grant.Spec.Duration.Duration = true, time.Minute }
	if d := decideGrant(decideGrantFixture(glass)); !d.reviewRequired || d.reviewed {
		t.Errorf("before approval: reviewRequired %v reviewed %v", d.reviewRequired, d.reviewed)
	}
	d := decideGrant(decideGrantFixture(func(in *grantInput) {
		glass(in)
		in.approvals = []iapv1alpha1.AccessGrantApproval{approval("a", "alice", iapv1alpha1.DecisionApprove)}
	}))
	if d.reviewRequired || !d.reviewed || d.phase != iapv1alpha1.GrantActive {
		t.Errorf("after approval: %s reviewRequired %v reviewed %v", d.phase, d.reviewRequired, d.reviewed)
	}
}

func TestNarrowedContext_EndsAtTheEarlierOfGroupAndGrant(t *testing.T) {
	in := decideGrantFixture(active(decideNow, decideNow.Add(time.Hour)))
	groupEnd := decideNow.Add(30 * time.Minute)
	in.grant.Spec.Context = &iapv1alpha1.GrantContext{PathPrefixes: []iapv1alpha1.PathPrefix{"/ops/logs"}}
	c := narrowedContext(accessGroupsContext(in.ps, &groupEnd), in.grant)
	if !c.NotAfter.Equal(groupEnd) || len(c.PathPrefixes) != 1 || c.PathPrefixes[0] != "/ops/logs" || c.Hosts[0] != "ops.acme.com" || c.NotBefore != nil {
		t.Errorf("context %+v", c)
	}
	c = narrowedContext(accessGroupsContext(in.ps, nil), in.grant)
	if !c.NotAfter.Equal(decideNow.Add(time.Hour)) {
		t.Errorf("not after %v", c.NotAfter)
	}
}

func accessGroupsContext(ps *iapv1alpha1.ProtectedService, notAfter *time.Time) iampolicy.Context {
	c := ps.Spec.AccessGroups[0].Context.DeepCopy()
	if notAfter != nil {
		c.NotAfter = &metav1.Time{Time: *notAfter}
	}
	out, _ := accessContext(c, levelsFact{})
	return out
}
