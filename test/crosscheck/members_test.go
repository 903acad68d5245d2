package crosscheck_test

import (
	"testing"

	"github.com/runguard/runguard/internal/reach"
)

// Sources the cases cite, each for the fact it relies on.
const (
	srcManagingAccess = "https://cloud.google.com/iap/docs/managing-access"
	srcContextAware   = "https://cloud.google.com/iap/docs/cloud-iap-context-aware-access-howto"
	srcIAMRoles       = "https://cloud.google.com/iam/docs/roles-permissions/iap"
	srcHierarchy      = "https://cloud.google.com/iam/docs/resource-hierarchy-access-control"
	srcAttributes     = "https://cloud.google.com/iam/docs/conditions-attribute-reference"
	srcPolicyProto    = "google/iam/v1/policy.proto (Binding.members, Binding.condition)"
	srcPrincipals     = "https://cloud.google.com/iam/docs/principal-identifiers"
	srcLevelProto     = "google/identity/accesscontextmanager/v1/access_level.proto"
	srcCustomSpec     = "https://cloud.google.com/access-context-manager/docs/custom-access-level-spec"
	srcRewriteGuide   = "https://cloud.google.com/iam/docs/pdf/access-levels-rewrite-guide.pdf"
)

const (
	alice    = "user:alice@acme.com"
	finance  = "group:finance@acme.com"
	robot    = "serviceAccount:ci@acme-prod.iam.gserviceaccount.com"
	carol    = "principal://iam.googleapis.com/locations/global/workforcePools/partners/subject/carol"
	auditors = "principalSet://iam.googleapis.com/locations/global/workforcePools/partners/group/auditors"
)

// on grants role to members at a place, without a condition.
func on(at place, role string, members ...string) grant {
	return grant{at: at, role: role, members: members}
}

// Who a binding covers, which roles count, and where bindings may sit.
func TestCrossCheck_MembersRolesAndInheritance(t *testing.T) { runCases(t, memberCases) }

var memberCases = []crossCase{{
	name:   "direct user grant on the service",
	source: srcManagingAccess + ": IAP-secured Web App User grants access to the app",
	grants: []grant{on(onService, accessor, alice)},
	req:    caller{principal: alice},
	want:   reach.Allow,
}, {
	name:   "a grant to someone else",
	source: srcPolicyProto + ": user:{emailid} represents a specific Google account",
	grants: []grant{on(onService, accessor, "user:bob@acme.com")},
	req:    caller{principal: alice},
	want:   reach.Deny,
}, {
	name:   "group grant, the caller in the group",
	source: srcPolicyProto + ": group:{emailid} represents a Google group",
	grants: []grant{on(onService, accessor, finance)},
	req:    caller{principal: alice, groups: []string{finance}},
	want:   reach.Allow,
	hide:   func(r *reach.Request) { r.Groups, r.GroupsKnown = nil, false },
}, {
	name:   "group grant, the caller in another group",
	source: srcPolicyProto + ": group:{emailid} represents a Google group",
	grants: []grant{on(onService, accessor, finance)},
	req:    caller{principal: alice, groups: []string{"group:sales@acme.com"}},
	want:   reach.Deny,
	hide:   func(r *reach.Request) { r.Groups, r.GroupsKnown = nil, false },
}, {
	name:   "domain grant covers a user of the domain",
	source: srcPolicyProto + ": domain:{domain} represents all the users of that domain",
	grants: []grant{on(onService, accessor, "domain:acme.com")},
	req:    caller{principal: alice},
	want:   reach.Allow,
}, {
	name:   "domain grant and a look-alike domain",
	source: srcPolicyProto + ": domain:{domain} represents all the users of that domain",
	grants: []grant{on(onService, accessor, "domain:acme.com")},
	req:    caller{principal: "user:mallory@acme.com.evil.example"},
	want:   reach.Deny,
}, {
	name:   "domain grant does not cover a service account",
	source: srcPolicyProto + ": domain: represents the users of the domain; serviceAccount: is its own kind",
	grants: []grant{on(onService, accessor, "domain:acme.com")},
	req:    caller{principal: robot},
	want:   reach.Deny,
}, {
	name:   "allAuthenticatedUsers covers a Google account",
	source: srcPolicyProto + ": allAuthenticatedUsers is anyone authenticated with a Google account or a service account",
	grants: []grant{on(onService, accessor, "allAuthenticatedUsers")},
	req:    caller{principal: "user:someone@gmail.com"},
	want:   reach.Allow,
}, {
	name:   "allAuthenticatedUsers covers a service account",
	source: srcPolicyProto + ": allAuthenticatedUsers is anyone authenticated with a Google account or a service account",
	grants: []grant{on(onService, accessor, "allAuthenticatedUsers")},
	req:    caller{principal: robot},
	want:   reach.Allow,
}, {
	name:   "allUsers covers anyone",
	source: srcPolicyProto + ": allUsers is anyone who is on the internet",
	grants: []grant{on(onService, accessor, "allUsers")},
	req:    caller{principal: "user:someone@gmail.com"},
	want:   reach.Allow,
}, {
	name:   "a workforce identity, by its pool's principal set",
	source: srcPrincipals + ": principalSet://…/workforcePools/POOL/* is all identities in the pool",
	grants: []grant{on(onService, accessor, "principalSet://iam.googleapis.com/locations/global/workforcePools/partners/*")},
	req:    caller{principal: carol},
	want:   reach.Allow,
}, {
	name:   "a workforce identity of another pool",
	source: srcPrincipals + ": principalSet://…/workforcePools/POOL/* is all identities in the pool",
	grants: []grant{on(onService, accessor, "principalSet://iam.googleapis.com/locations/global/workforcePools/vendors/*")},
	req:    caller{principal: carol},
	want:   reach.Deny,
}, {
	name:   "a workforce identity by its principal",
	source: srcPrincipals + ": principal://…/subject/SUBJECT is a single identity in a workforce pool",
	grants: []grant{on(onService, accessor, carol)},
	req:    caller{principal: carol},
	want:   reach.Allow,
}, {
	name:   "a workforce group the identity is in",
	source: srcPrincipals + ": principalSet://…/group/GROUP_ID is all workforce identities in a group",
	grants: []grant{on(onService, accessor, auditors)},
	req:    caller{principal: carol, groups: []string{auditors}},
	want:   reach.Allow,
	hide:   func(r *reach.Request) { r.Groups, r.GroupsKnown = nil, false },
}, {
	name:   "a deleted user covers nobody",
	source: srcPolicyProto + ": deleted:user:{emailid}?uid={uniqueid} is a user recently deleted",
	grants: []grant{on(onService, accessor, "deleted:user:alice@acme.com?uid=123456789012345678901")},
	req:    caller{principal: alice},
	want:   reach.Deny,
}, {
	name:   "inherited from the region's IAP resource",
	source: srcHierarchy + ": the effective policy is the union of the resource's and its ancestors' (cloud_run-REGION is above the service)",
	grants: []grant{on(onRegion, accessor, alice)},
	req:    caller{principal: alice},
	want:   reach.Allow,
}, {
	name:   "inherited from the project's iap_web (All Web Services)",
	source: srcManagingAccess + ": All Web Services — all resources in the project will be secured",
	grants: []grant{on(onIAPWeb, accessor, alice)},
	req:    caller{principal: alice},
	want:   reach.Allow,
}, {
	name:   "inherited from the project",
	source: srcManagingAccess + ": principals with access at the project level have it to all IAP-secured resources in the project",
	grants: []grant{on(onProject, accessor, alice)},
	req:    caller{principal: alice},
	want:   reach.Allow,
}, {
	name:   "inherited from a folder two levels up",
	source: srcHierarchy + ": roles granted at the highest folder level are inherited by projects or other folders below",
	grants: []grant{on(onTopFolder, accessor, finance)},
	req:    caller{principal: alice, groups: []string{finance}},
	want:   reach.Allow,
}, {
	name:   "inherited from the organization",
	source: srcHierarchy + ": roles granted at the organization level are inherited by all resources under it",
	grants: []grant{on(onOrganization, accessor, "domain:acme.com")},
	req:    caller{principal: alice},
	want:   reach.Allow,
}, {
	name:   "a grant on another service's IAP resource does not reach this one",
	source: srcManagingAccess + ": IAP policies are configured per resource; apps in a project can each have different access policies",
	grants: []grant{on(onOtherService, accessor, alice)},
	req:    caller{principal: alice},
	want:   reach.Deny,
}, {
	name:   "project Owner does not get through IAP",
	source: srcManagingAccess + ": Owner only permits modifying policies, and doesn't permit access to the app",
	grants: []grant{on(onProject, "roles/owner", alice)},
	req:    caller{principal: alice},
	want:   reach.Deny,
}, {
	name:   "project Editor does not get through IAP",
	source: srcIAMRoles + ": iap.webServiceVersions.accessViaIAP is in IAP-secured Web App User, not in the basic roles",
	grants: []grant{on(onProject, "roles/editor", alice)},
	req:    caller{principal: alice},
	want:   reach.Deny,
}, {
	name:   "IAP Policy Admin on the service does not get through IAP",
	source: srcManagingAccess + ": IAP Policy Admin grants administrator rights over IAP policies; Web App User grants access to the app",
	grants: []grant{on(onService, "roles/iap.admin", alice)},
	req:    caller{principal: alice},
	want:   reach.Deny,
}, {
	name:   "a custom role that includes the permission",
	source: srcIAMRoles + ": IAP-secured Web App User is iap.webServiceVersions.accessViaIAP; what IAP checks is the permission",
	grants: []grant{on(onProject, iapUserRole, alice)},
	req:    caller{principal: alice},
	want:   reach.Allow,
}, {
	name:   "a custom role without the permission",
	source: srcIAMRoles + ": IAP-secured Web App User is iap.webServiceVersions.accessViaIAP; what IAP checks is the permission",
	grants: []grant{on(onProject, iapAdminRole, alice)},
	req:    caller{principal: alice},
	want:   reach.Deny,
}, {
	name:   "a custom role IAM does not know includes nothing",
	source: srcIAMRoles + ": what IAP checks is the permission; a role that does not exist includes none",
	grants: []grant{on(onProject, "projects/acme-prod/roles/neverDefined", alice)},
	req:    caller{principal: alice},
	want:   reach.Deny,
}}
