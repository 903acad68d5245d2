// Package frontdoor is the fake's Identity-Aware Proxy in front of its Cloud Run services. A
// request for a service's URL (routed by its Host header) is decided as IAP decides it, from who
// sends it and from where — given in test headers (headers.go) — and from the policies the fake
// stores: 200 with IAP's identity headers, 403, 401 without an identity, 404 for a host no
// service answers at. It evaluates IAM allow policies, conditions and access levels with its own
// code and imports nothing of runguard's outside internal/gcpfake, so that runguard's
// internal/reach can be checked against it (test/crosscheck).
//
// Simulated, each from Google's documentation:
//   - who passes: a binding of a role that carries iap.webServiceVersions.accessViaIAP (IAM's
//     role table of the fake; roles/owner does not) whose members cover the caller and whose
//     condition holds, in the allow policy of the service's IAP resource or of anything above it:
//     cloud_run-REGION, the project's iap_web, the project, its folders, its organization
//     (https://cloud.google.com/iap/docs/managing-access,
//     https://cloud.google.com/iam/docs/resource-hierarchy-access-control);
//   - members: user, serviceAccount, group (membership from the groups header), domain (users of
//     that domain), allUsers, allAuthenticatedUsers, principal:// exactly, principalSet://…/* (a
//     pool's identities) and other principal sets through the groups header
//     (google/iam/v1/policy.proto, https://cloud.google.com/iam/docs/principal-identifiers);
//   - conditions in CEL over request.path, request.host, request.time and
//     request.auth.access_levels (https://cloud.google.com/iap/docs/cloud-iap-context-aware-access-howto,
//     https://cloud.google.com/iam/docs/conditions-attribute-reference); a condition that fails to
//     evaluate grants nothing, and one naming a level that is not in the organization's access
//     policy blocks its binding (IAM's access level rewrite guide);
//   - access levels of the organization's organization-level access policy (scoped policies are
//     not supported by IAP): basic levels (ip_subnetworks, regions, members, device_policy,
//     required_access_levels, negate, AND/OR, access_level.proto) and custom levels in CEL over
//     origin.ip, origin.region_code, device.*, levels.*, request.time, inIpRange and
//     device.versionAtLeast (https://cloud.google.com/access-context-manager/docs/custom-access-level-spec),
//     best effort;
//   - the answer: the identity headers X-Goog-Authenticated-User-Email and
//     X-Goog-Authenticated-User-Id, "accounts.google.com:" and the email or a user ID
//     (https://cloud.google.com/iap/docs/identity-howto), on a 200 whose small JSON body names the
//     service; 403 with a body that names nothing of the policy; 401 for a request without an
//     identity that nothing lets in (IAP answers 401 where it cannot redirect to sign-in,
//     https://cloud.google.com/iap/docs/faq); a service with IAP off is not checked.
//
// Not simulated: sign-in, sessions and their reauthentication, the signed
// x-goog-iap-jwt-assertion header, real devices (Endpoint Verification: device facts are what
// the header says), IAM deny policies and principal access boundaries, IAP's OAuth and identity
// settings (who may sign in at all), group membership beyond the header, the IAP resource's
// attributes in conditions (resource.name, resource.type: a condition reading them grants
// nothing), Cloud Run's own invoker check and ingress, serving the service's own responses, and
// IAP's data-access audit entries (AuthorizeUser).
package frontdoor

import (
	"log/slog"
	"net/http"
	"time"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iam/apiv1/iampb"
)

// AccessPermission is the permission IAP checks before it lets a request through to a web
// resource: the one permission of roles/iap.httpsResourceAccessor
// (https://cloud.google.com/iam/docs/roles-permissions/iap).
const AccessPermission = "iap.webServiceVersions.accessViaIAP"

// Service is a Cloud Run service as the front door needs to know it.
type Service struct {
	// Name is projects/{project ID}/locations/{region}/services/{service}.
	Name          string
	ProjectID     string
	ProjectNumber int64
	Region, ID    string
	IAPEnabled    bool
	// Ancestors are the folders and the organization above the project, nearest first.
	Ancestors []string
}

// World is what the front door reads of the fake's state.
type World interface {
	// ServiceByHost is the service whose URL has this host (lower case, no port).
	ServiceByHost(host string) (Service, bool)
	// Policy is a resource's stored allow policy, conditions included; false when the resource
	// does not exist.
	Policy(resource string) (*iampb.Policy, bool)
	// RolePermissions are a role's permissions as the fake knows them; false for a role it does
	// not know.
	RolePermissions(role string) ([]string, bool)
	// AccessLevels are the levels of an organization's organization-level access policy, by
	// full name; none when it has no such policy.
	AccessLevels(organization string) map[string]*accesscontextmanagerpb.AccessLevel
	// Now is the fake's clock: request.time when the request does not name one.
	Now() time.Time
}

// Handler is the front door. It is safe for concurrent use.
type Handler struct {
	world  World
	logger *slog.Logger
	cel    *celCache
}

// New returns a front door over the world; logger (nil: none) gets one line per request with
// the decision and why, which the answer itself does not say.
func New(world World, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{world: world, logger: logger, cel: newCELCache()}
}

var _ http.Handler = (*Handler)(nil)
