package packaging

import (
	"context"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
