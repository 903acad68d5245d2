package controllers_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/iampolicy"
)

// expectStalled waits until the object is Stalled with reason for its current generation and
// checks everything a human and a GitOps tool read: Stalled=True, Ready=False and
// Reconciling=False with that reason, every one of them and status.observedGeneration at the
// current generation, a message that mentions each of mentions, and kstatus Failed.
func (w *world) expectStalled(name, reason string, mentions ...string) *iapv1alpha1.ProtectedService {
	w.t.Helper()
	ps := w.waitStalled(name, reason)
	checkStalled(w.t, ps, reason, mentions...)
	return ps
}

func checkStalled(t testing.TB, ps *iapv1alpha1.ProtectedService, reason string, mentions ...string) {
	t.Helper()
	if ps.Status.ObservedGeneration != ps.Generation {
		t.Errorf("status.observedGeneration %d, generation %d", ps.Status.ObservedGeneration, ps.Generation)
	}
	for _, want := range []struct {
		typ    string
		status metav1.ConditionStatus
	}{
		{iapv1alpha1.ConditionStalled, metav1.ConditionTrue},
		{iapv1alpha1.ConditionReady, metav1.ConditionFalse},
		{iapv1alpha1.ConditionReconciling, metav1.ConditionFalse},
	} {
		c := meta.FindStatusCondition(ps.Status.Conditions, want.typ)
		switch {
		case c == nil:
			t.Errorf("no %s condition: %s", want.typ, describeConditions(ps))
			continue
		case c.Status != want.status || c.Reason != reason:
			t.Errorf("%s = %s/%s, want %s/%s", want.typ, c.Status, c.Reason, want.status, reason)
		}
		if c.ObservedGeneration != ps.Generation {
			t.Errorf("%s.observedGeneration %d, generation %d", want.typ, c.ObservedGeneration, ps.Generation)
		}
	}
	stalledCond := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled)
	readyCond := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady)
	if stalledCond != nil {
		t.Logf("generation %d Stalled %s: %s", ps.Generation, stalledCond.Reason, stalledCond.Message)
	}
	for _, m := range mentions {
		if stalledCond != nil && !strings.Contains(stalledCond.Message, m) {
			t.Errorf("Stalled message does not mention %q: %q", m, stalledCond.Message)
		}
		if readyCond != nil && !strings.Contains(readyCond.Message, m) {
			t.Errorf("Ready message does not mention %q: %q", m, readyCond.Message)
		}
	}
	expectKstatus(t, ps, status.FailedStatus)
}

// editStaysStalled edits the spec (a new access group for carol, which leaves every Stalled cause
// in place), waits for the new generation to be observed, and expects the same Stalled reason —
// the case kstatus must report as Failed rather than InProgress.
func (w *world) editStaysStalled(name, reason string, mentions ...string) *iapv1alpha1.ProtectedService {
	w.t.Helper()
	before := w.get(name).Generation
	w.update(name, func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups = append(ps.Spec.AccessGroups, group("edited", "user:carol@acme.com"))
	})
	ps := w.waitStalled(name, reason)
	if ps.Generation != before+1 {
		w.t.Fatalf("generation %d after one edit of generation %d", ps.Generation, before)
	}
	checkStalled(w.t, ps, reason, mentions...)
	return ps
}

func stalledMessage(ps *iapv1alpha1.ProtectedService) string {
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionStalled); c != nil {
		return c.Message
	}
	return ""
}

func TestStalled_ProjectNotAllowed_MakesNoGoogleCalls(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	forbidden := fmt.Sprintf("forbidden-%d-prj", names.Add(1))
	ps := w.object("elsewhere", group("devs", "user:alice@acme.com"))
	ps.Spec.Service.Project = forbidden
	w.create(ps)

	target := forbidden + "/" + location + "/" + w.service
	w.expectStalled("elsewhere", iapv1alpha1.ReasonProjectNotAllowed, w.ns, target, iapv1alpha1.AnnotationAllowedProjects)
	w.editStaysStalled("elsewhere", iapv1alpha1.ReasonProjectNotAllowed, w.ns, target)
	// Deleting it may not call Google either: it never wrote anything there.
	if err := k8s.Delete(context.Background(), w.get("elsewhere")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "object gone", func() error { return existsErr(w.ns, "elsewhere") })
	if calls := callsMentioning(forbidden); len(calls) > 0 {
		t.Errorf("%d Google calls for a project the namespace may not target, e.g. %s %s", len(calls), calls[0].Method, calls[0].Resource)
	}
}

func TestStalled_ProjectNotAllowed_OutsideTheAllowedLocationOrServiceGlob(t *testing.T) {
	t.Parallel()
	for _, allowed := range []string{project + "/europe-west1", project + "/" + location + "/api-*"} {
		w := newWorld(t, withAnnotation(iapv1alpha1.AnnotationAllowedProjects, allowed))
		w.create(w.object("narrow", group("devs", "user:alice@acme.com")))
		w.expectStalled("narrow", iapv1alpha1.ReasonProjectNotAllowed, allowed)
		if calls := w.serviceCalls(); len(calls) > 0 {
			t.Errorf("allowed-projects %q: %d Google calls on the service, e.g. %s", allowed, len(calls), calls[0].Method)
		}
	}
}

func TestStalled_MemberNotAllowed_OutsideTheNamespacePattern(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withAnnotation(iapv1alpha1.AnnotationAllowedMembers, "*@acme.com"))
	w.create(w.object("outsider",
		group("devs", "user:alice@acme.com", "group:eng@acme.com", "user:eve@evil.example")))
	ps := w.expectStalled("outsider", iapv1alpha1.ReasonMemberNotAllowed, "user:eve@evil.example", "*@acme.com", w.ns)
	for _, ok := range []string{"user:alice@acme.com", "group:eng@acme.com"} {
		if strings.Contains(stalledMessage(ps), ok) {
			t.Errorf("message names allowed member %s: %q", ok, stalledMessage(ps))
		}
	}
	w.editStaysStalled("outsider", iapv1alpha1.ReasonMemberNotAllowed, "user:eve@evil.example")
	if writes := w.writes(); !slices.Equal(writes, []string{"run.UpdateService"}) {
		t.Errorf("Google writes for an object whose members the namespace forbids = %v, want only IAP switched on (nothing to revoke)", writes)
	}
}

// "group:*@acme.com" admits acme groups only: an acme user is refused; widening the annotation
// (a Namespace change) re-checks the object without a spec edit.
func TestStalled_MemberNotAllowed_KindPatternAdmitsOnlyThatKind(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withAnnotation(iapv1alpha1.AnnotationAllowedMembers, "group:*@acme.com"))
	w.create(w.object("kinds", group("devs", "group:eng@acme.com", "user:alice@acme.com")))
	ps := w.expectStalled("kinds", iapv1alpha1.ReasonMemberNotAllowed, "user:alice@acme.com", "group:*@acme.com")
	if strings.Contains(stalledMessage(ps), "group:eng@acme.com") {
		t.Errorf("message names the allowed group: %q", stalledMessage(ps))
	}

	w.annotate(iapv1alpha1.AnnotationAllowedMembers, "group:*@acme.com, user:alice@acme.com")
	w.waitReady("kinds")
	b := bindingsOf(w.iapPolicy())
	if got := b[accessor+"|runguard:devs"]; len(got) != 2 {
		t.Errorf("devs binding = %v, want eng and alice", got)
	}
}

// Two objects in different namespaces target one service: the later one is Stalled naming the
// first, which keeps managing it; once the first is deleted the second takes over.
func TestStalled_ServiceClaimed_LaterObjectWaitsForTheFirst(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("first", group("devs", "user:alice@acme.com")))
	w.waitReady("first")

	other := newTenant(t, fmt.Sprintf("tenant-%d-second", names.Add(1)))
	second := w.object("second", group("ops", "user:bob@acme.com"))
	second.Namespace = other.ns
	other.create(second)
	other.expectStalled("second", iapv1alpha1.ReasonServiceClaimed, w.ns+"/first", project+"/"+location+"/"+w.service)
	other.editStaysStalled("second", iapv1alpha1.ReasonServiceClaimed, w.ns+"/first")
	if got := w.waitReady("first"); got.Generation != 1 {
		t.Errorf("first object changed: generation %d", got.Generation)
	}
	for k := range bindingsOf(w.iapPolicy()) {
		if strings.Contains(k, "runguard:ops") || strings.Contains(k, "runguard:edited") {
			t.Errorf("the Stalled object wrote binding %s", k)
		}
	}

	if err := k8s.Delete(context.Background(), w.get("first")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "first gone", func() error { return existsErr(w.ns, "first") })
	other.waitReady("second")
	b := bindingsOf(w.iapPolicy())
	if _, ok := b[accessor+"|runguard:devs"]; ok {
		t.Errorf("the deleted object's binding is still there: %v", b)
	}
	if got := b[accessor+"|runguard:ops"]; len(got) != 1 || got[0] != "user:bob@acme.com" {
		t.Errorf("the second object's binding = %v", b)
	}
}

// The IAP policy holds bindings marked by runguard in another cluster (same namespace and name):
// the object is Stalled ServiceClaimed naming that owner and writes nothing to the IAP policy.
func TestStalled_ServiceClaimed_ByAnotherClustersMarkers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seedMarkedBinding(iampolicy.Owner{Cluster: "other", Namespace: w.ns, Name: "app"}, "user:bob@acme.com")
	w.create(w.object("app", group("devs", "user:alice@acme.com")))
	w.expectStalled("app", iapv1alpha1.ReasonServiceClaimed, "cluster other", w.ns+"/app", w.iapTarget)
	w.editStaysStalled("app", iapv1alpha1.ReasonServiceClaimed, "cluster other")

	p := w.iapPolicy()
	if len(p.GetBindings()) != 1 {
		t.Fatalf("IAP policy changed: %v", p.GetBindings())
	}
	m, ok := iampolicy.ParseMarker(p.GetBindings()[0].GetCondition())
	if !ok || m.Owner.Cluster != "other" || len(p.GetBindings()[0].GetMembers()) != 1 {
		t.Errorf("the other cluster's binding was touched: %v", p.GetBindings()[0])
	}
	for _, c := range w.serviceCalls() {
		if c.Method == "iap.SetIamPolicy" {
			t.Errorf("wrote the IAP policy despite another owner's markers")
		}
	}
	if w.cloudRun().GetIapEnabled() {
		t.Error("IAP was switched on for a service another owner manages")
	}
}

// Switching IAP off on a public service needs the namespace's consent; with it the object
// converges and IAP goes off.
func TestStalled_WouldExposeService_UntilTheNamespaceAllowsPublic(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.IAPEnabled = true; s.Public = true }))
	ps := w.object("expose", group("devs", "user:alice@acme.com"))
	ps.Spec.IAP.Enabled = ptr(false)
	ps.Spec.PublicAccess = iapv1alpha1.PublicAccessAllow
	w.create(ps)

	w.expectStalled("expose", iapv1alpha1.ReasonWouldExposeService, w.fullName, "allUsers", iapv1alpha1.AnnotationAllowPublic, w.ns)
	w.editStaysStalled("expose", iapv1alpha1.ReasonWouldExposeService, w.fullName)
	if !w.cloudRun().GetIapEnabled() {
		t.Fatal("IAP was switched off without the namespace's consent")
	}
	for _, c := range w.serviceCalls() {
		if c.Method == "run.UpdateService" {
			t.Errorf("updated the service while Stalled WouldExposeService")
		}
	}

	w.annotate(iapv1alpha1.AnnotationAllowPublic, "true")
	got := w.waitReady("expose")
	if c := meta.FindStatusCondition(got.Status.Conditions, iapv1alpha1.ConditionReady); c.Reason != iapv1alpha1.ReasonReconciled {
		t.Errorf("Ready reason %s, want %s", c.Reason, iapv1alpha1.ReasonReconciled)
	}
	if w.cloudRun().GetIapEnabled() {
		t.Error("IAP still on after the namespace allowed a public service")
	}
	if !iampolicy.HasMember(w.servicePolicy(), invoker, "allUsers") {
		t.Error("publicAccess Allow, but allUsers lost roles/run.invoker")
	}
	expectKstatus(t, got, status.CurrentStatus)
}

// A condition that does not compile writes no access binding, but the lockdown still runs: IAP
// goes on and nothing else is written.
func TestStalled_InvalidCondition_WritesNoAccessWhenThereIsNothingToRevoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ps := w.object("badcel", group("devs", "user:alice@acme.com"))
	ps.Spec.AccessGroups[0].Context = &iapv1alpha1.AccessContext{Expression: "request.time <"}
	w.create(ps)
	w.expectStalled("badcel", iapv1alpha1.ReasonInvalidCondition, `"devs"`)
	w.editStaysStalled("badcel", iapv1alpha1.ReasonInvalidCondition, `"devs"`)
	if writes := w.writes(); !slices.Equal(writes, []string{"run.UpdateService"}) {
		t.Errorf("Google writes for an object whose condition does not compile = %v, want only IAP switched on (nothing to revoke)", writes)
	}
	if !w.cloudRun().GetIapEnabled() {
		t.Error("IAP is off although the object declares it on: a stall must not skip the lockdown")
	}
}

// Foreign members count towards IAM's 1,500-principal limit: 1,495 of them plus 6 declared is
// one too many, and the controller says so instead of sending a write Google would refuse.
func TestStalled_PolicyTooLarge_CountsForeignMembers(t *testing.T) {
	t.Parallel()
	var foreign []string
	for i := range 1495 {
		foreign = append(foreign, fmt.Sprintf("user:member-%04d@partner.example", i))
	}
	w := newWorld(t, withService(func(s *gcpfake.Service) {
		s.IAPPolicy = &iampb.Policy{Bindings: []*iampb.Binding{{Role: accessor, Members: foreign}}}
	}))
	w.create(w.object("huge", group("devs", "user:alice@acme.com", "user:bob@acme.com", "user:dave@acme.com",
		"user:mallory@acme.com", "user:cfo@acme.com", "group:auditors@acme.com")))
	w.expectStalled("huge", iapv1alpha1.ReasonPolicyTooLarge, "1501", w.iapTarget)
	w.editStaysStalled("huge", iapv1alpha1.ReasonPolicyTooLarge, "1502", w.iapTarget)
	for _, c := range w.serviceCalls() {
		if c.Method == "iap.SetIamPolicy" {
			t.Errorf("sent an IAP policy write that exceeds IAM's limit (code %s)", gcpfake.CodeName(c.Code))
		}
	}
	if n := len(w.iapPolicy().GetBindings()); n != 1 {
		t.Errorf("IAP policy has %d bindings, want the foreign one only", n)
	}
}

var iapPermission = regexp.MustCompile(`iap\.webServices\.[a-zA-Z]+`)

func TestStalled_PermissionDenied_NamesThePermission(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	addFault(t, gcpfake.FaultRule{Method: "iap.GetIamPolicy", Resource: w.iapTarget, Code: codes.PermissionDenied})
	w.create(w.object("denied", group("devs", "user:alice@acme.com")))
	ps := w.expectStalled("denied", iapv1alpha1.ReasonPermissionDenied)
	if !iapPermission.MatchString(stalledMessage(ps)) {
		t.Errorf("message names no IAP permission: %q", stalledMessage(ps))
	}
	w.editStaysStalled("denied", iapv1alpha1.ReasonPermissionDenied)
	if w.cloudRun().GetIapEnabled() {
		t.Error("IAP was switched on although access could not be bound")
	}
}

// IAP answers a denied read with only "The caller does not have permission" (no ErrorInfo), so
// the permission in the message is runguard's own choice: it must be the one the failed call
// needs (iap.webServices.getIamPolicy), and the message must name the resource it was denied on.
func TestStalled_PermissionDenied_OnAReadNamesTheReadPermissionAndTheResource(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	addFault(t, gcpfake.FaultRule{Method: "iap.GetIamPolicy", Resource: w.iapTarget, Code: codes.PermissionDenied})
	w.create(w.object("readdenied", group("devs", "user:alice@acme.com")))
	w.expectStalled("readdenied", iapv1alpha1.ReasonPermissionDenied, "iap.webServices.getIamPolicy", w.iapTarget)
}

// A project Resource Manager does not show runguard: PERMISSION_DENIED with ErrorInfo naming
// resourcemanager.projects.get.
func TestStalled_PermissionDenied_UnknownProject(t *testing.T) {
	t.Parallel()
	unknown := fmt.Sprintf("unknown-%d-prj", names.Add(1))
	w := newWorld(t, withAnnotation(iapv1alpha1.AnnotationAllowedProjects, unknown))
	ps := w.object("nowhere", group("devs", "user:alice@acme.com"))
	ps.Spec.Service.Project = unknown
	w.create(ps)
	w.expectStalled("nowhere", iapv1alpha1.ReasonPermissionDenied, "resourcemanager.projects.get", unknown)
	w.editStaysStalled("nowhere", iapv1alpha1.ReasonPermissionDenied, "resourcemanager.projects.get")
}

func TestStalled_APIDisabled_SaysHowToEnableIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.Project = "iap-off-project" }))
	ps := w.object("noiap", group("devs", "user:alice@acme.com"))
	ps.Spec.Service.Project = "iap-off-project"
	w.create(ps)
	w.expectStalled("noiap", iapv1alpha1.ReasonAPIDisabled, "gcloud services enable iap.googleapis.com --project=iap-off-project")
	w.editStaysStalled("noiap", iapv1alpha1.ReasonAPIDisabled, "gcloud services enable iap.googleapis.com --project=iap-off-project")
	if w.cloudRun().GetIapEnabled() {
		t.Error("IAP was switched on although its API is disabled")
	}
}

func TestStalled_IAPServiceAgentMissing_GivesTheCreateCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.Project = "no-agent-project" }))
	ps := w.object("noagent", group("devs", "user:alice@acme.com"))
	ps.Spec.Service.Project = "no-agent-project"
	w.create(ps)
	cmd := "gcloud beta services identity create --service=iap.googleapis.com --project=no-agent-project"
	w.expectStalled("noagent", iapv1alpha1.ReasonIAPServiceAgentMissing, cmd, "service-333333333333@gcp-sa-iap.iam.gserviceaccount.com")
	w.editStaysStalled("noagent", iapv1alpha1.ReasonIAPServiceAgentMissing, cmd)
	for _, c := range w.serviceCalls() {
		if c.Method == "iap.SetIamPolicy" {
			t.Errorf("bound access although IAP cannot reach the service: %s", c.Method)
		}
	}
	// The lockdown does not wait for the agent: IAP goes on, and the service fails closed.
	eventually(t, 30*time.Second, "IAP on", func() error {
		if !w.cloudRun().GetIapEnabled() {
			return errNotYet
		}
		return nil
	})
}

// A problem that needs a human must not keep revoked access alive: removing one group while
// breaking another still removes the first.
func TestStalled_InvalidConditionStillAppliesRemovals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("mixed", group("devs", "user:alice@acme.com"), group("ops", "user:bob@acme.com")))
	w.waitReady("mixed")
	w.update("mixed", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups = ps.Spec.AccessGroups[:1]
		ps.Spec.AccessGroups[0].Context = &iapv1alpha1.AccessContext{Expression: "request.time <"}
	})
	w.expectStalled("mixed", iapv1alpha1.ReasonInvalidCondition, `"devs"`, "only removals were applied")
	b := bindingsOf(w.iapPolicy())
	if _, ok := b[accessor+"|runguard:ops"]; ok {
		t.Errorf("the removed group kept access while the object is stalled: %v", b)
	}
	if !slices.Equal(b[accessor+"|runguard:devs"], []string{"user:alice@acme.com"}) {
		t.Errorf("the stalled group's existing binding changed: %v", b)
	}
}
