package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/testenv"
)

// The people of the grant tests: alice requests, bob approves, both with the RBAC a namespace
// gives its requesters and approvers; carol has none.
const (
	alice = "alice@acme.com"
	bob   = "bob@acme.com"
	carol = "carol@acme.com"
)

// grantWorld is a namespace with two ProtectedServices, ops-console with one access group
// (oncall) and billing-dashboard with two (analysts, finance), where alice and bob may read
// them and create and read AccessGrants and AccessGrantApprovals.
func grantWorld(t *testing.T, namespace string) *testenv.Env {
	t.Helper()
	env := apiServer(t)
	ctx := context.Background()
	ensureNamespace(t, env.Client, namespace, nil)
	group := func(name, member string) iapv1alpha1.AccessGroup {
		return iapv1alpha1.AccessGroup{Name: name, Members: []iapv1alpha1.Member{iapv1alpha1.Member(member)}}
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "grants"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{iapv1alpha1.GroupVersion.Group}, Resources: []string{"protectedservices"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{iapv1alpha1.GroupVersion.Group}, Resources: []string{"accessgrants", "accessgrantapprovals"}, Verbs: []string{"create", "get", "list"}},
	}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "grants"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "grants"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: alice}, {Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: bob}}}
	for _, o := range []client.Object{
		&iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "ops-console"}, Spec: iapv1alpha1.ProtectedServiceSpec{
			Service:      iapv1alpha1.ServiceRef{Project: "acme-prod", Location: "europe-west1", Name: "ops-console"},
			AccessGroups: []iapv1alpha1.AccessGroup{group("oncall", "group:oncall@acme.com")}}},
		&iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "billing-dashboard"}, Spec: iapv1alpha1.ProtectedServiceSpec{
			Service:      iapv1alpha1.ServiceRef{Project: "acme-prod", Location: "us-central1", Name: "billing-dashboard"},
			AccessGroups: []iapv1alpha1.AccessGroup{group("analysts", "group:analysts@acme.com"), group("finance", "group:finance@acme.com")}}},
		role, binding,
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// kubeconfigAs writes a kubeconfig for the envtest API server whose user impersonates user (the
// kubeconfig's "as", rest.Config.Impersonate): the API server then authenticates every request
// as that user, as it would the user's own credentials.
func kubeconfigAs(t *testing.T, env *testenv.Env, user string) string {
	t.Helper()
	path := writeKubeconfig(t, env)
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AuthInfos["admin"].Impersonate = user
	path = filepath.Join(t.TempDir(), "kubeconfig-"+user)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

var createdGrant = regexp.MustCompile(`accessgrant/(\S+) created`)

// request runs grant request as user and returns the grant it created.
func request(t *testing.T, env *testenv.Env, user, namespace string, args ...string) (*iapv1alpha1.AccessGrant, result) {
	t.Helper()
	r := runCLI(t, "", append([]string{"grant", "request", "--kubeconfig", kubeconfigAs(t, env, user), "-n", namespace}, args...)...)
	m := createdGrant.FindStringSubmatch(r.stdout)
	if r.code != exitOK || m == nil {
		return nil, r
	}
	var g iapv1alpha1.AccessGrant
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: m[1]}, &g); err != nil {
		t.Fatalf("grant request printed %s, which cannot be read: %v", m[1], err)
	}
	return &g, r
}

// grant request writes the caller's Kubernetes username as spec.requestedBy, takes the
// ProtectedService's only access group when it has one, names the grant after the service, and
// says what to do next.
func TestGrantRequest_AsTheCallerOnTheServicesOnlyGroup(t *testing.T) {
	env := grantWorld(t, "grant-request")
	g, r := request(t, env, alice, "grant-request", "ops-console", "--member", "user:alice@acme.com", "--for", "2h", "--reason", "INC-4711: outage")
	if g == nil {
		t.Fatalf("grant request exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if g.Spec.RequestedBy != alice || g.Spec.AccessGroup != "oncall" || g.Spec.ProtectedService != "ops-console" ||
		g.Spec.Duration.Duration != 2*time.Hour || g.Spec.Reason != "INC-4711: outage" || len(g.Spec.Members) != 1 || g.Spec.Members[0] != "user:alice@acme.com" {
		t.Errorf("grant request created %+v, want alice's request of group oncall of ops-console for 2h", g.Spec)
	}
	if !strings.HasPrefix(g.Name, "ops-console-") || len(g.Name) != len("ops-console-")+5 {
		t.Errorf("the grant is named %q, want ops-console- and 5 characters", g.Name)
	}
	if want := "runguard grant approve " + g.Name + " -n grant-request"; !strings.Contains(r.stdout, "ask an approver") || !strings.Contains(r.stdout, want) {
		t.Errorf("grant request does not say to ask an approver to run %q:\n%s", want, r.stdout)
	}

	// Every field the flags give, with a group named, and the name chosen.
	g, r = request(t, env, alice, "grant-request", "billing-dashboard", "--group", "analysts", "--name", "q4-audit",
		"--member", "user:alice@acme.com,user:dave@acme.com", "--for", "30m", "--starts-at", "2026-12-07T18:00:00Z",
		"--reason", "quarterly audit", "--path-prefix", "/reports/", "--host", "billing.acme.com")
	if g == nil {
		t.Fatalf("grant request exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if g.Name != "q4-audit" || g.Spec.RequestedBy != alice || g.Spec.AccessGroup != "analysts" || len(g.Spec.Members) != 2 ||
		g.Spec.StartsAt == nil || !g.Spec.StartsAt.Equal(&metav1.Time{Time: time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)}) ||
		g.Spec.Context == nil || len(g.Spec.Context.PathPrefixes) != 1 || g.Spec.Context.Hosts[0] != "billing.acme.com" {
		t.Errorf("grant request created %s %+v, want every flag in its spec", g.Name, g.Spec)
	}
}

// With several access groups and no --group, or a group the service does not have, nothing is
// created and the service's groups are listed.
func TestGrantRequest_GroupsAreListedWhenOneMustBeNamed(t *testing.T) {
	env := grantWorld(t, "grant-groups")
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"billing-dashboard"}, "ProtectedService grant-groups/billing-dashboard has 2 access groups: pass --group with one of analysts, finance"},
		{[]string{"billing-dashboard", "--group", "auditors"}, "ProtectedService grant-groups/billing-dashboard has no access group auditors; its groups: analysts, finance"},
		{[]string{"payroll"}, "no ProtectedService payroll in namespace grant-groups"},
		{[]string{"ops-console", "--break-glass", "--starts-at", "2026-12-07T18:00:00Z"}, "[break-glass starts-at] were all set"},
	} {
		g, r := request(t, env, alice, "grant-groups", append(tc.args, "--member", "user:alice@acme.com", "--for", "1h", "--reason", "r")...)
		if g != nil || r.code != exitError || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("grant request %v exited %d, want %d, no grant and %q:\n%s%s", tc.args, r.code, exitError, tc.says, r.stdout, r.stderr)
		}
	}
	var grants iapv1alpha1.AccessGrantList
	if err := env.Client.List(context.Background(), &grants, client.InNamespace("grant-groups")); err != nil || len(grants.Items) != 0 {
		t.Errorf("the refused requests left %d AccessGrants (%v)", len(grants.Items), err)
	}
}

// What the API server refuses, RBAC or the CRD's validation, is printed as it says it, with exit
// code 1.
func TestGrantRequest_APIServerRefusalsArePrintedAsTheyCome(t *testing.T) {
	env := grantWorld(t, "grant-refused")
	for _, tc := range []struct {
		user string
		args []string
		says []string
	}{
		// carol may not read the ProtectedService: --group is taken unchecked, and creating is refused.
		{carol, []string{"--group", "oncall", "--for", "1h"}, []string{
			"--group oncall is not checked",
			`accessgrants.iap.runguard.dev is forbidden: User "carol@acme.com" cannot create resource "accessgrants" in API group "iap.runguard.dev" in the namespace "grant-refused"`}},
		{alice, []string{"--for", "800h"}, []string{"between 1s and 720h (30 days); the namespace may allow less"}},
	} {
		g, r := request(t, env, tc.user, "grant-refused", append([]string{"ops-console", "--member", "user:alice@acme.com", "--reason", "r"}, tc.args...)...)
		if g != nil || r.code != exitError {
			t.Errorf("grant request as %s %v exited %d, want %d and no grant:\n%s%s", tc.user, tc.args, r.code, exitError, r.stdout, r.stderr)
		}
		for _, want := range tc.says {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("grant request as %s %v does not say %q:\n%s", tc.user, tc.args, want, r.stderr)
			}
		}
	}
}

// grant approve writes the caller's username as spec.approvedBy (here through kubectl's --as),
// Approve or Deny with the comment, and says what was decided.
func TestGrantApprove_AsTheCaller(t *testing.T) {
	env := grantWorld(t, "grant-approve")
	g, r := request(t, env, alice, "grant-approve", "ops-console", "--member", "user:alice@acme.com", "--for", "1h", "--reason", "INC-4711")
	if g == nil {
		t.Fatalf("grant request exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	admin := writeKubeconfig(t, env)
	for _, tc := range []struct {
		args     []string
		decision iapv1alpha1.ApprovalDecision
		comment  string
		says     string
	}{
		{nil, iapv1alpha1.DecisionApprove, "", bob + " approves grant " + g.Name + ` (user:alice@acme.com on group oncall of ProtectedService ops-console for 1h, requested by alice@acme.com: "INC-4711")`},
		{[]string{"--deny", "--comment", "not on call"}, iapv1alpha1.DecisionDeny, "not on call", bob + " denies grant " + g.Name},
	} {
		r := runCLI(t, "", append([]string{"grant", "approve", g.Name, "-n", "grant-approve", "--kubeconfig", admin, "--as", bob}, tc.args...)...)
		m := regexp.MustCompile(`accessgrantapproval/(\S+) created`).FindStringSubmatch(r.stdout)
		if r.code != exitOK || m == nil || !strings.Contains(r.stdout, tc.says) {
			t.Fatalf("grant approve %v exited %d, want %d and %q:\n%s%s", tc.args, r.code, exitOK, tc.says, r.stdout, r.stderr)
		}
		var a iapv1alpha1.AccessGrantApproval
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: "grant-approve", Name: m[1]}, &a); err != nil {
			t.Fatal(err)
		}
		if a.Spec != (iapv1alpha1.AccessGrantApprovalSpec{Grant: g.Name, ApprovedBy: bob, Decision: tc.decision, Comment: tc.comment}) || !strings.HasPrefix(a.Name, g.Name+"-") {
			t.Errorf("grant approve %v created %s %+v, want bob's %s of %s", tc.args, a.Name, a.Spec, tc.decision, g.Name)
		}
	}
	r = runCLI(t, "", "grant", "approve", "nope", "-n", "grant-approve", "--kubeconfig", admin, "--as", bob)
	if r.code != exitError || !strings.Contains(r.stderr, "no AccessGrant nope in namespace grant-approve") {
		t.Errorf("approving a grant that does not exist exited %d, want %d and the grant named:\n%s%s", r.code, exitError, r.stdout, r.stderr)
	}
}

// grant list shows each grant's service, group, members, phase, expiry (when and in how long),
// approvals and break-glass; SERVICE filters, -A adds the namespace, -o json is the objects.
func TestGrantList_ShowsPhaseExpiryAndApprovals(t *testing.T) {
	env := grantWorld(t, "grant-list")
	ctx := context.Background()
	expires := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	active, _ := request(t, env, alice, "grant-list", "ops-console", "--name", "oncall-now", "--member", "user:alice@acme.com", "--for", "1h", "--break-glass", "--reason", "INC-4712")
	pending, _ := request(t, env, alice, "grant-list", "billing-dashboard", "--name", "q4-audit", "--group", "finance", "--member", "user:alice@acme.com,user:dave@acme.com", "--for", "2h", "--reason", "audit")
	if active == nil || pending == nil {
		t.Fatal("grant request failed")
	}
	// As runguard would say it once bob approved.
	active.Status = iapv1alpha1.AccessGrantStatus{Phase: iapv1alpha1.GrantActive, ExpiresAt: &metav1.Time{Time: expires},
		Approvals: []iapv1alpha1.GrantDecision{{Approval: "oncall-now-abcde", By: bob, Decision: iapv1alpha1.DecisionApprove, At: metav1.Now()}}}
	if err := env.Client.Status().Update(ctx, active); err != nil {
		t.Fatal(err)
	}
	admin := writeKubeconfig(t, env)
	r := runCLI(t, "", "grant", "list", "-n", "grant-list", "--kubeconfig", admin)
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != exitOK || len(rows) != 3 {
		t.Fatalf("grant list exited %d, want %d and a header and 2 grants:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	for i, want := range [][]string{
		{"NAME", "SERVICE", "GROUP", "MEMBERS", "PHASE", "EXPIRES", "APPROVALS", "BREAK-GLASS"},
		{"oncall-now", "ops-console", "oncall", "user:alice@acme.com", "Active", expires.Format(time.RFC3339) + " (in 1h59m)", bob, "true"},
		{"q4-audit", "billing-dashboard", "finance", "user:alice@acme.com,user:dave@acme.com", "-", "false"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[i], w) {
				t.Errorf("line %d of grant list lacks %q: %s", i+1, w, rows[i])
			}
		}
	}
	r = runCLI(t, "", "grant", "list", "billing-dashboard", "-A", "--kubeconfig", admin)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "NAMESPACE") || !strings.Contains(r.stdout, "grant-list") ||
		!strings.Contains(r.stdout, "q4-audit") || strings.Contains(r.stdout, "oncall-now") {
		t.Errorf("grant list billing-dashboard -A exited %d, want the namespace column and only q4-audit:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "", "grant", "list", "ops-console", "-n", "grant-list", "-o", "json", "--kubeconfig", admin)
	var list iapv1alpha1.AccessGrantList
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != exitOK || list.Kind != "AccessGrantList" ||
		len(list.Items) != 1 || list.Items[0].Kind != "AccessGrant" || list.Items[0].Status.Phase != iapv1alpha1.GrantActive {
		t.Errorf("grant list -o json exited %d (%v), want the one Active AccessGrant of ops-console:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	r = runCLI(t, "", "grant", "list", "payroll", "-n", "grant-list", "--kubeconfig", admin)
	if r.code != exitOK || r.stdout != "No AccessGrants for ProtectedService payroll in namespace grant-list.\n" {
		t.Errorf("grant list of a service without grants exited %d with %q", r.code, r.stdout)
	}
}
