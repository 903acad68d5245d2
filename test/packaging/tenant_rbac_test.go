package packaging

import (
	"context"
	"slices"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A tenant who writes ProtectedServices in its namespace and may see AccessLevels can reference
// levels but never define or change one: only the cluster admins bound to the AccessLevel editor
// role can. The API server's authorizer decides, over the shipped ClusterRoles.
func TestTenantRoles_ANamespaceReferencesAccessLevelsButCannotEditThem(t *testing.T) {
	installRBAC(t)
	ctx := context.Background()
	bindings := []client.Object{
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "jane-writes-finance", Namespace: "default"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "runguard-protectedservice-editor-role"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "jane"}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "jane-sees-levels"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "runguard-accesslevel-viewer-role"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "jane"}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "admin-defines-levels"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "runguard-accesslevel-editor-role"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "platform-admin"}}},
	}
	for _, b := range bindings {
		if err := env.Client.Create(ctx, b); client.IgnoreAlreadyExists(err) != nil {
			t.Fatal(err)
		}
	}
	allowed := func(user string, a authorizationv1.ResourceAttributes) bool {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &a}}
		if err := env.Client.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		return sar.Status.Allowed
	}
	levels := func(verb string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Group: "iap.runguard.dev", Resource: "accesslevels", Verb: verb}
	}
	if !allowed("jane", authorizationv1.ResourceAttributes{Group: "iap.runguard.dev", Resource: "protectedservices", Verb: "create", Namespace: "default"}) {
		t.Error("the tenant may not write ProtectedServices in its namespace")
	}
	for _, verb := range []string{"get", "list", "watch"} {
		if !allowed("jane", levels(verb)) {
			t.Errorf("the tenant may not %s AccessLevels, so it cannot see what it references", verb)
		}
	}
	for _, verb := range []string{"create", "update", "patch", "delete"} {
		if allowed("jane", levels(verb)) {
			t.Errorf("the tenant may %s AccessLevels: a namespace could widen what every service requiring a level admits", verb)
		}
		if !allowed("platform-admin", levels(verb)) {
			t.Errorf("the AccessLevel editor role does not allow %s", verb)
		}
	}
}

// The chart writes the tenant roles out by hand (only the manager's rules are copied from
// config/rbac), so every role must be compared: a rule added to one install and not the other
// shows up here.
func TestRoles_GrantAlikeInKustomizeAndHelm(t *testing.T) {
	grants := func(r rendering) map[string][]string {
		roles := map[string][]string{}
		for _, o := range r.objs {
			if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
				continue
			}
			var role rbacv1.ClusterRole // Role has the same rules shape
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
				t.Fatal(err)
			}
			roles[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = ruleLines("", role.Rules)
		}
		return roles
	}
	r := installs(t)
	kustomized, helm := grants(r[0]), grants(r[1])
	for name, lines := range kustomized {
		if !slices.Equal(lines, helm[name]) {
			t.Errorf("%s grants\n  kustomize: %v\n  helm:      %v", name, lines, helm[name])
		}
	}
	for _, name := range []string{"ClusterRole//runguard-accessgrant-requester-role", "ClusterRole//runguard-accessgrant-approver-role"} {
		if _, ok := kustomized[name]; !ok {
			t.Errorf("%s is not rendered", name)
		}
	}
}

// Requesting and approving are separate roles: a requester cannot approve, an approver cannot
// request, and neither can edit what they wrote (specs are immutable; a request is withdrawn by
// deleting it, an approval overridden by a later Deny).
func TestTenantRoles_RequestersAndApproversDoOnlyTheirPart(t *testing.T) {
	installRBAC(t)
	ctx := context.Background()
	for user, role := range map[string]string{"rita": "runguard-accessgrant-requester-role", "arno": "runguard-accessgrant-approver-role"} {
		b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user + "-grants", Namespace: "default"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: user}}}
		if err := env.Client.Create(ctx, b); client.IgnoreAlreadyExists(err) != nil {
			t.Fatal(err)
		}
	}
	allowed := func(user, resource, verb string) bool {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: "iap.runguard.dev", Resource: resource, Verb: verb, Namespace: "default"}}}
		if err := env.Client.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		return sar.Status.Allowed
	}
	for _, c := range []struct {
		user, resource string
		may, mayNot    []string
	}{
		{"rita", "accessgrants", []string{"create", "delete", "get", "list", "watch"}, []string{"update", "patch"}},
		{"rita", "accessgrantapprovals", []string{"get", "list", "watch"}, []string{"create", "update", "patch", "delete"}},
		{"rita", "protectedservices", []string{"get", "list", "watch"}, []string{"create", "update", "patch", "delete"}},
		{"arno", "accessgrantapprovals", []string{"create", "get", "list", "watch"}, []string{"update", "patch", "delete"}},
		{"arno", "accessgrants", []string{"get", "list", "watch"}, []string{"create", "update", "patch", "delete"}},
	} {
		for _, verb := range c.may {
			if !allowed(c.user, c.resource, verb) {
				t.Errorf("%s may not %s %s", c.user, verb, c.resource)
			}
		}
		for _, verb := range c.mayNot {
			if allowed(c.user, c.resource, verb) {
				t.Errorf("%s may %s %s", c.user, verb, c.resource)
			}
		}
	}
}
