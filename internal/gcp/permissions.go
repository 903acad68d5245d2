package gcp

// The permissions the permission preflight asks for, by resource. docs/install.md's custom role
// holds these plus resourcemanager.projects.get (which has no resource to test it on before the
// project number is known: its denial is reported by the lookup itself) and the reads above the
// service (Hierarchy), whose denials make InheritedAccess Unknown instead of failing a pass.
var (
	ServicePermissions = []string{"run.services.get", "run.services.update", "run.services.getIamPolicy", "run.services.setIamPolicy"}
	AccessPermissions  = []string{"iap.webServices.getIamPolicy", "iap.webServices.setIamPolicy"}
	// SettingsPermissions are needed on the IAP resource only by objects that declare settings.
	SettingsPermissions = []string{"iap.webServices.getSettings", "iap.webServices.updateSettings"}
)

// ReadPermissions are those of the permissions above that only read: all a caller of runguard
// plan needs.
var ReadPermissions = map[string]bool{
	"run.services.get": true, "run.services.getIamPolicy": true,
	"iap.webServices.getIamPolicy": true, "iap.webServices.getSettings": true,
}
