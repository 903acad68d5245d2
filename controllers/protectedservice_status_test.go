package controllers

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/reach"
)

func googleErr(code codes.Code, msg, permission string, details ...*errdetails.ErrorInfo) error {
	st := status.New(code, msg)
	for _, d := range details {
		st, _ = st.WithDetails(d)
	}
	return &gcp.CallError{Op: "write the IAP access policy of", Resource: "projects/1/iap_web/cloud_run-r/services/s", Permission: permission, Err: st.Err()}
}

// statusRow is one pass: its facts and outcome, and what the object's conditions must say.
type statusRow struct {
	name     string
	iapOn    bool
	observe  bool
	settings *iapv1alpha1.IAPSettings
	facts    func(*facts)
	shown    *outcome
	// want maps a condition type to "Status/Reason", and mentions lists words the Ready
	// message must contain.
	want     map[string]string
	mentions []string
}

func fullFacts(f *facts) {
	f.invoker.reason = iapv1alpha1.ReasonGranted
	f.access.reason = iapv1alpha1.ReasonBound
	f.iap.reason = iapv1alpha1.ReasonEnabled
	f.public.reason = iapv1alpha1.ReasonRevoked
}

func statusRows() []statusRow {
	stalledAs := func(reason string) map[string]string {
		return map[string]string{"Stalled": "True/" + reason, "Ready": "False/" + reason, "Reconciling": "False/" + reason}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	lockedDown := func(f *facts) {
		f.iap.reason = iapv1alpha1.ReasonEnabled
		f.public.reason = iapv1alpha1.ReasonRevoked
	}
	return []statusRow{
		{name: "paused", iapOn: true, facts: func(f *facts) { f.paused = true },
			// Ready keeps the last pass's word (here none).
			want: map[string]string{"Paused": "True/Paused", "Reconciling": "False/Paused", "Stalled": "False/Paused"}},
		{name: "ready behind IAP", iapOn: true, facts: fullFacts,
			want: map[string]string{"Ready": "True/Protected", "Stalled": "False/Protected", "Reconciling": "False/Protected",
				"InvokerGranted": "True/Granted", "AccessBound": "True/Bound", "IAPEnabled": "True/Enabled", "PublicAccessRevoked": "True/Revoked"},
			mentions: []string{"behind IAP"}},
		{name: "observing, Google matches", iapOn: true, observe: true,
			want:     map[string]string{"Ready": "True/Observing", "InSync": "True/Matches", "Stalled": "False/Observing", "Reconciling": "False/Observing"},
			mentions: []string{"nothing is written", "0 changes pending"}},
		{name: "observing, changes pending", iapOn: true, observe: true, facts: func(f *facts) {
			f.writes = []googleWrite{{kind: writeBindAccess, resource: "projects/123/iap_web/cloud_run-us-central1/services/web", added: []iampolicy.Tuple{{Role: iampolicy.AccessorRole, Member: "user:alice@acme.com", ConditionTitle: "runguard:devs"}}, removed: []iampolicy.Tuple{{Role: iampolicy.AccessorRole, Member: "user:old@acme.com"}}},
				{kind: writeEnableIAP, resource: "projects/acme-prod/locations/us-central1/services/web"}}
		}, want: map[string]string{"Ready": "True/Observing", "InSync": "False/ChangesPending", "AccessBound": ""},
			mentions: []string{"3 changes pending"}},
		{name: "ready with IAP settings", iapOn: true, settings: declaredSettings, facts: func(f *facts) {
			fullFacts(f)
			f.settings = settingsFact{reason: iapv1alpha1.ReasonApplied, managed: []string{"reauthentication"}}
		}, want: map[string]string{"Ready": "True/Protected", "SettingsApplied": "True/Applied"}},
		{name: "IAP settings rejected by Google", iapOn: true, settings: declaredSettings, facts: func(f *facts) {
			fullFacts(f)
			f.unverified = []string{iapv1alpha1.ConditionSettingsApplied}
		}, shown: googleFailure(googleErr(codes.InvalidArgument, "Invalid IAP settings: max_age must be at least 300 seconds.", "")),
			want:     with(stalledAs("RequestRejected"), "SettingsApplied", "Unknown/RequestRejected", "AccessBound", "True/Bound"),
			mentions: []string{"at least 300 seconds"}},
		{name: "ready with IAP off and public access allowed", facts: func(f *facts) {
			fullFacts(f)
			f.iap.reason, f.public.reason = iapv1alpha1.ReasonDisabled, iapv1alpha1.ReasonPublicAccessAllowed
			f.invoker.reason = iapv1alpha1.ReasonNotNeeded
		}, want: map[string]string{"Ready": "True/Reconciled", "IAPEnabled": "False/Disabled", "PublicAccessAllowed": "", "PublicAccessRevoked": "False/PublicAccessAllowed",
			"InvokerGranted": "False/NotNeeded"},
			mentions: []string{"IAP is off"}},
		{name: "project not allowed: nothing evaluated", iapOn: true, shown: stall(iapv1alpha1.ReasonProjectNotAllowed, nil),
			want:     with(stalledAs("ProjectNotAllowed"), "AccessBound", "Unknown/ProjectNotAllowed", "IAPEnabled", "Unknown/ProjectNotAllowed"),
			mentions: []string{"tenant-a", iapv1alpha1.AnnotationAllowedProjects, "acme-prod/us-central1/web"}},
		{name: "claimed by another object", iapOn: true, facts: func(f *facts) { f.claimedBy = "team-b/web" },
			shown: stall(iapv1alpha1.ReasonServiceClaimed, nil), want: stalledAs("ServiceClaimed"), mentions: []string{"team-b/web", "nothing was written"}},
		{name: "claimed by another owner's markers", iapOn: true, facts: func(f *facts) {
			f.otherOwner = &iampolicy.Marker{Owner: iampolicy.Owner{Cluster: "east", Namespace: "n", Name: "x"}, Group: "g"}
		}, shown: stall(iapv1alpha1.ReasonServiceClaimed, nil), want: stalledAs("ServiceClaimed"), mentions: []string{"cluster east", "n/x"}},
		{name: "member not allowed, lockdown ran", iapOn: true, facts: func(f *facts) {
			lockedDown(f)
			f.disallowed = []string{"user:eve@evil.example"}
			f.access.reason = iapv1alpha1.ReasonMemberNotAllowed
		}, shown: stall(iapv1alpha1.ReasonMemberNotAllowed, nil),
			want: with(stalledAs("MemberNotAllowed"), "AccessBound", "False/MemberNotAllowed", "IAPEnabled", "True/Enabled",
				"PublicAccessRevoked", "True/Revoked", "InvokerGranted", "Unknown/MemberNotAllowed"),
			mentions: []string{"user:eve@evil.example", "Only removals were applied"}},
		{name: "invalid condition", iapOn: true, facts: func(f *facts) { lockedDown(f); f.access.reason = iapv1alpha1.ReasonInvalidCondition },
			shown: stall(iapv1alpha1.ReasonInvalidCondition, &iampolicy.InvalidConditionError{Group: "devs", Reason: "does not parse"}),
			want:  with(stalledAs("InvalidCondition"), "AccessBound", "False/InvalidCondition"), mentions: []string{`"devs"`, "only removals were applied"}},
		{name: "access level not found", iapOn: true, facts: func(f *facts) {
			lockedDown(f)
			f.access.reason = iapv1alpha1.ReasonAccessLevelNotFound
			f.levels.missing = "accessPolicies/1/accessLevels/typo"
		},
			shown: stall(iapv1alpha1.ReasonAccessLevelNotFound, nil),
			want:  with(stalledAs("AccessLevelNotFound"), "AccessBound", "False/AccessLevelNotFound"), mentions: []string{"accessPolicies/1/accessLevels/typo", "only removals were applied"}},
		{name: "access test failed", iapOn: true, facts: func(f *facts) {
			lockedDown(f)
			f.tests = []testResult{{name: "oncall-in", expect: iapv1alpha1.TestAllow, answer: reach.Answer{Verdict: reach.Deny, Failed: "no binding names user:oncall@acme.com"}}}
		},
			shown: stall(iapv1alpha1.ReasonAccessTestFailed, nil),
			want:  with(stalledAs("AccessTestFailed"), "AccessBound", "Unknown/AccessTestFailed"), mentions: []string{"oncall-in expects Allow, got DENY", "user:oncall@acme.com"}},
		{name: "inherited access denied", iapOn: true, facts: func(f *facts) {
			fullFacts(f)
			f.inherited = inheritedFact{read: true, bindings: []reach.Binding{{Where: reach.Where{Kind: reach.Project, Resource: "projects/123"},
				Role: "roles/iap.httpsResourceAccessor", Members: []string{"user:eve@acme.com"}}}}
		},
			shown: stall(iapv1alpha1.ReasonInheritedAccessFound, nil),
			want:  with(stalledAs("InheritedAccessFound"), "InheritedAccess", "True/InheritedAccessFound"), mentions: []string{"user:eve@acme.com", "projects/123"}},
		{name: "inherited access denied but unreadable", iapOn: true, facts: func(f *facts) {
			fullFacts(f)
			f.inherited = inheritedFact{unreadable: &missingPermission{permission: "resourcemanager.folders.getIamPolicy", resource: "folders/300"}}
		},
			shown: stall(iapv1alpha1.ReasonPermissionDenied, &gcp.CallError{Op: "read", Resource: "folders/300", Permission: "resourcemanager.folders.getIamPolicy",
				Err: status.Error(codes.PermissionDenied, "denied")}),
			want:     with(stalledAs("PermissionDenied"), "InheritedAccess", "Unknown/PermissionDenied"),
			mentions: []string{"resourcemanager.folders.getIamPolicy", "folders/300"}},
		{name: "no inherited access", iapOn: true, facts: func(f *facts) { fullFacts(f); f.inherited = inheritedFact{read: true} },
			want: map[string]string{"Ready": "True/Protected", "InheritedAccess": "False/NoInheritedAccess"}},
		{name: "access level not ready", iapOn: true, facts: func(f *facts) { f.levels.notReady = "corp-network" },
			shown: wait(iapv1alpha1.ReasonAccessLevelNotReady, 0),
			want: map[string]string{"Reconciling": "True/AccessLevelNotReady", "Stalled": "False/Progressing", "Ready": "False/AccessLevelNotReady",
				"AccessBound": "Unknown/AccessLevelNotReady"}, mentions: []string{"corp-network"}},
		{name: "policy too large", iapOn: true, facts: func(f *facts) { lockedDown(f); f.access.reason = iapv1alpha1.ReasonPolicyTooLarge },
			shown: stall(iapv1alpha1.ReasonPolicyTooLarge, &iampolicy.PolicyTooLargeError{Reason: "1501 principals"}),
			want:  with(stalledAs("PolicyTooLarge"), "AccessBound", "False/PolicyTooLarge"), mentions: []string{"1501"}},
		{name: "IAP agent missing", iapOn: true, facts: func(f *facts) { lockedDown(f); f.invoker.reason = iapv1alpha1.ReasonIAPServiceAgentMissing },
			shown:    stall(iapv1alpha1.ReasonIAPServiceAgentMissing, nil),
			want:     with(stalledAs("IAPServiceAgentMissing"), "InvokerGranted", "False/IAPServiceAgentMissing"),
			mentions: []string{"gcloud beta services identity create --service=iap.googleapis.com --project=acme-prod"}},
		{name: "member rejected", iapOn: true, facts: func(f *facts) {
			lockedDown(f)
			f.invoker.reason = iapv1alpha1.ReasonGranted
			f.access = accessFact{reason: iapv1alpha1.ReasonMemberRejected, rejected: []string{"user:ghost@acme.com"},
				rejection: googleErr(codes.InvalidArgument, "User user:ghost@acme.com does not exist.", "")}
		}, shown: stall(iapv1alpha1.ReasonMemberRejected, nil),
			want: with(stalledAs("MemberRejected"), "AccessBound", "False/MemberRejected"), mentions: []string{"user:ghost@acme.com", "Everyone else is bound"}},
		{name: "would expose the service", facts: func(f *facts) { f.exposure = &exposure{member: "allUsers"} },
			shown: stall(iapv1alpha1.ReasonWouldExposeService, nil), want: stalledAs("WouldExposeService"), mentions: []string{iapv1alpha1.AnnotationAllowPublic, "allUsers"}},
		{name: "permission denied", iapOn: true, shown: googleFailure(googleErr(codes.PermissionDenied, "The caller does not have permission", "iap.webServices.setIamPolicy")),
			want: stalledAs("PermissionDenied"), mentions: []string{"iap.webServices.setIamPolicy", "docs/install.md"}},
		{name: "permissions missing in the preflight", iapOn: true, facts: func(f *facts) {
			f.missingPermissions = []missingPermission{{"run.services.setIamPolicy", "projects/acme-prod/locations/us-central1/services/web"}, {"iap.webServices.setIamPolicy", "projects/123/iap_web/cloud_run-us-central1/services/web"}}
		}, shown: stall(iapv1alpha1.ReasonPermissionDenied, nil),
			want: stalledAs("PermissionDenied"), mentions: []string{"run.services.setIamPolicy on projects/acme-prod", "iap.webServices.setIamPolicy on projects/123", "nothing was written"}},
		{name: "namespace identity required", iapOn: true, shown: stall(iapv1alpha1.ReasonNamespaceIdentityRequired, nil),
			want: stalledAs("NamespaceIdentityRequired"), mentions: []string{iapv1alpha1.AnnotationGoogleServiceAccount, "tenant-a", "nothing was called"}},
		{name: "namespace identity unusable", iapOn: true, facts: func(f *facts) { f.identity = "tenant-a@ops.iam.gserviceaccount.com" },
			shown: stall(iapv1alpha1.ReasonNamespaceIdentityUnusable, &gcp.ImpersonationError{ServiceAccount: "tenant-a@ops.iam.gserviceaccount.com",
				Err: status.Error(codes.PermissionDenied, "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")}),
			want: stalledAs("NamespaceIdentityUnusable"), mentions: []string{"tenant-a@ops.iam.gserviceaccount.com", "iam.serviceAccounts.getAccessToken", "roles/iam.serviceAccountTokenCreator"}},
		{name: "permission denied to the namespace's identity", iapOn: true, facts: func(f *facts) { f.identity = "tenant-a@ops.iam.gserviceaccount.com" },
			shown: googleFailure(googleErr(codes.PermissionDenied, "denied", "run.services.get")),
			want:  stalledAs("PermissionDenied"), mentions: []string{"Google service account tenant-a@ops.iam.gserviceaccount.com", "run.services.get"}},
		{name: "unknown project", iapOn: true, shown: googleFailure(googleErr(codes.PermissionDenied, "denied", "resourcemanager.projects.get")),
			want: stalledAs("PermissionDenied"), mentions: []string{"Project acme-prod does not exist"}},
		{name: "API disabled", iapOn: true, shown: googleFailure(googleErr(codes.PermissionDenied, "IAP API has not been used", "",
			&errdetails.ErrorInfo{Reason: "SERVICE_DISABLED", Metadata: map[string]string{"service": "iap.googleapis.com"}})),
			want: stalledAs("APIDisabled"), mentions: []string{"gcloud services enable iap.googleapis.com --project=acme-prod"}},
		{name: "unauthenticated", iapOn: true, shown: googleFailure(googleErr(codes.Unauthenticated, "bad token", "")),
			want: stalledAs("Unauthenticated"), mentions: []string{"Workload Identity"}},
		{name: "request rejected", iapOn: true, shown: googleFailure(googleErr(codes.FailedPrecondition, "IAP is configured on a load balancer", "")),
			want: stalledAs("RequestRejected"), mentions: []string{"load balancer"}},
		{name: "service not found", iapOn: true, shown: wait(iapv1alpha1.ReasonServiceNotFound, 0),
			want:     map[string]string{"Reconciling": "True/ServiceNotFound", "Stalled": "False/Progressing", "Ready": "False/ServiceNotFound", "AccessBound": "Unknown/ServiceNotFound"},
			mentions: []string{"does not exist (yet)"}},
		{name: "rolling out", iapOn: true, facts: func(f *facts) {
			fullFacts(f)
			f.iap = iapFact{reason: iapv1alpha1.ReasonRollingOut, on: true}
		}, shown: wait(iapv1alpha1.ReasonRollingOut, 0), want: map[string]string{"Reconciling": "True/RollingOut", "IAPEnabled": "False/RollingOut"},
			mentions: []string{"Switching IAP on"}},
		{name: "IAP rollout failed", iapOn: true, facts: func(f *facts) {
			fullFacts(f)
			f.iap = iapFact{reason: iapv1alpha1.ReasonRolloutFailed, on: true, failedRollout: "Revision 'web-2' is not ready."}
		}, shown: stall(iapv1alpha1.ReasonRolloutFailed, nil),
			want:     with(stalledAs("RolloutFailed"), "IAPEnabled", "False/RolloutFailed"),
			mentions: []string{"Revision 'web-2' is not ready", "switch IAP on", "deploy again"}},
		{name: "IAP agent propagating", iapOn: true, facts: func(f *facts) {
			lockedDown(f)
			f.invoker.reason, f.agentWindow = iapv1alpha1.ReasonIAPServiceAgentPropagating, 3*time.Minute
		}, shown: wait(iapv1alpha1.ReasonIAPServiceAgentPropagating, 15*time.Second),
			want:     map[string]string{"Reconciling": "True/IAPServiceAgentPropagating", "Stalled": "False/Progressing", "InvokerGranted": "False/IAPServiceAgentPropagating"},
			mentions: []string{"does not accept it yet", "3m0s"}},
		{name: "revocation propagating", facts: func(f *facts) {
			fullFacts(f)
			f.iap = iapFact{reason: iapv1alpha1.ReasonRevocationPropagating, remaining: 90 * time.Second}
		}, shown: wait(iapv1alpha1.ReasonRevocationPropagating, 90*time.Second),
			want: map[string]string{"Reconciling": "True/RevocationPropagating", "IAPEnabled": "True/RevocationPropagating"}, mentions: []string{"1m30s"}},
		{name: "throttled by runguard's own pace", iapOn: true, shown: googleFailure(&gcp.CallError{Op: "write", Resource: "r",
			Err: &gcp.ThrottledError{Limit: "run write acme-prod/us-central1", After: 3 * time.Second}}),
			want:     map[string]string{"Reconciling": "True/Throttled", "Stalled": "False/Retrying", "Ready": "False/Throttled"},
			mentions: []string{"resumes when its call is due", "Nothing is wrong"}},
		{name: "transient", iapOn: true, shown: googleFailure(googleErr(codes.Unavailable, "try again", "")),
			want:     map[string]string{"Reconciling": "True/Retrying", "Stalled": "False/Retrying", "Ready": "False/Retrying", "AccessBound": "Unknown/Retrying"},
			mentions: []string{"try again"}},
	}
}

func TestApplyStatus_EveryConditionFromFactsAndOutcome(t *testing.T) {
	for _, row := range statusRows() {
		t.Run(row.name, func(t *testing.T) {
			ps, f := statusFixture(row)
			applyStatus(ps, f, row.shown)
			for typ, want := range row.want {
				if want == "" {
					continue
				}
				c := meta.FindStatusCondition(ps.Status.Conditions, typ)
				if c == nil {
					t.Errorf("no %s condition", typ)
					continue
				}
				if got := string(c.Status) + "/" + c.Reason; got != want {
					t.Errorf("%s = %s (%s), want %s", typ, got, c.Message, want)
				}
				if c.ObservedGeneration != ps.Generation {
					t.Errorf("%s.observedGeneration = %d, want %d", typ, c.ObservedGeneration, ps.Generation)
				}
			}
			ready := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady)
			for _, m := range row.mentions {
				if ready == nil || !strings.Contains(ready.Message, m) {
					t.Errorf("Ready message does not mention %q: %v", m, ready)
				}
			}
			retrying := row.shown != nil && row.shown.kind == retrying
			if observed := ps.Status.ObservedGeneration == ps.Generation; observed == retrying {
				t.Errorf("observedGeneration %d at generation %d; a transient failure must leave it, anything else set it", ps.Status.ObservedGeneration, ps.Generation)
			}
		})
	}
}

// A condition from an older generation never survives a pass: it is re-evaluated or Unknown.
func TestApplyStatus_StaleConditionsBecomeUnknown(t *testing.T) {
	ps, f := statusFixture(statusRow{iapOn: true})
	ps.Generation = 3
	ps.Status.Conditions = []metav1.Condition{{Type: iapv1alpha1.ConditionAccessBound, Status: metav1.ConditionTrue, Reason: iapv1alpha1.ReasonBound, ObservedGeneration: 2}}
	f.iap.reason, f.public.reason, f.invoker.reason = iapv1alpha1.ReasonEnabled, iapv1alpha1.ReasonRevoked, iapv1alpha1.ReasonGranted
	applyStatus(ps, f, googleFailure(googleErr(codes.Unavailable, "try again", "")))
	c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionAccessBound)
	if c.Status != metav1.ConditionUnknown || c.ObservedGeneration != 3 {
		t.Errorf("AccessBound = %s gen %d, want Unknown for generation 3", c.Status, c.ObservedGeneration)
	}
}

// Every reason declared in api/v1alpha1/conditions.go appears in the table, so a new reason
// cannot be added without saying what status it produces.
func TestApplyStatus_TableCoversEveryReason(t *testing.T) {
	seen := map[string]bool{iapv1alpha1.ReasonPending: true}
	for _, row := range statusRows() {
		ps, f := statusFixture(row)
		applyStatus(ps, f, row.shown)
		for _, c := range ps.Status.Conditions {
			seen[c.Reason] = true
		}
	}
	for _, row := range levelStatusRows() {
		s := row.scope()
		applyLevelStatus(s, row.shown)
		for _, c := range s.al.Status.Conditions {
			seen[c.Reason] = true
		}
	}
	ps, f := statusFixture(statusRow{})
	f.deletion = &deletionFact{}
	applyStatus(ps, f, googleFailure(googleErr(codes.PermissionDenied, "denied", "run.services.get")))
	for _, c := range ps.Status.Conditions {
		seen[c.Reason] = true
	}
	for _, row := range grantRows() {
		in := decideGrantFixture(row.change)
		applyGrantStatus(in.grant, decideGrant(in), in.ps)
		for _, c := range in.grant.Status.Conditions {
			seen[c.Reason] = true
		}
	}
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "api", "v1alpha1", "conditions.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if !strings.HasPrefix(vs.Names[0].Name, "Reason") {
				continue
			}
			reason, _ := strconv.Unquote(vs.Values[0].(*ast.BasicLit).Value)
			if !seen[reason] {
				t.Errorf("reason %s never appears in the status table", reason)
			}
		}
	}
}

func TestApplyStatus_DeletionThatCannotReadGoogleSaysWhatToDo(t *testing.T) {
	ps, f := statusFixture(statusRow{iapOn: true})
	f.deletion = &deletionFact{}
	applyStatus(ps, f, googleFailure(googleErr(codes.PermissionDenied, "denied", "run.services.get")))
	c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionDeleting)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != iapv1alpha1.ReasonPermissionDenied {
		t.Fatalf("Deleting = %v", c)
	}
	for _, m := range []string{"run.services.get", "deletionPolicy: Abandon"} {
		if !strings.Contains(c.Message, m) {
			t.Errorf("Deleting message does not mention %q: %q", m, c.Message)
		}
	}
	if ready := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady); ready.Reason != iapv1alpha1.ReasonDeleting {
		t.Errorf("Ready reason = %s, want Deleting", ready.Reason)
	}
}

func TestWorst_StalledBeatsRetryingBeatsWaiting(t *testing.T) {
	w, r, s := wait(iapv1alpha1.ReasonRollingOut, 0), transient(errors.New("x")), stall(iapv1alpha1.ReasonInvalidCondition, nil)
	for _, tc := range []struct{ a, b, want *outcome }{
		{nil, nil, nil}, {w, nil, w}, {nil, r, r}, {w, r, r}, {r, w, r}, {s, r, s}, {r, s, s}, {s, w, s},
	} {
		if got := worst(tc.a, tc.b); got != tc.want {
			t.Errorf("worst(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

var declaredSettings = &iapv1alpha1.IAPSettings{Reauthentication: &iapv1alpha1.Reauthentication{
	Method: iapv1alpha1.ReauthLogin, MaxAge: metav1.Duration{Duration: time.Hour}}}

// Settings the spec stopped declaring are no longer reported on: the condition goes away.
func TestApplyStatus_NoSettingsDeclaredNoSettingsCondition(t *testing.T) {
	ps, f := statusFixture(statusRow{iapOn: true, facts: fullFacts})
	ps.Status.Conditions = []metav1.Condition{{Type: iapv1alpha1.ConditionSettingsApplied, Status: metav1.ConditionTrue, Reason: iapv1alpha1.ReasonApplied, ObservedGeneration: 1}}
	applyStatus(ps, f, nil)
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionSettingsApplied); c != nil {
		t.Errorf("SettingsApplied = %v, want no condition once the spec declares no settings", c)
	}
	if !meta.IsStatusConditionTrue(ps.Status.Conditions, iapv1alpha1.ConditionReady) {
		t.Errorf("not Ready: %v", ps.Status.Conditions)
	}
}

func statusFixture(row statusRow) (*iapv1alpha1.ProtectedService, *facts) {
	ps := &iapv1alpha1.ProtectedService{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-a", Name: "web", Generation: 2},
		Spec: iapv1alpha1.ProtectedServiceSpec{
			Service:      iapv1alpha1.ServiceRef{Project: "acme-prod", Location: "us-central1", Name: "web"},
			IAP:          iapv1alpha1.IAPSpec{Enabled: &row.iapOn, Settings: row.settings},
			Mode:         map[bool]iapv1alpha1.Mode{true: iapv1alpha1.ModeObserve, false: iapv1alpha1.ModeEnforce}[row.observe],
			AccessGroups: []iapv1alpha1.AccessGroup{{Name: "devs", Members: []iapv1alpha1.Member{"user:alice@acme.com"}}},
		},
	}
	f := &facts{
		now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), target: ps.Spec.Service, namespace: "tenant-a",
		annotations: map[string]string{iapv1alpha1.AnnotationAllowedProjects: "other-project"},
		resolved:    gcp.Service{Project: ps.Spec.Service.Project, Number: 123, Location: "us-central1", Name: ps.Spec.Service.Name},
	}
	if row.facts != nil {
		row.facts(f)
	}
	return ps, f
}

// A lockdown check that failed transiently must not leave an old True standing: the condition
// goes Unknown and a Ready object stops saying Ready.
func TestApplyStatus_AFailedLockdownCheckIsNotReportedAsHolding(t *testing.T) {
	ps, f := statusFixture(statusRow{iapOn: true})
	fullFacts(f)
	applyStatus(ps, f, nil)
	ps, f = ps.DeepCopy(), &facts{now: f.now, target: f.target, namespace: f.namespace, wasReady: true,
		resolved: f.resolved}
	f.invoker.reason, f.access.reason, f.iap.reason = iapv1alpha1.ReasonGranted, iapv1alpha1.ReasonBound, iapv1alpha1.ReasonEnabled
	f.unverified = []string{iapv1alpha1.ConditionPublicAccessRevoked}
	applyStatus(ps, f, googleFailure(googleErr(codes.Unavailable, "try again", "")))
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionPublicAccessRevoked); c.Status != metav1.ConditionUnknown {
		t.Errorf("PublicAccessRevoked = %s after its check failed, want Unknown", c.Status)
	}
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady); c.Status != metav1.ConditionFalse {
		t.Errorf("Ready = %s while the lockdown could not be checked, want False", c.Status)
	}
}

// A plan over a policy that another runguard owner has marked (a concurrent writer won the
// race between the gate's read and a re-read after ABORTED) is refused, not written.
func TestOwnAccessOnly_RefusesAPolicyAnotherOwnerMarked(t *testing.T) {
	mine := iampolicy.Owner{Cluster: "test", Namespace: "a", Name: "web"}
	theirs := iampolicy.Owner{Cluster: "east", Namespace: "a", Name: "web"}
	cond, err := iampolicy.CompileCondition(theirs, iampolicy.AccessGroup{Name: "devs", Members: []string{"user:bob@acme.com"}})
	if err != nil {
		t.Fatal(err)
	}
	policy := &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{{Role: iampolicy.AccessorRole, Members: []string{"user:bob@acme.com"}, Condition: cond}}}
	desired := iampolicy.Desired{Owner: mine, Mode: iampolicy.Exclusive, Groups: []iampolicy.AccessGroup{{Name: "devs", Members: []string{"user:alice@acme.com"}}}}
	_, err = ownAccessOnly(func(p *iampb.Policy) (iampolicy.Plan, error) { return iampolicy.PlanAccess(p, desired) })(policy)
	s := &scope{}
	if o := s.lostClaim(err); o == nil || o.reason != iapv1alpha1.ReasonServiceClaimed || s.facts.otherOwner.Owner != theirs {
		t.Fatalf("lostClaim(%v) = %v, other owner %v; want ServiceClaimed naming %v", err, o, s.facts.otherOwner, theirs)
	}
}

// A converged object's resync goes behind new work; a pass with work left does not.
func TestRequeuePriority_ResyncsWaitBehindWorkInProgress(t *testing.T) {
	if p := requeuePriority(nil); p == nil || *p != handler.LowPriority {
		t.Errorf("quiet resync priority = %v, want LowPriority", p)
	}
	stalledToo := stall(iapv1alpha1.ReasonMemberRejected, nil)
	for _, o := range []*outcome{wait(iapv1alpha1.ReasonRollingOut, 0), googleFailure(googleErr(codes.Unavailable, "later", ""))} {
		if p := requeuePriority([]*outcome{stalledToo, o}); p == nil || *p != 0 {
			t.Errorf("%s: priority %v, want 0 (ahead of resyncs, with edits)", o.reason, p)
		}
	}
	if p := requeuePriority([]*outcome{stalledToo}); p == nil || *p != handler.LowPriority {
		t.Errorf("a Stalled object's recheck has priority %v, want LowPriority", p)
	}
}

// Observe mode shows what Enforce would do, in its order, and no per-step condition.
func TestApplyStatus_ObserveListsThePlanAndNoStepConditions(t *testing.T) {
	ps, f := statusFixture(statusRow{iapOn: true, observe: true})
	ps.Status.Conditions = []metav1.Condition{{Type: iapv1alpha1.ConditionIAPEnabled, Status: metav1.ConditionTrue, Reason: iapv1alpha1.ReasonEnabled}}
	f.writes = []googleWrite{
		{kind: writeGrantInvoker, resource: "projects/acme-prod/locations/us-central1/services/web", added: []iampolicy.Tuple{{Role: iampolicy.InvokerRole, Member: "serviceAccount:service-123@gcp-sa-iap.iam.gserviceaccount.com"}}},
		{kind: writeBindAccess, resource: "projects/123/iap_web/cloud_run-us-central1/services/web", added: []iampolicy.Tuple{{Role: iampolicy.AccessorRole, Member: "group:sre@acme.com", ConditionTitle: "runguard:sre"}}, removed: []iampolicy.Tuple{{Role: iampolicy.AccessorRole, Member: "user:old@acme.com"}}},
		{kind: writeEnableIAP, resource: "projects/acme-prod/locations/us-central1/services/web"},
		{kind: writeRevokePublicAccess, resource: "projects/acme-prod/locations/us-central1/services/web", removed: []iampolicy.Tuple{{Role: iampolicy.InvokerRole, Member: "allUsers"}}},
	}
	applyStatus(ps, f, nil)
	want := []string{
		"grant roles/run.invoker on projects/acme-prod/locations/us-central1/services/web to IAP's service agent serviceAccount:service-123@gcp-sa-iap.iam.gserviceaccount.com",
		"grant roles/iap.httpsResourceAccessor to group:sre@acme.com (runguard:sre)",
		"remove user:old@acme.com (unconditional) from roles/iap.httpsResourceAccessor",
		"switch IAP on for projects/acme-prod/locations/us-central1/services/web",
		"revoke allUsers from roles/run.invoker on projects/acme-prod/locations/us-central1/services/web",
	}
	if !slices.Equal(ps.Status.PendingChanges, want) || ps.Status.PendingChangeCount != 5 {
		t.Errorf("pendingChanges = %q (%d), want %q", ps.Status.PendingChanges, ps.Status.PendingChangeCount, want)
	}
	if c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionIAPEnabled); c != nil {
		t.Errorf("a step condition is shown in Observe mode: %v", c)
	}
	// Back to Enforce: the plan and InSync go.
	ps.Spec.Mode = iapv1alpha1.ModeEnforce
	fullFacts(f)
	f.writes = nil
	applyStatus(ps, f, nil)
	if ps.Status.PendingChanges != nil || meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionInSync) != nil {
		t.Errorf("Enforce still shows the plan: %v, %v", ps.Status.PendingChanges, ps.Status.Conditions)
	}
}
