package adminapi

import (
	"encoding/json"
	"net/url"
	"strings"
)

// The admin endpoint's Access Context Manager paths.
const (
	// AccessPoliciesPath answers GET with []AccessPolicyState: every access policy with its
	// levels.
	AccessPoliciesPath = "/accessPolicies"
	// AccessLevelsPath takes an access level (google.identity.accesscontextmanager.v1.AccessLevel
	// in protojson, its full name included) by POST and creates it out of band, as the console
	// would: validated as over the API, no operation, one audit entry; it answers 201 with the
	// level. AccessLevelsPath/{policy number}/{short name} (see AccessLevelPath) answers GET
	// with the level, replaces it by PUT (a body naming the same level; 201 when it was new) and
	// deletes it by DELETE (204).
	AccessLevelsPath = "/accessLevels"
)

// AccessLevelPath is the admin path of one access level, by its full name
// (accessPolicies/{policy}/accessLevels/{short name}): AccessLevelsPath/{policy}/{short name}.
func AccessLevelPath(level string) string {
	policy, short, _ := strings.Cut(strings.TrimPrefix(level, "accessPolicies/"), "/accessLevels/")
	return AccessLevelsPath + "/" + url.PathEscape(policy) + "/" + url.PathEscape(short)
}

// Organization is a Google Cloud organization of the fake's world, as seeded and as GET
// StatePath lists it. Grants on it reach everything in it: its folders and projects and its
// access policies. An organization a folder, project or access policy names as its parent is
// part of the world without being listed.
type Organization struct {
	// ID is the organization's number; its resource name is organizations/{id}.
	ID string `json:"id"`
	// DisplayName is what GetOrganization answers (Google shows the organization's domain).
	DisplayName string `json:"displayName,omitempty"`
	// Grants are member → roles or permissions on the organization, as Project.Grants: bindings
	// of the organization's IAM policy (a permission as the custom role
	// organizations/{id}/roles/{permission}).
	Grants map[string][]string `json:"grants,omitempty"`
}

// Folder is a folder of the fake's world, as seeded and as GET StatePath lists it.
type Folder struct {
	// ID is the folder's number; its resource name is folders/{id}.
	ID string `json:"id"`
	// Parent is organizations/{number} or a folder listed before this one (folders/{number}).
	Parent      string `json:"parent"`
	DisplayName string `json:"displayName,omitempty"`
	// Grants are member → roles or permissions on the folder, as Project.Grants (a permission as
	// the custom role of the folder's organization, organizations/{o}/roles/{permission}).
	Grants map[string][]string `json:"grants,omitempty"`
}

// AccessPolicy is an Access Context Manager access policy as seeded.
type AccessPolicy struct {
	// Name is accessPolicies/{number}.
	Name string `json:"name"`
	// Parent is organizations/{number}.
	Parent string `json:"parent"`
	Title  string `json:"title"`
	// Scopes makes a scoped policy: at most one of projects/{number} or folders/{number}.
	Scopes []string `json:"scopes,omitempty"`
	// Etag, if set, is the policy's etag until its first change; the fake makes one otherwise.
	Etag string `json:"etag,omitempty"`
	// Grants are member → roles or permissions on the policy, as Project.Grants.
	Grants map[string][]string `json:"grants,omitempty"`
	// AccessLevels are the policy's levels, each a google.identity.accesscontextmanager.v1.
	// AccessLevel in protojson (its full name included), validated as over the API.
	AccessLevels []json.RawMessage `json:"accessLevels,omitempty"`
}

// AccessPolicyState is one access policy in State and in the answer to GET AccessPoliciesPath.
type AccessPolicyState struct {
	// Policy is the google.identity.accesscontextmanager.v1.AccessPolicy in protojson.
	Policy json.RawMessage `json:"policy"`
	// AccessLevels are its levels in protojson, sorted by name.
	AccessLevels []json.RawMessage `json:"accessLevels"`
}

// ResourcePolicyPath/{resource name} answers GET with the allow policy of any resource that has
// one (google.iam.v1.Policy in protojson, version-3 form) and takes a Policy by PUT, written out
// of band as the console would (no etag checked; logged as the resource's SetIamPolicy), answering
// with the stored policy: a project (projects/{id or number}), folder (folders/{n}), organization
// (organizations/{n}), access policy (accessPolicies/{n}), IAP resource
// (projects/{number}/iap_web[/cloud_run-{region}[/services/{service}]]) or Cloud Run service.
// A project's, folder's, organization's or access policy's bindings are the grants the fake's
// authorization reads. 404: no such resource.
const ResourcePolicyPath = "/policies/resource"

// ResourcePolicyPathOf is the admin path of a resource's allow policy.
func ResourcePolicyPathOf(resource string) string { return ResourcePolicyPath + "/" + resource }
