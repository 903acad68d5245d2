package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// namespaced builds an object of kind in the validation namespace from a spec written as YAML,
// with a fresh name.
func namespaced(t *testing.T, kind, specYAML string) *unstructured.Unstructured {
	t.Helper()
	var spec map[string]any
	if err := yaml.Unmarshal([]byte(specYAML), &spec); err != nil {
		t.Fatalf("bad test spec: %v", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion("iap.runguard.dev/v1alpha1")
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(fmt.Sprintf("%s-%d", strings.ToLower(kind), counter.Add(1)))
	return u
}

func accessGrant(t *testing.T, specYAML string) *unstructured.Unstructured {
	return namespaced(t, "AccessGrant", specYAML)
}

func accessGrantApproval(t *testing.T, specYAML string) *unstructured.Unstructured {
	return namespaced(t, "AccessGrantApproval", specYAML)
}

const grantRequest = `
protectedService: billing-dashboard
accessGroup: oncall
members: ["user:contractor@partner.example"]
duration: 2h
reason: INC-1234, payments failing
requestedBy: alice@acme.com
`

func TestAccessGrant_ValidManifestsAreAccepted(t *testing.T) {
	cases := map[string]string{
		"minimal": grantRequest,
		"every field": `
protectedService: billing-dashboard
accessGroup: oncall
members: ["user:contractor@partner.example", "group:sre@acme.com"]
context: {pathPrefixes: [/ops/debug/], hosts: [billing.acme.com]}
duration: 90m
startsAt: "2030-01-02T09:00:00Z"
reason: planned migration
requestedBy: alice@acme.com
`,
		"break-glass":           grantRequest + "breakGlass: true\n",
		"the shortest":          strings.Replace(grantRequest, "duration: 2h", "duration: 1s", 1),
		"the longest":           strings.Replace(grantRequest, "duration: 2h", "duration: 720h", 1),
		"in a Go client's form": strings.Replace(grantRequest, "duration: 2h", "duration: 2h30m0s", 1),
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			if err := k8s.Create(context.Background(), accessGrant(t, spec)); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

func TestAccessGrant_InvalidManifestsAreRejectedWithAClearMessage(t *testing.T) {
	with := func(from, to string) string { return strings.Replace(grantRequest, from, to, 1) }
	const durationBounds = "duration must be a duration such as 2h or 90m, between 1s and 720h (30 days); the namespace may allow less"
	cases := []struct{ name, spec, wantMessage string }{
		{"a zero duration", with("duration: 2h", "duration: 0s"), durationBounds},
		{"a negative duration", with("duration: 2h", "duration: -1h"), durationBounds},
		{"a duration over 30 days", with("duration: 2h", "duration: 721h"), durationBounds},
		{"a duration in words", with("duration: 2h", "duration: two hours"), `Invalid value: "two hours": ` + durationBounds},
		{"a duration too long to read", with("duration: 2h", "duration: 999999h999999h999999h"), durationBounds},
		{"break-glass with a start", grantRequest + "breakGlass: true\nstartsAt: \"2030-01-02T09:00:00Z\"\n", "a break-glass grant is active at once: leave startsAt out"},
		{"a member without a kind", with(`members: ["user:contractor@partner.example"]`, `members: ["contractor@partner.example"]`), "spec.members[0]"},
		{"allUsers as a member", with(`members: ["user:contractor@partner.example"]`, `members: [allUsers]`), "allUsers and allAuthenticatedUsers cannot be IAP members"},
		{"no members", with(`members: ["user:contractor@partner.example"]`, `members: []`), "spec.members"},
		{"21 members", with(`members: ["user:contractor@partner.example"]`, "members: ["+members(21)+"]"), "spec.members"},
		{"an access group with capitals", with("accessGroup: oncall", "accessGroup: OnCall"), "spec.accessGroup"},
		{"a path prefix without a slash", grantRequest + "context: {pathPrefixes: [ops/]}\n", "spec.context.pathPrefixes[0]"},
		{"no reason", with("reason: INC-1234, payments failing", `reason: ""`), "spec.reason"},
		{"no requester", with("requestedBy: alice@acme.com", `requestedBy: ""`), "spec.requestedBy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectRejected(t, k8s.Create(context.Background(), accessGrant(t, tc.spec)), tc.wantMessage)
		})
	}
}

func members(n int) string {
	var m []string
	for i := range n {
		m = append(m, fmt.Sprintf(`"user:m%d@acme.com"`, i))
	}
	return strings.Join(m, ", ")
}

// The name goes into the IAM condition's title, which Google limits.
func TestAccessGrant_NameOfAtMost63Characters(t *testing.T) {
	for _, n := range []int{63, 64} {
		u := accessGrant(t, grantRequest)
		u.SetName("g" + strings.Repeat("x", n-1))
		err := k8s.Create(context.Background(), u)
		if n == 63 && err != nil {
			t.Errorf("63 characters: rejected: %v", err)
		}
		if n == 64 {
			expectRejected(t, err, "an AccessGrant's name may be at most 63 characters: it is written into the IAM condition title")
		}
	}
}

func TestAccessGrant_SpecIsImmutable(t *testing.T) {
	ctx := context.Background()
	u := accessGrant(t, grantRequest)
	if err := k8s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(spec map[string]any){
		"a longer duration": func(spec map[string]any) { spec["duration"] = "8h" },
		"another member":    func(spec map[string]any) { spec["members"] = []any{"user:eve@evil.example"} },
		"break-glass added": func(spec map[string]any) { spec["breakGlass"] = true },
	} {
		t.Run(name, func(t *testing.T) {
			changed := &unstructured.Unstructured{}
			changed.SetGroupVersionKind(u.GroupVersionKind())
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), changed); err != nil {
				t.Fatal(err)
			}
			change(changed.Object["spec"].(map[string]any))
			expectRejected(t, k8s.Update(ctx, changed), "an AccessGrant cannot be changed once requested: delete it and request a new one")
		})
	}
	// Labels and status stay writable, and a typed client's full update (which writes 2h back as
	// 2h0m0s) is the same request.
	var g iapv1alpha1.AccessGrant
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), &g); err != nil {
		t.Fatal(err)
	}
	g.Annotations = map[string]string{"ticket": "INC-1234"}
	if err := k8s.Update(ctx, &g); err != nil {
		t.Errorf("a typed full update of an unchanged spec: %v", err)
	}
	patch := client.MergeFrom(g.DeepCopy())
	g.Labels = map[string]string{"incident": "inc-1234"}
	if err := k8s.Patch(ctx, &g, patch); err != nil {
		t.Errorf("labelling the grant: %v", err)
	}
	statusPatch := client.MergeFrom(g.DeepCopy())
	g.Status.Phase = iapv1alpha1.GrantPending
	if err := k8s.Status().Patch(ctx, &g, statusPatch); err != nil {
		t.Errorf("writing the grant's status: %v", err)
	}
}

const approvalSpec = "grant: deploy-fix\napprovedBy: bob@acme.com\ndecision: Approve\n"

func TestAccessGrantApproval_ValidAndInvalidManifests(t *testing.T) {
	for name, spec := range map[string]string{
		"an approval":          approvalSpec,
		"a deny with a reason": "grant: deploy-fix\napprovedBy: bob@acme.com\ndecision: Deny\ncomment: not during the freeze\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := k8s.Create(context.Background(), accessGrantApproval(t, spec)); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
	for _, tc := range []struct{ name, spec, wantMessage string }{
		{"an unknown decision", "grant: deploy-fix\napprovedBy: bob@acme.com\ndecision: Maybe\n", `supported values: "Approve", "Deny"`},
		{"a decision in lower case", "grant: deploy-fix\napprovedBy: bob@acme.com\ndecision: approve\n", `supported values: "Approve", "Deny"`},
		{"no decision", "grant: deploy-fix\napprovedBy: bob@acme.com\n", "spec.decision"},
		{"no grant", "grant: \"\"\napprovedBy: bob@acme.com\ndecision: Approve\n", "spec.grant"},
		{"a grant name no grant can have", "grant: g" + strings.Repeat("x", 63) + "\napprovedBy: bob@acme.com\ndecision: Approve\n", "spec.grant"},
		{"no approver", "grant: deploy-fix\napprovedBy: \"\"\ndecision: Approve\n", "spec.approvedBy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectRejected(t, k8s.Create(context.Background(), accessGrantApproval(t, tc.spec)), tc.wantMessage)
		})
	}
}

func TestAccessGrantApproval_SpecIsImmutable(t *testing.T) {
	ctx := context.Background()
	u := accessGrantApproval(t, approvalSpec)
	if err := k8s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*iapv1alpha1.AccessGrantApprovalSpec){
		"an approval turned into a deny": func(s *iapv1alpha1.AccessGrantApprovalSpec) { s.Decision = iapv1alpha1.DecisionDeny },
		"another grant":                  func(s *iapv1alpha1.AccessGrantApprovalSpec) { s.Grant = "other" },
		"a comment added":                func(s *iapv1alpha1.AccessGrantApprovalSpec) { s.Comment = "after the fact" },
	} {
		t.Run(name, func(t *testing.T) {
			var a iapv1alpha1.AccessGrantApproval
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), &a); err != nil {
				t.Fatal(err)
			}
			change(&a.Spec)
			expectRejected(t, k8s.Update(ctx, &a), "an approval cannot be changed once given: a Deny given later overrides an Approve")
		})
	}
}
