package reach

// AccessPermission is the permission IAP checks before it lets a request
// through to a web resource, Cloud Run services included (IAM's access
// level rewrite guide names it as one of the two permissions access levels
// apply to; public samples of IAP's AuthorizeUser audit entries name it in
// authorizationInfo).
const AccessPermission = "iap.webServiceVersions.accessViaIAP"

// AccessRolesSource is where AccessRoles comes from: Google's list of IAP
// roles and the permissions each includes.
const AccessRolesSource = "https://cloud.google.com/iam/docs/roles-permissions/iap"

// AccessRoles are the predefined roles that include AccessPermission.
//
// Only the IAP-secured Web App User role does. The basic roles do not:
// IAP's "Managing access" page says Owner "only permits modifying policies,
// and doesn't permit access to the app"
// (https://cloud.google.com/iap/docs/managing-access), and Google's role
// data, as mirrored by iann0036/iam-dataset (gcp/roles/*.json, 2026-08-22),
// lists AccessPermission in roles/iap.httpsResourceAccessor alone: not in
// roles/owner, roles/editor, roles/viewer, roles/iap.admin or any other
// predefined role. (roles/owner does carry the tunnel permissions
// iap.tunnelInstances.accessViaIAP and iap.tunnelDestGroups.accessViaIAP,
// which are for TCP forwarding, not web apps.)
var AccessRoles = map[string]bool{
	"roles/iap.httpsResourceAccessor": true,
}

// RoleCarrier returns the carries function Evaluate takes: predefined roles
// from AccessRoles, custom roles ("projects/P/roles/R",
// "organizations/O/roles/R") from customRoles, the permissions each custom
// role includes as the caller read them. A role in neither is taken not to
// carry the permission.
func RoleCarrier(customRoles map[string][]string) func(role string) bool {
	return func(role string) bool {
		if AccessRoles[role] {
			return true
		}
		for _, p := range customRoles[role] {
			if p == AccessPermission {
				return true
			}
		}
		return false
	}
}
