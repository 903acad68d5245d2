package gcp

// The permissions runguard's code paths use, by resource. docs/install.md's custom role is
// exactly these plus resourcemanager.projects.get (which has no resource to test it on before
// the project number is known: its denial is reported by the lookup itself).
var (
	ServicePermissions = []string{"run.services.get", "run.services.update", "run.services.getIamPolicy", "run.services.setIamPolicy"}
	AccessPermissions  = []string{"iap.webServices.getIamPolicy", "iap.webServices.setIamPolicy"}
	// SettingsPermissions are needed on the IAP resource only by objects that declare settings.
	SettingsPermissions = []string{"iap.webServices.getSettings", "iap.webServices.updateSettings"}
)
