package controllers_test

import (
	"testing"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// Before it converges access, runguard asks Google (TestIamPermissions) which of the permissions
// it needs it lacks on the service and on the IAP resource, and names every missing one at once.
// The lockdown still runs (here: IAP switched on); no policy is written.
func TestPermissionPreflight_NamesEveryMissingPermissionBeforeAnyPolicyWrite(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	fake.DenyPermission(w.fullName, "run.services.setIamPolicy")
	fake.DenyPermission(w.iapTarget, "iap.webServices.setIamPolicy")
	allow := func() {
		fake.AllowPermission(w.fullName, "run.services.setIamPolicy")
		fake.AllowPermission(w.iapTarget, "iap.webServices.setIamPolicy")
	}
	t.Cleanup(allow)
	w.create(w.object("preflight", group("devs", "user:alice@acme.com")))
	w.expectStalled("preflight", iapv1alpha1.ReasonPermissionDenied,
		"run.services.setIamPolicy on "+w.fullName, "iap.webServices.setIamPolicy on "+w.iapTarget, "docs/install.md")
	for _, m := range w.writes() {
		if m != "run.UpdateService" {
			t.Errorf("wrote %s although the preflight found permissions missing (only the lockdown may write)", m)
		}
	}
	allow()
	w.waitReady("preflight")
}
