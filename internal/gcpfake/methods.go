package gcpfake

import (
	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iap/apiv1/iappb"
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runguard/runguard/internal/gcpfake/acm"
	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/iamadmin"
	"github.com/runguard/runguard/internal/gcpfake/projects"
	"github.com/runguard/runguard/internal/gcpfake/resourcemanager"
)

// The one registration point of the fake's front end. Every API the gRPC server serves is an
// api below, with its methods: what each needs from IAM, which quota it spends, whether it
// changes anything and what audit entry a change leaves. intercept, authorize, the quotas and
// the audit log read these facts here and nowhere else; a new API is one more entry.

var (
	runQuota = &quotaAPI{endpoint: runService, locate: runQuotaScope, limit: func(q Quotas, write bool) int {
		if write {
			return q.RunWritesPerMinute
		}
		return q.RunReadsPerMinute
	}}
	iapQuota = &quotaAPI{endpoint: iapService, locate: iapQuotaScope, limit: func(q Quotas, write bool) int {
		if write {
			return q.IAPWritesPerMinute
		}
		return q.IAPReadsPerMinute
	}}
	// Access Context Manager: 500 reads and 50 writes a minute per organization
	// (cloud.google.com/access-context-manager/quotas).
	acmQuota = &quotaAPI{endpoint: acmService, locate: acmQuotaScope, perOrganization: true, limit: func(q Quotas, write bool) int {
		if write {
			return q.ACMWritesPerMinute
		}
		return q.ACMReadsPerMinute
	}}
)

// apis is the registration table.
var apis = []*api{{
	grpcService: "google.cloud.run.v2.Services", prefix: "run", endpoint: runService,
	deny: apierr.RunPermissionDenied, quota: runQuota, place: placeService, auditShape: cloudRunAuditShape,
	methods: []method{
		{name: "CreateService", permission: "run.services.create", target: parentTarget, write: true,
			resource: func(req any) string {
				r := req.(*runpb.CreateServiceRequest)
				return r.GetParent() + "/services/" + r.GetServiceId()
			},
			audit: &auditEntry{method: methodRunCreateV2, gcloud: methodRunCreateV1, gcloudResource: gcloudV1Service}},
		{name: "GetService", permission: "run.services.get", target: serviceTarget},
		{name: "ListServices", permission: "run.services.list", target: parentTarget},
		{name: "UpdateService", permission: "run.services.update", target: serviceTarget, write: true,
			resource: func(req any) string { return req.(*runpb.UpdateServiceRequest).GetService().GetName() },
			audit:    &auditEntry{method: methodRunUpdateV2, gcloud: methodRunReplaceV1, gcloudResource: gcloudV1Service}},
		{name: "DeleteService", permission: "run.services.delete", target: serviceTarget, write: true,
			audit: &auditEntry{method: methodRunDeleteV2, gcloud: methodRunDeleteV1, gcloudResource: gcloudV1Service}},
		{name: "GetIamPolicy", permission: "run.services.getIamPolicy", target: serviceTarget},
		{name: "SetIamPolicy", permission: "run.services.setIamPolicy", target: serviceTarget, write: true,
			audit: &auditEntry{method: methodRunSetIAMV2, gcloud: methodRunSetIAMV1}},
		// Anyone may ask what they hold; the answer leaves out what they may not use.
		{name: "TestIamPermissions", target: serviceTarget},
	},
}, {
	grpcService: "google.identity.accesscontextmanager.v1.AccessContextManager", prefix: "acm", endpoint: acmService,
	deny: acmDeny, quota: acmQuota, place: placeAccessLevel, auditShape: acmAuditShape,
	// Permissions: "IAM Permissions" on each REST method's page, checked on the access policy
	// (and inherited from its organization).
	methods: []method{
		{name: "GetAccessPolicy", permission: acm.PermissionGetPolicy, target: acmTarget},
		{name: "ListAccessPolicies", permission: acm.PermissionListPolicy, target: acmTarget},
		{name: "GetAccessLevel", permission: acm.PermissionGetLevel, target: acmTarget},
		{name: "ListAccessLevels", permission: acm.PermissionListLevels, target: acmTarget},
		// Created where the request's parent says; logged under the new level's name.
		{name: "CreateAccessLevel", permission: acm.PermissionCreateLevel, write: true,
			target: func(req any, _ string) (target, bool) {
				return acmTarget(req, req.(*accesscontextmanagerpb.CreateAccessLevelRequest).GetParent())
			},
			resource: func(req any) string {
				r := req.(*accesscontextmanagerpb.CreateAccessLevelRequest)
				if name := r.GetAccessLevel().GetName(); name != "" {
					return name
				}
				return r.GetParent()
			},
			audit: &auditEntry{method: methodACMCreateLevel, gcloud: methodACMCreateLevel}},
		{name: "UpdateAccessLevel", permission: acm.PermissionUpdateLevel, target: acmTarget, write: true,
			resource: func(req any) string {
				return req.(*accesscontextmanagerpb.UpdateAccessLevelRequest).GetAccessLevel().GetName()
			},
			audit: &auditEntry{method: methodACMUpdateLevel, gcloud: methodACMUpdateLevel}},
		{name: "DeleteAccessLevel", permission: acm.PermissionDeleteLevel, target: acmTarget, write: true,
			audit: &auditEntry{method: methodACMDeleteLevel, gcloud: methodACMDeleteLevel}},
		// An access policy's allow policy, one of the IAM store's kinds; its grants are those the
		// fake's authorization reads for the policy's levels.
		{name: "GetIamPolicy", permission: acm.PermissionGetPolicyIAM, target: acmTarget},
		{name: "SetIamPolicy", permission: acm.PermissionSetPolicyIAM, target: acmTarget, write: true,
			audit: &auditEntry{method: methodACMSetIAM, gcloud: methodACMSetIAM}},
	},
}, {
	// Access Context Manager's operations (operations/…) on the same gRPC service as Cloud
	// Run's. Google documents no permission for them: its roles carry none.
	grpcService: "google.longrunning.Operations", prefix: "acmoperations", endpoint: acmService, owns: acm.IsOperation,
	deny: acmDeny, quota: acmQuota,
	methods: []method{
		{name: "GetOperation", target: acmTarget},
		{name: "WaitOperation", target: acmTarget},
	},
}, {
	grpcService: "google.longrunning.Operations", prefix: "operations", endpoint: runService,
	deny: apierr.RunPermissionDenied, quota: runQuota,
	methods: []method{
		{name: "GetOperation", permission: "run.operations.get", target: operationTarget},
		{name: "WaitOperation", permission: "run.operations.get", target: operationTarget},
		{name: "DeleteOperation", permission: "run.operations.delete", target: operationTarget},
		{name: "ListOperations", permission: "run.operations.list", target: locationTarget},
	},
}, {
	grpcService: "google.cloud.iap.v1.IdentityAwareProxyAdminService", prefix: "iap", endpoint: iapService,
	deny: func(permission, resource string) error {
		return apierr.IAMPermissionDenied(permission, resource, resource)
	},
	// A disabled API is refused before IAM is asked.
	disabled: func(p projects.Project) bool { return p.IAPAPIDisabled },
	quota:    iapQuota, place: placeIAP, auditShape: iapAuditShape,
	methods: []method{
		// A service's resource needs iap.webServices.*, the region-wide cloud_run-{region}
		// iap.webTypes.*, the project's iap_web iap.web.* (the "one of … depending on the resource
		// type" of each method's page, by analogy with App Engine's and Compute's resources).
		{name: "GetIamPolicy", permission: "iap.webServices.getIamPolicy", typePermission: "iap.webTypes.getIamPolicy", webPermission: "iap.web.getIamPolicy", target: iapTarget},
		{name: "SetIamPolicy", permission: "iap.webServices.setIamPolicy", typePermission: "iap.webTypes.setIamPolicy", webPermission: "iap.web.setIamPolicy", target: iapTarget, write: true,
			audit: &auditEntry{method: methodIAPSetIAM, gcloud: methodIAPSetIAM}},
		{name: "GetIapSettings", permission: "iap.webServices.getSettings", typePermission: "iap.webTypes.getSettings", webPermission: "iap.web.getSettings", target: iapTarget},
		// No audit entry: Google logs a settings change as Data Access, off by default.
		{name: "UpdateIapSettings", permission: "iap.webServices.updateSettings", typePermission: "iap.webTypes.updateSettings", webPermission: "iap.web.updateSettings", target: iapTarget, write: true,
			resource: func(req any) string { return req.(*iappb.UpdateIapSettingsRequest).GetIapSettings().GetName() }},
		{name: "TestIamPermissions", target: iapTarget},
	},
}, {
	// Resource Manager: the resource hierarchy above projects and the allow policies on it, which
	// are also the grants the fake's authorization reads. Not metered (no published quota).
	grpcService: "google.cloud.resourcemanager.v3.Projects", prefix: "resourcemanager", endpoint: rmService,
	deny: resourcemanager.DeniedFor, place: placeProject, auditShape: resourceManagerAuditShape,
	methods: []method{
		{name: "GetProject", permission: resourcemanager.GetPermission, target: projectTarget},
		{name: "GetIamPolicy", permission: resourcemanager.GetIamPolicyPermission, target: projectTarget},
		{name: "SetIamPolicy", permission: resourcemanager.SetIamPolicyPermission, target: projectTarget, write: true,
			audit: &auditEntry{method: methodRMSetProjectIAM, gcloud: methodRMSetIAMV1}},
	},
}, {
	grpcService: "google.cloud.resourcemanager.v3.Folders", prefix: "folders", endpoint: rmService,
	deny: resourcemanager.DeniedFor, place: placeContainer, auditShape: resourceManagerAuditShape,
	methods: []method{
		{name: "GetFolder", permission: resourcemanager.FolderGetPermission, target: nodeTarget},
		{name: "GetIamPolicy", permission: resourcemanager.FolderGetIamPolicyPermission, target: nodeTarget},
		{name: "SetIamPolicy", permission: resourcemanager.FolderSetIamPolicyPermission, target: nodeTarget, write: true,
			audit: &auditEntry{method: methodRMSetFolderIAM, gcloud: methodRMSetIAMV1}},
	},
}, {
	grpcService: "google.cloud.resourcemanager.v3.Organizations", prefix: "organizations", endpoint: rmService,
	deny: resourcemanager.DeniedFor, place: placeContainer, auditShape: resourceManagerAuditShape,
	methods: []method{
		{name: "GetOrganization", permission: resourcemanager.OrganizationGetPermission, target: nodeTarget},
		{name: "GetIamPolicy", permission: resourcemanager.OrganizationGetIamPolicyPermission, target: nodeTarget},
		{name: "SetIamPolicy", permission: resourcemanager.OrganizationSetIamPolicyPermission, target: nodeTarget, write: true,
			audit: &auditEntry{method: methodRMSetOrganizationIAM, gcloud: methodRMSetIAMV1}},
	},
}, {
	// IAM Admin: roles.get. A predefined role may be read by anyone (it belongs to no project or
	// organization to grant iam.roles.get on); a custom role needs iam.roles.get where it is
	// defined. Not metered.
	grpcService: "google.iam.admin.v1.IAM", prefix: "iam", endpoint: "iam.googleapis.com",
	deny: func(permission, resource string) error {
		return apierr.IAMPermissionDenied(permission, resource, resource)
	},
	methods: []method{
		{name: "GetRole", permission: iamadmin.GetRolePermission, target: roleTarget},
	},
}, {
	grpcService: "google.iam.credentials.v1.IAMCredentials", prefix: "iamcredentials", endpoint: "iamcredentials.googleapis.com",
	// GenerateAccessToken checks the token creators of the service account itself.
}}
