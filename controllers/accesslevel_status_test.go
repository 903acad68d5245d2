package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
)

// levelStatusRow is one AccessLevel pass: its facts and outcome, and what the conditions say.
type levelStatusRow struct {
	name     string
	observe  bool
	deleting bool
	facts    func(*levelScope)
	shown    *outcome
	// want maps a condition type to "Status/Reason"; mentions are words the Ready (or, while
	// progressing, Reconciling) message must contain.
	want     map[string]string
	mentions []string
}

const rowLevel = "accessPolicies/5/accessLevels/corp_network"

func (row levelStatusRow) scope() *levelScope {
	al := &iapv1alpha1.AccessLevel{ObjectMeta: metav1.ObjectMeta{Name: "corp-network", Generation: 2},
		Spec: iapv1alpha1.AccessLevelSpec{Mode: iapv1alpha1.ModeEnforce, DeletionPolicy: iapv1alpha1.DeletionPolicyDelete}}
	if row.observe {
		al.Spec.Mode = iapv1alpha1.ModeObserve
	}
	if row.deleting {
		al.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	}
	s := &levelScope{al: al, original: al.DeepCopy(), name: rowLevel}
	if row.facts != nil {
		row.facts(s)
	}
	return s
}

func levelStatusRows() []levelStatusRow {
	stalledAs := func(reason string) map[string]string {
		return map[string]string{"Stalled": "True/" + reason, "Ready": "False/" + reason, "Reconciling": "False/" + reason}
	}
	waitingAs := func(reason string) map[string]string {
		return map[string]string{"Stalled": "False/Progressing", "Ready": "False/" + reason, "Reconciling": "True/" + reason}
	}
	office := accesslevel.Build(accesslevel.Spec{Title: "corp", Basic: &accesslevel.Basic{Conditions: []accesslevel.Condition{{IPSubnetworks: []string{"203.0.113.0/24"}}}}},
		rowLevel, accesslevel.Owner{Cluster: "c", Name: "corp-network"})
	return []levelStatusRow{
		{name: "created", facts: func(s *levelScope) { s.actual, s.facts.created = office, true },
			want:     map[string]string{"Ready": "True/Reconciled", "Stalled": "False/Reconciled", "Reconciling": "False/Reconciled"},
			mentions: []string{"Created " + rowLevel, "203.0.113.0/24"}},
		{name: "observed, in sync", observe: true, facts: func(s *levelScope) { s.actual = office },
			want: map[string]string{"Ready": "True/Reconciled", "InSync": "True/Matches"}},
		{name: "observed, differs", observe: true, facts: func(s *levelScope) { s.actual, s.facts.mask = office, []string{"basic"} },
			want: map[string]string{"Ready": "True/Reconciled", "InSync": "False/ChangesPending"}},
		{name: "observed, another tool's", observe: true, facts: func(s *levelScope) { s.actual, s.facts.mask, s.facts.notOwned = office, []string{"description"}, true },
			want: map[string]string{"Ready": "True/Reconciled", "InSync": "False/ChangesPending"}},
		{name: "observed, absent", observe: true, facts: func(s *levelScope) { s.facts.mask = []string{"create"} },
			shown: wait(iapv1alpha1.ReasonChangesPending, time.Minute), want: waitingAs("ChangesPending"), mentions: []string{"Enforce would create it"}},
		{name: "no policy", shown: stall(iapv1alpha1.ReasonAccessPolicyUnset, nil), want: stalledAs("AccessPolicyUnset"), mentions: []string{"--access-policy"}},
		{name: "policy not found", shown: stall(iapv1alpha1.ReasonAccessPolicyNotFound, errors.New("no")), want: stalledAs("AccessPolicyNotFound"), mentions: []string{"accessPolicies/5"}},
		{name: "scoped policy", shown: stall(iapv1alpha1.ReasonScopedAccessPolicy, errors.New("folders/7")), want: stalledAs("ScopedAccessPolicy"),
			mentions: []string{"folders/7", "roles/accesscontextmanager.policyEditor"}},
		{name: "bad expression", shown: stall(iapv1alpha1.ReasonInvalidExpression, errors.New("undefined field 'x'")), want: stalledAs("InvalidExpression"), mentions: []string{"undefined field 'x'"}},
		{name: "too many conditions", shown: stall(iapv1alpha1.ReasonInvalidCondition, errors.New("41 conditions")), want: stalledAs("InvalidCondition"), mentions: []string{"41 conditions"}},
		{name: "cycle", facts: func(s *levelScope) { s.facts.cycle = []string{"a", "b", "a"} }, shown: stall(iapv1alpha1.ReasonReferenceCycle, nil),
			want: stalledAs("ReferenceCycle"), mentions: []string{"a → b → a"}},
		{name: "required level missing", facts: func(s *levelScope) { s.facts.missing = "accessPolicies/5/accessLevels/gone" },
			shown: stall(iapv1alpha1.ReasonAccessLevelNotFound, nil), want: stalledAs("AccessLevelNotFound"), mentions: []string{"accessPolicies/5/accessLevels/gone"}},
		{name: "required level not ready", facts: func(s *levelScope) { s.facts.notReady = "managed-device" },
			shown: wait(iapv1alpha1.ReasonAccessLevelNotReady, 0), want: waitingAs("AccessLevelNotReady"), mentions: []string{"managed-device"}},
		{name: "made by another tool", shown: stall(iapv1alpha1.ReasonAccessLevelNotOwned, nil), want: stalledAs("AccessLevelNotOwned"),
			mentions: []string{iapv1alpha1.AnnotationAdoptLevel}},
		{name: "another cluster's", facts: func(s *levelScope) { s.facts.otherOwner = &accesslevel.Owner{Cluster: "eu", Name: "x"} },
			shown: stall(iapv1alpha1.ReasonAccessLevelNotOwned, nil), want: stalledAs("AccessLevelNotOwned"), mentions: []string{`cluster "eu"`}},
		{name: "deletion waits for its users", deleting: true, facts: func(s *levelScope) { s.facts.usedBy = []string{"finance/billing"} },
			shown: wait(iapv1alpha1.ReasonInUse, time.Minute), want: waitingAs("InUse"), mentions: []string{"finance/billing"}},
		{name: "transient", shown: &outcome{kind: retrying, reason: iapv1alpha1.ReasonRetrying, err: errors.New("unavailable")},
			want: map[string]string{"Stalled": "False/Retrying", "Reconciling": "True/Retrying", "Ready": "False/Retrying"}},
	}
}

func TestApplyLevelStatus_EachOutcomeSaysWhatItMeans(t *testing.T) {
	for _, row := range levelStatusRows() {
		t.Run(row.name, func(t *testing.T) {
			s := row.scope()
			applyLevelStatus(s, row.shown)
			for typ, want := range row.want {
				c := meta.FindStatusCondition(s.al.Status.Conditions, typ)
				if c == nil || string(c.Status)+"/"+c.Reason != want {
					t.Errorf("%s = %v, want %s", typ, c, want)
				}
			}
			msgOf := iapv1alpha1.ConditionReady
			if row.shown != nil && row.shown.kind == waiting {
				msgOf = iapv1alpha1.ConditionReconciling
			}
			msg := meta.FindStatusCondition(s.al.Status.Conditions, msgOf).Message
			for _, m := range row.mentions {
				if !strings.Contains(msg, m) {
					t.Errorf("%s message %q does not mention %q", msgOf, msg, m)
				}
			}
			retrying := row.shown != nil && row.shown.kind == retrying
			if observed := s.al.Status.ObservedGeneration == s.al.Generation; observed == retrying {
				t.Errorf("observedGeneration %d at generation %d", s.al.Status.ObservedGeneration, s.al.Generation)
			}
		})
	}
}

// A Ready level stays Ready through a transient failure: the objects requiring it keep binding it.
func TestApplyLevelStatus_ATransientFailureKeepsAReadyLevelReady(t *testing.T) {
	row := levelStatusRow{facts: func(s *levelScope) {
		s.original.Status.Name = rowLevel
		s.original.Status.ObservedGeneration = 2
		s.original.Status.Conditions = []metav1.Condition{{Type: iapv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: iapv1alpha1.ReasonReconciled, ObservedGeneration: 2}}
		s.al.Status = *s.original.Status.DeepCopy()
	}}
	s := row.scope()
	applyLevelStatus(s, &outcome{kind: retrying, reason: iapv1alpha1.ReasonRetrying, err: errors.New("unavailable")})
	if !meta.IsStatusConditionTrue(s.al.Status.Conditions, iapv1alpha1.ConditionReady) {
		t.Errorf("Ready after a blip: %+v", s.al.Status.Conditions)
	}
}
