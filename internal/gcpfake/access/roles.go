package access

// predefinedRoles lists, of each predefined role the fake knows, only the permissions the fake
// checks (the permissions of the registration table, gcpfake/methods.go); a role's other permissions would never be looked at. Sources:
//   - roles/run.*: Cloud Run IAM roles (cloud.google.com/run/docs/reference/iam/roles) —
//     run.admin holds run.* and resourcemanager.projects.get; run.developer "can get but not set
//     IAM policies" and holds run.operations.* and resourcemanager.projects.get; run.viewer "can
//     view … including IAM policies".
//   - roles/iap.*: Identity-Aware Proxy roles and permissions
//     (docs.cloud.google.com/iam/docs/roles-permissions/iap) — iap.admin holds iap.webServices.*
//     and iap.webTypes.getIamPolicy/setIamPolicy; iap.settingsAdmin and iap.editor hold the
//     getSettings/updateSettings permissions (iap.editor also resourcemanager.projects.get).
//   - roles/iam.serviceAccountTokenCreator: iam.serviceAccounts.getAccessToken (the permission
//     GenerateAccessToken is denied for, google-github-actions/auth#340).
//   - roles/browser: resourcemanager.projects.get (Resource Manager roles).
//   - roles/accesscontextmanager.*: Access Context Manager roles and permissions
//     (docs.cloud.google.com/iam/docs/roles-permissions/accesscontextmanager) — policyAdmin
//     ("Full access to policies, access levels, …") and policyEditor hold accessLevels.* and
//     policies.get/list; policyReader holds the get and list permissions only.
var predefinedRoles = map[string][]string{
	"roles/accesscontextmanager.policyAdmin":  acmEditor,
	"roles/accesscontextmanager.policyEditor": acmEditor,
	"roles/accesscontextmanager.policyReader": acmReader,
	"roles/run.admin": {
		"run.services.create", "run.services.delete", "run.services.get", "run.services.list", "run.services.update",
		"run.services.getIamPolicy", "run.services.setIamPolicy",
		"run.operations.get", "run.operations.list", "run.operations.delete",
		"resourcemanager.projects.get",
	},
	"roles/run.developer": {
		"run.services.create", "run.services.delete", "run.services.get", "run.services.list", "run.services.update",
		"run.services.getIamPolicy",
		"run.operations.get", "run.operations.list", "run.operations.delete",
		"resourcemanager.projects.get",
	},
	"roles/run.viewer": {
		"run.services.get", "run.services.list", "run.services.getIamPolicy",
		"run.operations.get", "run.operations.list",
	},
	"roles/iap.admin": {
		"iap.webServices.getIamPolicy", "iap.webServices.setIamPolicy",
		"iap.webServices.getSettings", "iap.webServices.updateSettings",
		"iap.webTypes.getIamPolicy", "iap.webTypes.setIamPolicy",
	},
	"roles/iap.settingsAdmin": {
		"iap.webServices.getSettings", "iap.webServices.updateSettings",
		"iap.webTypes.getSettings", "iap.webTypes.updateSettings",
	},
	"roles/iap.editor": {
		"iap.webServices.getSettings", "iap.webServices.updateSettings",
		"iap.webTypes.getSettings", "iap.webTypes.updateSettings",
		"resourcemanager.projects.get",
	},
	"roles/iam.serviceAccountTokenCreator": {"iam.serviceAccounts.getAccessToken"},
	"roles/browser":                        {"resourcemanager.projects.get"},
}

var (
	acmReader = []string{
		"accesscontextmanager.accessLevels.get", "accesscontextmanager.accessLevels.list",
		"accesscontextmanager.policies.get", "accesscontextmanager.policies.list",
	}
	acmEditor = append([]string{
		"accesscontextmanager.accessLevels.create", "accesscontextmanager.accessLevels.update",
		"accesscontextmanager.accessLevels.delete",
	}, acmReader...)
)

// PredefinedRoles names the predefined roles a seed may grant, sorted.
func PredefinedRoles() []string {
	out := make([]string, 0, len(predefinedRoles))
	for r := range predefinedRoles {
		out = append(out, r)
	}
	sortStrings(out)
	return out
}
