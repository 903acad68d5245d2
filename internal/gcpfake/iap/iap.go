// Package iap fakes the Identity-Aware Proxy Admin API v1 for Cloud Run:
// GetIamPolicy, SetIamPolicy, TestIamPermissions, GetIapSettings and
// UpdateIapSettings on
// projects/{number}/iap_web/cloud_run-{region}/services/{service}, on
// the region-wide projects/{number}/iap_web/cloud_run-{region} and on the
// project's projects/{number}/iap_web (every web resource of the project,
// gcloud iap web … without --resource-type). Every other method answers
// UNIMPLEMENTED.
package iap

import (
	"context"
	"fmt"
	"strconv"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
	"github.com/runguard/runguard/internal/gcpfake/names"
	"github.com/runguard/runguard/internal/gcpfake/projects"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Server implements iappb.IdentityAwareProxyAdminServiceServer.
type Server struct {
	iappb.UnimplementedIdentityAwareProxyAdminServiceServer
	Store     *store.Store
	Directory *projects.Directory
	Policies  *iampolicy.Store
	// AcceptProjectID resolves a project ID in a resource name
	// (projects/{id}/iap_web/…) to its project; false rejects it with
	// INVALID_ARGUMENT. Whether Google accepts the ID form is disputed;
	// gcloud's `iap settings get --project=ID` sends it.
	AcceptProjectID bool
}

var _ iappb.IdentityAwareProxyAdminServiceServer = (*Server)(nil)

const (
	apiName  = "iap.googleapis.com"
	apiTitle = "Cloud Identity-Aware Proxy API"
)

// resolve checks the resource and the project's IAP state and returns the
// store key (the resource in project-number form) and the Cloud Run
// service it belongs to ("" for the region-wide resource).
func (s *Server) resolve(resource string) (key, service string, err error) {
	r, ok := names.ParseIAP(resource)
	if !ok {
		return "", "", apierr.BadRequest(fmt.Sprintf("Invalid resource %q; for Cloud Run, IAP resources are projects/{project_number}/iap_web[/cloud_run-{region}[/services/{service}]].", resource),
			apierr.FieldViolation{Field: "resource", Description: "not an IAP Cloud Run resource name"})
	}
	if _, err := strconv.ParseInt(r.Project, 10, 64); err != nil && s.AcceptProjectID {
		p, known := s.Directory.Lookup(r.Project)
		if !known {
			return "", "", apierr.New(codes.PermissionDenied, "The caller does not have permission")
		}
		r.Project = strconv.FormatInt(p.Number, 10)
	} else if err != nil {
		// Decision (without AcceptProjectID): the ID form is rejected;
		// IAP addresses these resources by project number only.
		p, known := s.Directory.Lookup(r.Project)
		if known && p.IAPAPIDisabled {
			return "", "", apierr.ServiceDisabled(apiName, apiTitle, p.Number)
		}
		return "", "", apierr.BadRequest(fmt.Sprintf("Invalid resource %q: IAP resources are addressed by project number, not project ID %q.", resource, r.Project),
			apierr.FieldViolation{Field: "resource", Description: fmt.Sprintf("expected a project number where %q was given", r.Project)})
	}
	p, ok := s.Directory.ByNumber(r.Project)
	if !ok {
		return "", "", apierr.New(codes.PermissionDenied, "The caller does not have permission")
	}
	if p.IAPAPIDisabled {
		return "", "", apierr.ServiceDisabled(apiName, apiTitle, p.Number)
	}
	if r.Scope() != names.IAPProjectScope && !names.ValidRegion(r.Location) {
		return "", "", apierr.New(codes.NotFound, "Requested entity was not found.")
	}
	if r.Scope() != names.IAPServiceScope {
		return r.Named(p.Number), "", nil
	}
	return r.Named(p.Number), names.Service{Project: p.ID, Location: r.Location, ID: r.Service}.String(), nil
}

// PolicyKind registers IAP resources, in project-number form, with the IAM policy store: a
// seeded project's iap_web exists, the region-wide resource in every valid region of it, a
// service's as long as the service.
func PolicyKind(dir *projects.Directory) iampolicy.Kind {
	return iampolicy.Kind{
		Owns: func(name string) bool { _, ok := names.ParseIAP(name); return ok },
		// IAP names its resources by project number.
		Canonical: func(name string) (string, bool) {
			r, _ := names.ParseIAP(name)
			p, ok := dir.Lookup(r.Project)
			return r.Named(p.Number), ok
		},
		Exists: func(tx *store.Tx, name string) bool {
			r, _ := names.ParseIAP(name)
			p, ok := dir.ByNumber(r.Project)
			if !ok {
				return false
			}
			switch r.Scope() {
			case names.IAPProjectScope:
				return true
			case names.IAPRegionScope:
				return names.ValidRegion(r.Location)
			}
			_, exists := tx.Get(store.KindService, names.Service{Project: p.ID, Location: r.Location, ID: r.Service}.String())
			return exists
		},
	}
}

// exists: a service's IAP resource exists exactly as long as the service.
func exists(tx *store.Tx, service string) error {
	if service == "" {
		return nil
	}
	if _, ok := tx.Get(store.KindService, service); !ok {
		return apierr.New(codes.NotFound, "Requested entity was not found.")
	}
	return nil
}

func (s *Server) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	key, service, err := s.resolve(req.GetResource())
	if err != nil {
		return nil, err
	}
	return s.Policies.Get(key, func(tx *store.Tx) error { return exists(tx, service) }, req.GetOptions())
}

func (s *Server) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	key, service, err := s.resolve(req.GetResource())
	if err != nil {
		return nil, err
	}
	return s.Policies.Set(key, func(tx *store.Tx) error { return exists(tx, service) }, req)
}

func (s *Server) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	_, service, err := s.resolve(req.GetResource())
	if err != nil {
		return nil, err
	}
	return s.Policies.Test(func(tx *store.Tx) error { return exists(tx, service) }, req, "iap.")
}
