package reach

import "testing"

// Who a binding covers, which roles count, and where bindings may sit.
func TestEvaluate_MembersRolesAndInheritance(t *testing.T) { runCases(t, memberCases) }

// projectGrant is a binding of role in the project's own IAM policy.
func projectGrant(role string, members ...string) Binding {
	return Binding{Where: Where{Kind: Project, Resource: "projects/acme-prod"}, Role: role, Members: members}
}

var memberCases = []reachCase{{
	name:     "direct user grant lets the user in",
	source:   srcManagingAccess + ": IAP-secured Web App User grants access to the app",
	bindings: []Binding{grant(accessor, "", alice)},
	req:      Request{Member: alice},
	want:     Allow, wantRole: accessor,
}, {
	name:       "a grant to someone else does not",
	source:     srcPolicyProto + ": user:{emailid} represents a specific Google account",
	bindings:   []Binding{grant(accessor, "", "user:bob@acme.com")},
	req:        Request{Member: alice},
	want:       Deny,
	wantFailed: []string{"covers user:alice@acme.com"},
}, {
	name:     "group grant with the member known to be in the group",
	source:   srcPolicyProto + ": group:{emailid} represents a Google group",
	bindings: []Binding{grant(accessor, "", finance)},
	req:      Request{Member: alice, Groups: []string{finance}, GroupsKnown: true},
	want:     Allow,
}, {
	name:     "group grant with the member known not to be in it",
	source:   srcPolicyProto + ": group:{emailid} represents a Google group",
	bindings: []Binding{grant(accessor, "", finance)},
	req:      Request{Member: alice, Groups: []string{"group:sales@acme.com"}, GroupsKnown: true},
	want:     Deny,
}, {
	name:        "group grant with membership unknown depends on the membership",
	source:      srcPolicyProto + ": group:{emailid} represents a Google group",
	bindings:    []Binding{grant(accessor, "", finance)},
	req:         Request{Member: alice},
	want:        Depends,
	wantDepends: []string{"user:alice@acme.com is in group:finance@acme.com"},
}, {
	name:     "domain grant covers a user of the domain",
	source:   srcPolicyProto + ": domain:{domain} represents all the users of that domain",
	bindings: []Binding{grant(accessor, "", "domain:acme.com")},
	req:      Request{Member: alice},
	want:     Allow,
}, {
	name:     "domain grant does not cover a user of another domain",
	source:   srcPolicyProto + ": domain:{domain} represents all the users of that domain",
	bindings: []Binding{grant(accessor, "", "domain:acme.com")},
	req:      Request{Member: "user:mallory@acme.com.evil.example"},
	want:     Deny,
}, {
	name:     "domain grant does not cover a service account",
	source:   srcPolicyProto + ": domain:{domain} represents the users of that domain; serviceAccount: is its own kind",
	bindings: []Binding{grant(accessor, "", "domain:acme.com")},
	req:      Request{Member: "serviceAccount:ci@acme-prod.iam.gserviceaccount.com"},
	want:     Deny,
}, {
	name:     "allAuthenticatedUsers covers any Google account",
	source:   srcPolicyProto + ": allAuthenticatedUsers represents anyone authenticated with a Google account or a service account",
	bindings: []Binding{grant(accessor, "", "allAuthenticatedUsers")},
	req:      Request{Member: "user:someone@gmail.com"},
	want:     Allow,
}, {
	name:     "allAuthenticatedUsers covers a service account",
	source:   srcPolicyProto + ": allAuthenticatedUsers represents anyone authenticated with a Google account or a service account",
	bindings: []Binding{grant(accessor, "", "allAuthenticatedUsers")},
	req:      Request{Member: "serviceAccount:ci@acme-prod.iam.gserviceaccount.com"},
	want:     Allow,
}, {
	name:     "allUsers covers anyone",
	source:   srcPolicyProto + ": allUsers represents anyone who is on the internet",
	bindings: []Binding{grant(accessor, "", "allUsers")},
	req:      Request{Member: "user:someone@gmail.com"},
	want:     Allow,
}, {
	name:     "a workforce identity is covered by its pool's principal set",
	source:   srcPrincipals + ": principalSet://…/workforcePools/POOL/* is all identities in the pool",
	bindings: []Binding{grant(accessor, "", "principalSet://iam.googleapis.com/locations/global/workforcePools/partners/*")},
	req:      Request{Member: "principal://iam.googleapis.com/locations/global/workforcePools/partners/subject/carol"},
	want:     Allow,
}, {
	name:     "inherited project-level grant of the accessor role",
	source:   srcManagingAccess + ": principals with access at the project level have it to all IAP-secured resources in the project",
	bindings: []Binding{projectGrant(accessor, alice)},
	req:      Request{Member: alice},
	want:     Allow,
}, {
	name:   "inherited organization-level grant",
	source: srcHierarchy + ": roles granted at the organization level are inherited by all resources under it",
	bindings: []Binding{{Where: Where{Kind: Organization, Resource: "organizations/42"}, Role: accessor,
		Members: []string{"domain:acme.com"}}},
	req:  Request{Member: alice},
	want: Allow,
}, {
	name:       "project Owner does not get through IAP",
	source:     srcManagingAccess + ": Owner only permits modifying policies, and doesn't permit access to the app",
	bindings:   []Binding{projectGrant("roles/owner", alice)},
	req:        Request{Member: alice},
	want:       Deny,
	wantFailed: []string{"roles/owner", AccessPermission},
}, {
	name:     "project Editor does not get through IAP",
	source:   srcIAMRoles + ": iap.webServiceVersions.accessViaIAP is in IAP-secured Web App User, not in the basic roles",
	bindings: []Binding{projectGrant("roles/editor", alice)},
	req:      Request{Member: alice},
	want:     Deny,
}, {
	name:     "a custom role that includes the permission lets the member in",
	source:   srcIAMRoles + ": IAP-secured Web App User is iap.webServiceVersions.accessViaIAP; what IAP checks is the permission",
	bindings: []Binding{projectGrant("projects/acme-prod/roles/iapUser", alice)},
	custom:   map[string][]string{"projects/acme-prod/roles/iapUser": {AccessPermission}},
	req:      Request{Member: alice},
	want:     Allow,
}, {
	name:     "a custom role without the permission does not",
	source:   srcIAMRoles + ": IAP-secured Web App User is iap.webServiceVersions.accessViaIAP; what IAP checks is the permission",
	bindings: []Binding{projectGrant("projects/acme-prod/roles/iapAdmin", alice)},
	custom:   map[string][]string{"projects/acme-prod/roles/iapAdmin": {"iap.webServiceVersions.getIamPolicy"}},
	req:      Request{Member: alice},
	want:     Deny,
}, {
	name:   "of two bindings, the one that holds lets the request in",
	source: srcPolicyProto + ": if a condition is false the binding does not apply, but a different role binding might grant the same role",
	bindings: []Binding{
		grant(accessor, `request.path.startsWith("/admin/")`, alice),
		projectGrant(accessor, finance),
	},
	req:  Request{Member: alice, Path: "/reports/q3", Groups: []string{finance}, GroupsKnown: true},
	want: Allow,
}, {
	name:   "a sure grant wins over an earlier one that only might",
	source: srcPolicyProto + ": the effective policy is the union of bindings; one that applies grants",
	bindings: []Binding{
		grant(accessor, "", finance),
		grant(accessor, "", alice),
	},
	req:  Request{Member: alice},
	want: Allow,
}}
