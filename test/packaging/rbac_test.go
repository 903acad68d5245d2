package packaging

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const managerServiceAccount = "runguard-controller-manager"

// expectedManagerPermissions is everything the manager's ServiceAccount may do, one line per
// scope, API group, resource and verb. Any widening of the generated or hand-written RBAC shows
// up here as a diff; change this list only together with the code that needs the permission.
var expectedManagerPermissions = []string{
	// config/rbac/role.yaml, generated from the +kubebuilder:rbac markers in controllers/.
	"cluster core/namespaces get",
	"cluster core/namespaces list",
	"cluster core/namespaces watch",
	"cluster events.k8s.io/events create",
	"cluster events.k8s.io/events patch",
	"cluster iap.runguard.dev/accessgrantapprovals get",
	"cluster iap.runguard.dev/accessgrantapprovals list",
	"cluster iap.runguard.dev/accessgrantapprovals watch",
	"cluster iap.runguard.dev/accessgrants get",
	"cluster iap.runguard.dev/accessgrants list",
	"cluster iap.runguard.dev/accessgrants watch",
	"cluster iap.runguard.dev/accessgrants/status get",
	"cluster iap.runguard.dev/accessgrants/status patch",
	"cluster iap.runguard.dev/accessgrants/status update",
	"cluster iap.runguard.dev/accesslevels get",
	"cluster iap.runguard.dev/accesslevels list",
	"cluster iap.runguard.dev/accesslevels patch",
	"cluster iap.runguard.dev/accesslevels update",
	"cluster iap.runguard.dev/accesslevels watch",
	"cluster iap.runguard.dev/accesslevels/finalizers update",
	"cluster iap.runguard.dev/accesslevels/status get",
	"cluster iap.runguard.dev/accesslevels/status patch",
	"cluster iap.runguard.dev/accesslevels/status update",
	"cluster iap.runguard.dev/protectedservices get",
	"cluster iap.runguard.dev/protectedservices list",
	"cluster iap.runguard.dev/protectedservices patch",
	"cluster iap.runguard.dev/protectedservices update",
	"cluster iap.runguard.dev/protectedservices watch",
	"cluster iap.runguard.dev/protectedservices/finalizers update",
	"cluster iap.runguard.dev/protectedservices/status get",
	"cluster iap.runguard.dev/protectedservices/status patch",
	"cluster iap.runguard.dev/protectedservices/status update",
	// metrics_auth_role.yaml: the metrics endpoint checks each scrape with the API server.
	"cluster authentication.k8s.io/tokenreviews create",
	"cluster authorization.k8s.io/subjectaccessreviews create",
	// leader_election_role.yaml: its own Lease, and the core Events leader election records.
	"namespace/runguard-system coordination.k8s.io/leases create",
	"namespace/runguard-system coordination.k8s.io/leases get",
	"namespace/runguard-system coordination.k8s.io/leases update",
	"namespace/runguard-system core/events create",
	"namespace/runguard-system core/events patch",
}

// grantedTo expands every Role and ClusterRole bound to the ServiceAccount in a rendering into
// "scope group/resource verb" lines.
func grantedTo(t *testing.T, objs []*unstructured.Unstructured, namespace, sa string) []string {
	t.Helper()
	rolesByRef := map[string][]rbacv1.PolicyRule{}
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole", "Role":
			var r rbacv1.ClusterRole // Role has the same rules shape
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				t.Fatal(err)
			}
			if r.AggregationRule != nil {
				t.Errorf("%s %s aggregates other roles; its rules could grow outside this repository", o.GetKind(), o.GetName())
			}
			rolesByRef[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = r.Rules
		}
	}
	var lines []string
	for _, o := range objs {
		var subjects []rbacv1.Subject
		var ref rbacv1.RoleRef
		scope := "cluster"
		switch o.GetKind() {
		case "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
				t.Fatal(err)
			}
			subjects, ref = b.Subjects, b.RoleRef
		case "RoleBinding":
			var b rbacv1.RoleBinding
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
				t.Fatal(err)
			}
			subjects, ref, scope = b.Subjects, b.RoleRef, "namespace/"+o.GetNamespace()
		default:
			continue
		}
		bound := false
		for _, s := range subjects {
			switch {
			case s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == namespace:
				bound = true
			case s.Kind == "Group" && (s.Name == "system:serviceaccounts" || s.Name == "system:serviceaccounts:"+namespace || s.Name == "system:authenticated"):
				t.Errorf("%s %s binds group %s, which includes the manager and much more", o.GetKind(), o.GetName(), s.Name)
			}
		}
		if !bound {
			continue
		}
		key := ref.Kind + "/" + "/" + ref.Name
		if ref.Kind == "Role" {
			key = "Role/" + o.GetNamespace() + "/" + ref.Name
		}
		rules, ok := rolesByRef[key]
		if !ok {
			t.Errorf("%s %s refers to %s %s, which is not rendered", o.GetKind(), o.GetName(), ref.Kind, ref.Name)
			continue
		}
		lines = append(lines, ruleLines(scope, rules)...)
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

// ruleLines expands rules into sorted "scope group/resource verb" lines.
func ruleLines(scope string, rules []rbacv1.PolicyRule) []string {
	var lines []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			if g == "" {
				g = "core"
			}
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					line := fmt.Sprintf("%s %s/%s %s", scope, g, res, v)
					if len(r.ResourceNames) > 0 {
						line += " names=" + strings.Join(r.ResourceNames, ",")
					}
					lines = append(lines, line)
				}
			}
		}
		for _, u := range r.NonResourceURLs {
			for _, v := range r.Verbs {
				lines = append(lines, fmt.Sprintf("%s url:%s %s", scope, u, v))
			}
		}
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

func TestManagerServiceAccount_HasExactlyTheExpectedPermissions(t *testing.T) {
	want := slices.Clone(expectedManagerPermissions)
	slices.Sort(want)
	for _, r := range installs(t) {
		t.Run(r.name, func(t *testing.T) {
			got := grantedTo(t, r.objs, installNamespace, managerServiceAccount)
			for _, g := range got {
				if !slices.Contains(want, g) {
					t.Errorf("granted but not expected: %s", g)
				}
				if strings.Contains(g, "*") {
					t.Errorf("wildcard grant: %s", g)
				}
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("expected but not granted: %s", w)
				}
			}
		})
	}
}

var (
	installOnce sync.Once
	installErr  error
)

// installRBAC applies the kustomize render for real (not dry-run): the Namespace, ServiceAccount,
// roles and bindings the manager test runs under. The Deployment is applied too; envtest runs no
// controllers, so it starts nothing.
func installRBAC(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs := renderKustomize(t, repoPath("config", "default"))
	installOnce.Do(func() {
		for _, o := range objs {
			if err := env.Client.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
				client.FieldOwner("runguard-packaging-test"), client.ForceOwnership); err != nil {
				installErr = fmt.Errorf("apply %s %s: %w", o.GetKind(), o.GetName(), err)
				return
			}
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
	return objs
}

// The API server's own authorizer, asked about the ServiceAccount the rendered RBAC binds.
func TestManagerServiceAccount_APIServerAllowsOnlyWhatItNeeds(t *testing.T) {
	installRBAC(t)
	user := "system:serviceaccount:" + installNamespace + ":" + managerServiceAccount
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + installNamespace, "system:authenticated"}
	check := func(attrs authorizationv1.ResourceAttributes) bool {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: groups, ResourceAttributes: &attrs,
		}}
		if err := env.Client.Create(context.Background(), sar); err != nil {
			t.Fatal(err)
		}
		return sar.Status.Allowed
	}
	for _, a := range []authorizationv1.ResourceAttributes{
		{Group: "iap.runguard.dev", Resource: "protectedservices", Verb: "watch", Namespace: "finance"},
		{Group: "iap.runguard.dev", Resource: "protectedservices", Subresource: "status", Verb: "patch", Namespace: "finance"},
		{Group: "iap.runguard.dev", Resource: "protectedservices", Subresource: "finalizers", Verb: "update", Namespace: "finance"},
		{Resource: "namespaces", Verb: "get", Name: "finance"},
		{Group: "events.k8s.io", Resource: "events", Verb: "create", Namespace: "finance"},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: installNamespace, Name: "runguard.iap.runguard.dev"},
		{Group: "authentication.k8s.io", Resource: "tokenreviews", Verb: "create"},
	} {
		if !check(a) {
			t.Errorf("denied, but the manager needs it: %+v", a)
		}
	}
	for _, a := range []authorizationv1.ResourceAttributes{
		{Resource: "secrets", Verb: "get", Namespace: installNamespace},
		{Resource: "secrets", Verb: "list", Namespace: "finance"},
		{Resource: "configmaps", Verb: "get", Namespace: installNamespace},
		{Resource: "pods", Verb: "list", Namespace: "finance"},
		{Resource: "serviceaccounts", Subresource: "token", Verb: "create", Namespace: installNamespace},
		{Resource: "namespaces", Verb: "update", Name: "finance"},
		{Resource: "namespaces", Verb: "patch", Name: "finance"},
		{Group: "iap.runguard.dev", Resource: "protectedservices", Verb: "create", Namespace: "finance"},
		{Group: "iap.runguard.dev", Resource: "protectedservices", Verb: "delete", Namespace: "finance"},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: "kube-node-lease", Name: "node-1"},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: "kube-system", Name: "kube-controller-manager"},
		{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "escalate"},
		{Group: "rbac.authorization.k8s.io", Resource: "rolebindings", Verb: "create", Namespace: installNamespace},
		{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Verb: "update"},
		{Resource: "users", Verb: "impersonate"},
	} {
		if check(a) {
			t.Errorf("allowed, but the manager has no business doing it: %+v", a)
		}
	}
}
