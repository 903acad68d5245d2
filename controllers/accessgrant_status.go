package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// applyGrantStatus writes a decision into the grant's status. Decisions once recorded stay
// recorded, even if their approval object is deleted later: the status is the grant's record.
func applyGrantStatus(g *iapv1alpha1.AccessGrant, d grantDecision, ps *iapv1alpha1.ProtectedService) {
	st := &g.Status
	st.ObservedGeneration = g.Generation
	st.Phase = d.phase
	st.ActiveFrom, st.ExpiresAt, st.EndedAt = metaTime(d.activeFrom), metaTime(d.expires), metaTime(d.endedAt)
	st.Approvals = mergeDecisions(st.Approvals, d.approvals)

	active := metav1.Condition{Type: iapv1alpha1.ConditionActive, Status: metav1.ConditionFalse, Reason: d.reason, Message: d.message}
	if d.phase == iapv1alpha1.GrantActive {
		active.Status = metav1.ConditionTrue
		if grantBound(ps, g.Name) {
			active.Reason = iapv1alpha1.ReasonBound
			active.Message = "bound in Google until " + d.expires.Format(time.RFC3339)
		}
	}
	setGrantCondition(g, active)
	if !d.phase.Finished() || meta.FindStatusCondition(st.Conditions, iapv1alpha1.ConditionApproved) == nil {
		setGrantCondition(g, approvedCondition(g, d))
	}
	if g.Spec.BreakGlass {
		review := metav1.Condition{Type: iapv1alpha1.ConditionReviewRequired, Status: metav1.ConditionTrue, Reason: iapv1alpha1.ReasonBreakGlass,
			Message: "break-glass access was used without approval; an approver should review it (kubectl runguard grant approve " + g.Name + ")"}
		if d.reviewed {
			review.Status, review.Reason, review.Message = metav1.ConditionFalse, iapv1alpha1.ReasonReviewed, "reviewed by "+reviewers(st.Approvals)
		}
		setGrantCondition(g, review)
	}
}

// approvedCondition says whether the grant has the approvals it needs.
func approvedCondition(g *iapv1alpha1.AccessGrant, d grantDecision) metav1.Condition {
	c := metav1.Condition{Type: iapv1alpha1.ConditionApproved, Status: metav1.ConditionFalse}
	switch {
	case d.reason == iapv1alpha1.ReasonApprovalDenied:
		c.Reason, c.Message = iapv1alpha1.ReasonApprovalDenied, d.message
	case d.approvedReason == iapv1alpha1.ReasonBreakGlass:
		c.Reason, c.Message = iapv1alpha1.ReasonBreakGlass, fmt.Sprintf("active without the approvals it needs (break-glass): %d of %d", d.approved, d.needed)
	case d.approvedReason != "":
		c.Status, c.Reason = metav1.ConditionTrue, d.approvedReason
		c.Message = fmt.Sprintf("%d approval(s); %d needed", d.approved, max(d.needed, 0))
	case d.needed >= 0:
		c.Reason, c.Message = iapv1alpha1.ReasonAwaitingApproval, d.message
	default:
		// Nothing decided about approvals this time (a namespace rule that cannot be read): the
		// condition keeps what it said.
		if old := meta.FindStatusCondition(g.Status.Conditions, iapv1alpha1.ConditionApproved); old != nil {
			return *old
		}
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, d.reason, d.message
	}
	return c
}

func setGrantCondition(g *iapv1alpha1.AccessGrant, c metav1.Condition) {
	c.ObservedGeneration = g.Generation
	if c.Reason == "" {
		c.Reason = string(g.Status.Phase)
	}
	meta.SetStatusCondition(&g.Status.Conditions, c)
}

// grantBound reports whether the ProtectedService's last pass found the grant's binding in Google.
func grantBound(ps *iapv1alpha1.ProtectedService, grant string) bool {
	if ps == nil {
		return false
	}
	return slices.ContainsFunc(ps.Status.ManagedBindings, func(b iapv1alpha1.ManagedBinding) bool {
		return b.Group == iapv1alpha1.GrantGroupPrefix+grant
	})
}

func mergeDecisions(recorded, current []iapv1alpha1.GrantDecision) []iapv1alpha1.GrantDecision {
	out := slices.Clone(recorded)
	for _, c := range current {
		if !slices.ContainsFunc(out, func(r iapv1alpha1.GrantDecision) bool { return r.Approval == c.Approval }) {
			out = append(out, c)
		}
	}
	return out
}

func reviewers(decisions []iapv1alpha1.GrantDecision) string {
	var by []string
	for _, d := range decisions {
		if d.Ignored == "" && !slices.Contains(by, d.By) {
			by = append(by, d.By)
		}
	}
	return joinStrings(by)
}

// sortApprovals orders approvals oldest first (by name within a second).
func sortApprovals(approvals []iapv1alpha1.AccessGrantApproval) {
	slices.SortStableFunc(approvals, func(a, b iapv1alpha1.AccessGrantApproval) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func metaTime(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	return &metav1.Time{Time: *t}
}

// registerGrantGauges makes the grant gauges read the manager's cache (the reconciler set up last
// is the one reported: a manager runs one).
func registerGrantGauges(cache client.Reader) { grantGaugesOf.cache.Store(&cache) }

// grantGaugesOf is registered once, at start, so its metrics are known before any grant exists.
var grantGaugesOf = &grantGauges{}

func init() { ctrlmetrics.Registry.MustRegister(grantGaugesOf) }

var (
	breakGlassActiveDesc = prometheus.NewDesc("runguard_break_glass_active",
		"Break-glass AccessGrants that are active now, by namespace.", []string{"namespace"}, nil)
	grantsActiveDesc = prometheus.NewDesc("runguard_access_grants_active",
		"AccessGrants that are active now, by namespace.", []string{"namespace"}, nil)
)

// grantGauges count active grants from the cache at each scrape.
type grantGauges struct{ cache atomic.Pointer[client.Reader] }

func (*grantGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- breakGlassActiveDesc
	ch <- grantsActiveDesc
}

func (c *grantGauges) Collect(ch chan<- prometheus.Metric) {
	cache := c.cache.Load()
	if cache == nil {
		return
	}
	var list iapv1alpha1.AccessGrantList
	if err := (*cache).List(context.Background(), &list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(grantsActiveDesc, err)
		return
	}
	active, breakGlass := map[string]float64{}, map[string]float64{}
	for _, g := range list.Items {
		if g.Status.Phase != iapv1alpha1.GrantActive {
			continue
		}
		active[g.Namespace]++
		if g.Spec.BreakGlass {
			breakGlass[g.Namespace]++
		}
	}
	for ns, n := range active {
		ch <- prometheus.MustNewConstMetric(grantsActiveDesc, prometheus.GaugeValue, n, ns)
		ch <- prometheus.MustNewConstMetric(breakGlassActiveDesc, prometheus.GaugeValue, breakGlass[ns], ns)
	}
}
