package admission

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/testenv"
)

const (
	grantsPolicy    = "access-grants"
	approvalsPolicy = "access-grant-approvals"

	// grantsNamespace allows grants of at most 4h, break-glass ones of at most 30m.
	grantsNamespace = "grants"

	// Users, bound to the shipped roles in every namespace of these tests.
	alice = "alice" // requester and approver
	bob   = "bob"   // requester and approver
	carol = "carol" // requester only
)

// installGrantPolicies applies the tenant roles and both grant policies, binds the users in
// grantsNamespace, and waits until the API server enforces both policies.
func installGrantPolicies(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, file := range []string{"accessgrant_requester_role.yaml", "accessgrant_approver_role.yaml"} {
		for _, o := range readObjects(t, filepath.Join(testenv.RepoRoot(), "config", "rbac", file)) {
			apply(t, o)
		}
	}
	tenantNamespace(t, grantsNamespace, map[string]string{
		iapv1alpha1.AnnotationMaxGrantDuration: "4h", iapv1alpha1.AnnotationMaxBreakGlassDuration: "30m"})
	for _, policy := range []string{grantsPolicy, approvalsPolicy} {
		for _, o := range policyObjects(t, policy) {
			apply(t, o)
		}
	}
	if err := as(t, alice).Create(ctx, grant(grantsNamespace, "probe", alice, "1h")); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "both grant policies refuse their probes", func() error {
		if err := as(t, alice).Create(ctx, grant(grantsNamespace, "probe-2", bob, "1h"), client.DryRunAll); !refusedBy(err, grantsPolicy) {
			return fmt.Errorf("a grant in bob's name by alice: %s", describe(err))
		}
		if err := as(t, alice).Create(ctx, approval(grantsNamespace, "probe", alice), client.DryRunAll); !refusedBy(err, approvalsPolicy) {
			return fmt.Errorf("alice approving her own grant: %s", describe(err))
		}
		return nil
	})
}

// tenantNamespace creates a namespace and binds the users to the shipped roles in it.
func tenantNamespace(t *testing.T, name string, annotations map[string]string) {
	t.Helper()
	ensureNamespace(t, name, annotations)
	roles := map[string][]string{alice: {"requester", "approver"}, bob: {"requester", "approver"}, carol: {"requester"}}
	for user, rs := range roles {
		for _, role := range rs {
			b := &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: user + "-" + role},
				RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "accessgrant-" + role + "-role"},
				Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}},
			}
			if err := env.Client.Create(context.Background(), b); client.IgnoreAlreadyExists(err) != nil {
				t.Fatal(err)
			}
		}
	}
}

var clients sync.Map // user → client.Client

// as is a client that the API server authenticates as user (impersonation by the test's admin).
func as(t *testing.T, user string) client.Client {
	t.Helper()
	if c, ok := clients.Load(user); ok {
		return c.(client.Client)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	clients.Store(user, c)
	return c
}

// grant is an AccessGrant as a user writes it: the duration exactly as given.
func grant(namespace, name, requestedBy, duration string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"protectedService": "billing",
		"accessGroup":      "oncall",
		"members":          []any{"user:" + requestedBy + "@acme.com"},
		"duration":         duration,
		"reason":           "INC-1234",
		"requestedBy":      requestedBy,
	}}}
	u.SetAPIVersion("iap.runguard.dev/v1alpha1")
	u.SetKind("AccessGrant")
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func breakGlass(g *unstructured.Unstructured) *unstructured.Unstructured {
	_ = unstructured.SetNestedField(g.Object, true, "spec", "breakGlass")
	return g
}

func approval(namespace, grantName, approvedBy string) *iapv1alpha1.AccessGrantApproval {
	return &iapv1alpha1.AccessGrantApproval{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: grantName + "-"},
		Spec:       iapv1alpha1.AccessGrantApprovalSpec{Grant: grantName, ApprovedBy: approvedBy, Decision: iapv1alpha1.DecisionApprove},
	}
}

// refusedBy reports whether err is a refusal by the named policy of config/admission.
func refusedBy(err error, policy string) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), fmt.Sprintf("ValidatingAdmissionPolicy '%s'", policy))
}

func TestGrantPolicy_AGrantIsRequestedInTheCallersOwnName(t *testing.T) {
	installGrantPolicies(t)
	ctx := context.Background()
	if err := as(t, alice).Create(ctx, grant(grantsNamespace, "alice-for-herself", alice, "2h")); err != nil {
		t.Errorf("alice requesting in her own name: %s, want admitted", describe(err))
	}
	err := as(t, alice).Create(ctx, grant(grantsNamespace, "alice-as-bob", bob, "2h"), client.DryRunAll)
	want := `You are alice, and spec.requestedBy says "bob": a grant is requested in your own name. Set spec.requestedBy to "alice".`
	if !refusedWith(err, want) {
		t.Errorf("alice requesting in bob's name: %s\nwant refused with: %s", describe(err), want)
	}
}

func TestGrantPolicy_DurationWithinTheNamespaceLimits(t *testing.T) {
	installGrantPolicies(t)
	tenantNamespace(t, "grants-defaults", nil)
	tenantNamespace(t, "grants-unusual-spelling", map[string]string{iapv1alpha1.AnnotationMaxGrantDuration: "30m1h"})
	tenantNamespace(t, "grants-too-large", map[string]string{iapv1alpha1.AnnotationMaxGrantDuration: "99999999999999999999h"})
	tooLong := func(kind, asked, ns, limit, annotation, notSet string) string {
		return fmt.Sprintf("%s asks for %s; namespace %s allows at most %s (annotation %s%s). Ask for %s or less, or ask a cluster admin to raise the annotation.",
			kind, asked, ns, limit, annotation, notSet, limit)
	}
	const defaulted = " not set: the default"
	cases := []struct {
		name, namespace, duration string
		breakGlass                bool
		want                      string // "" when admitted
	}{
		{"at the namespace's limit", grantsNamespace, "4h", false, ""},
		{"written in other units", grantsNamespace, "239m59s", false, ""},
		{"above the namespace's limit", grantsNamespace, "5h", false,
			tooLong("This grant", "5h", grantsNamespace, "4h", iapv1alpha1.AnnotationMaxGrantDuration, "")},
		{"just above the namespace's limit", grantsNamespace, "4h0m1s", false,
			tooLong("This grant", "4h0m1s", grantsNamespace, "4h", iapv1alpha1.AnnotationMaxGrantDuration, "")},
		{"break-glass at its limit", grantsNamespace, "30m", true, ""},
		{"break-glass above its limit", grantsNamespace, "45m", true,
			tooLong("This break-glass grant", "45m", grantsNamespace, "30m", iapv1alpha1.AnnotationMaxBreakGlassDuration, "")},
		{"break-glass within the grant limit but above its own", grantsNamespace, "2h", true,
			tooLong("This break-glass grant", "2h", grantsNamespace, "30m", iapv1alpha1.AnnotationMaxBreakGlassDuration, "")},
		{"at the default limit", "grants-defaults", "8h", false, ""},
		{"above the default limit", "grants-defaults", "9h", false,
			tooLong("This grant", "9h", "grants-defaults", "8h", iapv1alpha1.AnnotationMaxGrantDuration, defaulted)},
		{"break-glass at the default limit", "grants-defaults", "1h", true, ""},
		{"break-glass above the default limit", "grants-defaults", "61m", true,
			tooLong("This break-glass grant", "61m", "grants-defaults", "1h", iapv1alpha1.AnnotationMaxBreakGlassDuration, defaulted)},
		// The policy compares only limits in the usual spellings, which CEL's duration() cannot
		// fail on, and leaves the rest to the controller: Go reads "30m1h" as 1h30m (Denied
		// DurationTooLong), and cannot hold the other (Denied InvalidNamespacePolicy).
		{"a limit in an unusual spelling", "grants-unusual-spelling", "10h", false, ""},
		{"a limit too large for Go", "grants-too-large", "10h", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := grant(c.namespace, "duration", alice, c.duration)
			if c.breakGlass {
				breakGlass(g)
			}
			err := as(t, alice).Create(context.Background(), g, client.DryRunAll)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%s, want admitted", describe(err))
			case c.want != "" && !refusedWith(err, c.want):
				t.Errorf("%s\nwant refused with: %s", describe(err), c.want)
			}
		})
	}
}

// The controller denies every grant while either limit is not a positive duration (Denied,
// InvalidNamespacePolicy); the policy says so at `kubectl apply` instead of failing on CEL's
// parse error, whichever limit the grant is held to.
func TestGrantPolicy_AnInvalidLimitIsNamed(t *testing.T) {
	installGrantPolicies(t)
	cases := []struct {
		name, annotation, value string
		breakGlass              bool
	}{
		{"words", iapv1alpha1.AnnotationMaxGrantDuration, "eight hours", false},
		{"a number without a unit", iapv1alpha1.AnnotationMaxGrantDuration, "8", false},
		{"empty", iapv1alpha1.AnnotationMaxGrantDuration, "", false},
		{"zero", iapv1alpha1.AnnotationMaxGrantDuration, "0", false},
		{"zero with a unit", iapv1alpha1.AnnotationMaxGrantDuration, "0h", false},
		{"negative", iapv1alpha1.AnnotationMaxGrantDuration, "-8h", false},
		{"the break-glass limit, on a break-glass grant", iapv1alpha1.AnnotationMaxBreakGlassDuration, "1 hour", true},
		{"the break-glass limit, on an ordinary grant", iapv1alpha1.AnnotationMaxBreakGlassDuration, "1 hour", false},
		{"the grant limit, on a break-glass grant", iapv1alpha1.AnnotationMaxGrantDuration, "8 hours", true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := fmt.Sprintf("grants-invalid-%d", i)
			tenantNamespace(t, ns, map[string]string{c.annotation: c.value})
			want := fmt.Sprintf("Namespace %s has annotation %s: %q, which is not a positive duration such as 8h or 90m; "+
				"runguard denies every AccessGrant in this namespace until a cluster admin fixes the annotation.", ns, c.annotation, c.value)
			g := grant(ns, "duration", alice, "30m")
			if c.breakGlass {
				breakGlass(g)
			}
			err := as(t, alice).Create(context.Background(), g, client.DryRunAll)
			if !refusedWith(err, want) {
				t.Errorf("%s\nwant refused with: %s", describe(err), want)
			}
		})
	}
}

func TestApprovalPolicies_SomeoneElseApprovesInTheirOwnName(t *testing.T) {
	installGrantPolicies(t)
	ctx := context.Background()
	if err := as(t, alice).Create(ctx, grant(grantsNamespace, "deploy-fix", alice, "2h")); err != nil {
		t.Fatal(err)
	}
	// The policy reads grants from the API server's cache, which follows the new one shortly.
	selfApproval := `You (alice) requested AccessGrant deploy-fix, so you may not approve or deny it: someone else must. To withdraw the request, delete the AccessGrant.`
	testenv.Eventually(t, 30*time.Second, "alice's approval of her own new grant refused", func() error {
		if err := as(t, alice).Create(ctx, approval(grantsNamespace, "deploy-fix", alice), client.DryRunAll); !refusedWith(err, selfApproval) {
			return errors.New(describe(err))
		}
		return nil
	})

	t.Run("by another approver", func(t *testing.T) {
		if err := as(t, bob).Create(ctx, approval(grantsNamespace, "deploy-fix", bob)); err != nil {
			t.Errorf("bob approving alice's grant: %s, want admitted", describe(err))
		}
	})
	t.Run("a deny by another approver", func(t *testing.T) {
		a := approval(grantsNamespace, "deploy-fix", bob)
		a.Spec.Decision = iapv1alpha1.DecisionDeny
		if err := as(t, bob).Create(ctx, a, client.DryRunAll); err != nil {
			t.Errorf("bob denying alice's grant: %s, want admitted", describe(err))
		}
	})
	t.Run("by the requester", func(t *testing.T) {
		if err := as(t, alice).Create(ctx, approval(grantsNamespace, "deploy-fix", alice), client.DryRunAll); !refusedWith(err, selfApproval) {
			t.Errorf("alice approving her own grant: %s\nwant refused with: %s", describe(err), selfApproval)
		}
	})
	t.Run("a deny by the requester", func(t *testing.T) {
		a := approval(grantsNamespace, "deploy-fix", alice)
		a.Spec.Decision = iapv1alpha1.DecisionDeny
		if err := as(t, alice).Create(ctx, a, client.DryRunAll); !refusedWith(err, selfApproval) {
			t.Errorf("alice denying her own grant: %s\nwant refused with: %s", describe(err), selfApproval)
		}
	})
	t.Run("in someone else's name", func(t *testing.T) {
		err := as(t, bob).Create(ctx, approval(grantsNamespace, "deploy-fix", "dave"), client.DryRunAll)
		want := `You are bob, and spec.approvedBy says "dave": an approval is given in your own name. Set spec.approvedBy to "bob".`
		if !refusedWith(err, want) {
			t.Errorf("bob approving as dave: %s\nwant refused with: %s", describe(err), want)
		}
	})
	t.Run("in the requester's name by someone else", func(t *testing.T) {
		err := as(t, bob).Create(ctx, approval(grantsNamespace, "deploy-fix", alice), client.DryRunAll)
		if !refusedBy(err, approvalsPolicy) || !strings.Contains(err.Error(), `You are bob, and spec.approvedBy says "alice"`) {
			t.Errorf("bob approving as alice: %s, want refused for the name", describe(err))
		}
	})
	t.Run("without the approver role", func(t *testing.T) {
		err := as(t, carol).Create(ctx, approval(grantsNamespace, "deploy-fix", carol), client.DryRunAll)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `User "carol" cannot create resource "accessgrantapprovals"`) {
			t.Errorf("carol approving: %s, want forbidden by RBAC", describe(err))
		}
	})
	// With the grants of the namespace as params, no param is the missing grant, so none refuses:
	// the approval is stored and approves nothing (the controller counts approvals per grant).
	t.Run("of a grant that does not exist, where others do", func(t *testing.T) {
		if err := as(t, alice).Create(ctx, approval(grantsNamespace, "no-such-grant", alice), client.DryRunAll); err != nil {
			t.Errorf("%s, want admitted", describe(err))
		}
	})
	t.Run("where no grant exists", func(t *testing.T) {
		tenantNamespace(t, "grants-none", nil)
		err := as(t, bob).Create(ctx, approval("grants-none", "deploy-fix", bob), client.DryRunAll)
		// The API server answers 422 Invalid here, not 403: the binding, not the request, failed.
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("ValidatingAdmissionPolicy '%s'", approvalsPolicy)) ||
			!strings.Contains(err.Error(), "no params found for policy binding with `Deny` parameterNotFoundAction") {
			t.Errorf("%s, want refused by %s: no params found", describe(err), approvalsPolicy)
		}
	})
}

// Every expression of both policies type-checks against the CRDs' schemas, as the API server's
// policy status controller checks them: a misspelt field would only be a warning in the policy's
// status (which envtest, without a controller manager, never writes) and an error at admission.
func TestGrantPolicies_TypeCheckCleanly(t *testing.T) {
	installGrantPolicies(t)
	checker := &validating.TypeChecker{
		SchemaResolver: &resolver.ClientDiscoveryResolver{Discovery: discovery.NewDiscoveryClientForConfigOrDie(env.Config)},
		RestMapper:     env.Client.RESTMapper(),
	}
	for _, policy := range []string{grantsPolicy, approvalsPolicy} {
		for _, o := range policyObjects(t, policy) {
			if o.GetKind() != "ValidatingAdmissionPolicy" {
				continue
			}
			var p admissionregistrationv1.ValidatingAdmissionPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &p); err != nil {
				t.Fatal(err)
			}
			if warnings := checker.Check(&p); len(warnings) > 0 {
				t.Errorf("policy %s: %v", policy, warnings)
			}
		}
	}
}
