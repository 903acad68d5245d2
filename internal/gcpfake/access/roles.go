package access

// predefinedRole is a predefined role as the fake knows it: its title and, of its permissions,
// those the fake checks (the permissions of the registration table, gcpfake/methods.go) and
// iap.webServiceVersions.accessViaIAP, the permission that lets a member through IAP. A role's
// other permissions would never be looked at; GetRole answers these lists.
type predefinedRole struct {
	title       string
	permissions []string
}

// predefinedRoles is the one table of predefined roles: the permission checks and GetRole read
// it. Each list is the role's includedPermissions as IAM's roles.get answers it
// (iann0036/iam-dataset, gcp/roles/{role}.json at commit 2073fa52, which records IAM's roles.list
// output; docs/google-apis-inherited.md) reduced to the permissions the fake knows. Of note:
// only roles/iap.httpsResourceAccessor holds iap.webServiceVersions.accessViaIAP — roles/owner
// holds the tunnel's accessViaIAP permissions but not the web one, and roles/editor and
// roles/viewer neither — as the Identity-Aware Proxy roles page
// (docs.cloud.google.com/iam/docs/roles-permissions/iap) lists.
var predefinedRoles = map[string]predefinedRole{
	"roles/owner": {"Owner", []string{
		"accesscontextmanager.accessLevels.create", "accesscontextmanager.accessLevels.delete", "accesscontextmanager.accessLevels.get", "accesscontextmanager.accessLevels.list", "accesscontextmanager.accessLevels.update",
		"accesscontextmanager.policies.get", "accesscontextmanager.policies.getIamPolicy", "accesscontextmanager.policies.list", "accesscontextmanager.policies.setIamPolicy",
		"iam.roles.get",
		"iap.web.getIamPolicy", "iap.web.getSettings", "iap.web.setIamPolicy", "iap.web.updateSettings",
		"iap.webServices.getIamPolicy", "iap.webServices.getSettings", "iap.webServices.setIamPolicy", "iap.webServices.updateSettings",
		"iap.webTypes.getIamPolicy", "iap.webTypes.getSettings", "iap.webTypes.setIamPolicy", "iap.webTypes.updateSettings",
		"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy",
		"run.operations.delete", "run.operations.get", "run.operations.list",
		"run.services.create", "run.services.delete", "run.services.get", "run.services.getIamPolicy", "run.services.list", "run.services.setIamPolicy", "run.services.update",
	}},
	"roles/editor": {"Editor", []string{
		"accesscontextmanager.accessLevels.create", "accesscontextmanager.accessLevels.delete", "accesscontextmanager.accessLevels.get", "accesscontextmanager.accessLevels.list", "accesscontextmanager.accessLevels.update",
		"accesscontextmanager.policies.get", "accesscontextmanager.policies.getIamPolicy", "accesscontextmanager.policies.list",
		"iam.roles.get",
		"iap.web.getSettings", "iap.web.updateSettings",
		"iap.webServices.getSettings", "iap.webServices.updateSettings",
		"iap.webTypes.getSettings", "iap.webTypes.updateSettings",
		"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy",
		"run.operations.delete", "run.operations.get", "run.operations.list",
		"run.services.create", "run.services.delete", "run.services.get", "run.services.getIamPolicy", "run.services.list", "run.services.update",
	}},
	"roles/viewer": {"Viewer", []string{
		"accesscontextmanager.accessLevels.get", "accesscontextmanager.accessLevels.list",
		"accesscontextmanager.policies.get", "accesscontextmanager.policies.getIamPolicy", "accesscontextmanager.policies.list",
		"iam.roles.get",
		"iap.web.getSettings",
		"iap.webServices.getSettings",
		"iap.webTypes.getSettings",
		"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy",
		"run.operations.get", "run.operations.list",
		"run.services.get", "run.services.getIamPolicy", "run.services.list",
	}},
	"roles/browser": {"Browser", []string{
		"resourcemanager.folders.get",
		"resourcemanager.organizations.get",
		"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy",
	}},
	"roles/iap.httpsResourceAccessor": {"IAP-secured Web App User", []string{
		"iap.webServiceVersions.accessViaIAP",
	}},
	"roles/iap.admin": {"IAP Policy Admin", []string{
		"iap.web.getIamPolicy", "iap.web.setIamPolicy",
		"iap.webServices.getIamPolicy", "iap.webServices.setIamPolicy",
		"iap.webTypes.getIamPolicy", "iap.webTypes.setIamPolicy",
	}},
	"roles/iap.settingsAdmin": {"IAP Settings Admin", []string{
		"iap.web.getSettings", "iap.web.updateSettings",
		"iap.webServices.getSettings", "iap.webServices.updateSettings",
		"iap.webTypes.getSettings", "iap.webTypes.updateSettings",
	}},
	"roles/iap.editor": {"IAP Policy Editor", []string{
		"iap.web.getSettings", "iap.web.updateSettings",
		"iap.webServices.getSettings", "iap.webServices.updateSettings",
		"iap.webTypes.getSettings", "iap.webTypes.updateSettings",
		"resourcemanager.projects.get",
	}},
	"roles/run.admin": {"Cloud Run Admin", []string{
		"resourcemanager.projects.get",
		"run.operations.delete", "run.operations.get", "run.operations.list",
		"run.services.create", "run.services.delete", "run.services.get", "run.services.getIamPolicy", "run.services.list", "run.services.setIamPolicy", "run.services.update",
	}},
	"roles/run.developer": {"Cloud Run Developer", []string{
		"resourcemanager.projects.get",
		"run.operations.delete", "run.operations.get", "run.operations.list",
		"run.services.create", "run.services.delete", "run.services.get", "run.services.getIamPolicy", "run.services.list", "run.services.update",
	}},
	"roles/run.viewer": {"Cloud Run Viewer", []string{
		"resourcemanager.projects.get",
		"run.operations.get", "run.operations.list",
		"run.services.get", "run.services.getIamPolicy", "run.services.list",
	}},
	"roles/iam.serviceAccountTokenCreator": {"Service Account Token Creator", []string{
		"iam.serviceAccounts.getAccessToken",
		"resourcemanager.projects.get",
	}},
	"roles/iam.roleViewer": {"Role Viewer", []string{
		"iam.roles.get",
		"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy",
	}},
	"roles/iam.securityReviewer": {"Security Reviewer", []string{
		"accesscontextmanager.accessLevels.list",
		"accesscontextmanager.policies.getIamPolicy", "accesscontextmanager.policies.list",
		"iam.roles.get",
		"iap.web.getIamPolicy",
		"iap.webServices.getIamPolicy",
		"iap.webTypes.getIamPolicy",
		"resourcemanager.folders.getIamPolicy",
		"resourcemanager.organizations.getIamPolicy",
		"resourcemanager.projects.getIamPolicy",
		"run.operations.list",
		"run.services.getIamPolicy", "run.services.list",
	}},
	"roles/resourcemanager.projectIamAdmin": {"Project IAM Admin", []string{
		"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy",
	}},
	"roles/resourcemanager.folderViewer": {"Folder Viewer", []string{
		"resourcemanager.folders.get",
		"resourcemanager.projects.get",
	}},
	"roles/resourcemanager.folderIamAdmin": {"Folder IAM Admin", []string{
		"resourcemanager.folders.get", "resourcemanager.folders.getIamPolicy", "resourcemanager.folders.setIamPolicy",
	}},
	"roles/resourcemanager.organizationViewer": {"Organization Viewer", []string{
		"resourcemanager.organizations.get",
	}},
	"roles/resourcemanager.organizationAdmin": {"Organization Administrator", []string{
		"resourcemanager.folders.get", "resourcemanager.folders.getIamPolicy", "resourcemanager.folders.setIamPolicy",
		"resourcemanager.organizations.get", "resourcemanager.organizations.getIamPolicy", "resourcemanager.organizations.setIamPolicy",
		"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy",
	}},
	"roles/accesscontextmanager.policyAdmin": {"Access Context Manager Admin", []string{
		"accesscontextmanager.accessLevels.create", "accesscontextmanager.accessLevels.delete", "accesscontextmanager.accessLevels.get", "accesscontextmanager.accessLevels.list", "accesscontextmanager.accessLevels.update",
		"accesscontextmanager.policies.get", "accesscontextmanager.policies.getIamPolicy", "accesscontextmanager.policies.list", "accesscontextmanager.policies.setIamPolicy",
		"resourcemanager.organizations.get",
		"resourcemanager.projects.get",
	}},
	"roles/accesscontextmanager.policyEditor": {"Access Context Manager Editor", []string{
		"accesscontextmanager.accessLevels.create", "accesscontextmanager.accessLevels.delete", "accesscontextmanager.accessLevels.get", "accesscontextmanager.accessLevels.list", "accesscontextmanager.accessLevels.update",
		"accesscontextmanager.policies.get", "accesscontextmanager.policies.getIamPolicy", "accesscontextmanager.policies.list",
		"resourcemanager.organizations.get",
		"resourcemanager.projects.get",
	}},
	"roles/accesscontextmanager.policyReader": {"Access Context Manager Reader", []string{
		"accesscontextmanager.accessLevels.get", "accesscontextmanager.accessLevels.list",
		"accesscontextmanager.policies.get", "accesscontextmanager.policies.getIamPolicy", "accesscontextmanager.policies.list",
		"resourcemanager.organizations.get",
		"resourcemanager.projects.get",
	}},
}

// PredefinedRoles names the predefined roles a seed may grant, sorted.
func PredefinedRoles() []string {
	out := make([]string, 0, len(predefinedRoles))
	for r := range predefinedRoles {
		out = append(out, r)
	}
	sortStrings(out)
	return out
}
