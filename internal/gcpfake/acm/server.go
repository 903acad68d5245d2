// Package acm fakes the Access Context Manager API v1: access policies (seeded, read-only here)
// and their access levels, whose changes are long-running operations named
// operations/{level}/{create|update|delete}/{id}. It serves GetAccessPolicy, ListAccessPolicies,
// GetAccessLevel, ListAccessLevels, CreateAccessLevel, UpdateAccessLevel and DeleteAccessLevel,
// an access policy's GetIamPolicy and SetIamPolicy, and GetOperation and WaitOperation on its
// operations; every other method answers
// UNIMPLEMENTED. Levels are validated as Google documents them (docs/google-apis-acm.md).
package acm

import (
	"context"
	"encoding/base64"
	"strconv"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Server implements accesscontextmanagerpb.AccessContextManagerServer.
type Server struct {
	accesscontextmanagerpb.UnimplementedAccessContextManagerServer
	B *Backend
	// Policies keeps access policies' allow policies (iam.go).
	Policies *iampolicy.Store
}

var _ accesscontextmanagerpb.AccessContextManagerServer = (*Server)(nil)

func (s *Server) GetAccessPolicy(_ context.Context, req *accesscontextmanagerpb.GetAccessPolicyRequest) (*accesscontextmanagerpb.AccessPolicy, error) {
	p, ok := s.B.Policy(req.GetName())
	if !ok {
		return nil, noPolicy(PermissionGetPolicy, req.GetName())
	}
	return p, nil
}

func (s *Server) ListAccessPolicies(_ context.Context, req *accesscontextmanagerpb.ListAccessPoliciesRequest) (*accesscontextmanagerpb.ListAccessPoliciesResponse, error) {
	if !ValidOrganization(req.GetParent()) {
		return nil, violation("parent", "Invalid parent %q: want organizations/{organization number}.", req.GetParent())
	}
	var all []*accesscontextmanagerpb.AccessPolicy
	for _, p := range s.B.Policies() {
		if p.GetParent() == req.GetParent() {
			all = append(all, p)
		}
	}
	start, end, next, err := page(len(all), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &accesscontextmanagerpb.ListAccessPoliciesResponse{AccessPolicies: all[start:end], NextPageToken: next}, nil
}

func (s *Server) GetAccessLevel(_ context.Context, req *accesscontextmanagerpb.GetAccessLevelRequest) (*accesscontextmanagerpb.AccessLevel, error) {
	name, ok := ParseLevel(req.GetName())
	if !ok {
		return nil, violation("name", "Invalid access level name %q: want accessPolicies/{policy}/accessLevels/{short_name}.", req.GetName())
	}
	if _, ok := s.B.Policy(name.Policy); !ok {
		return nil, noPolicy(PermissionGetLevel, name.Policy)
	}
	l, ok := s.B.Level(req.GetName())
	if !ok {
		return nil, notFound(req.GetName())
	}
	return l, inFormat(req.GetAccessLevelFormat(), l)
}

func (s *Server) ListAccessLevels(_ context.Context, req *accesscontextmanagerpb.ListAccessLevelsRequest) (*accesscontextmanagerpb.ListAccessLevelsResponse, error) {
	if !ValidPolicyName(req.GetParent()) {
		return nil, violation("parent", "Invalid parent %q: want accessPolicies/{policy}.", req.GetParent())
	}
	if _, ok := s.B.Policy(req.GetParent()); !ok {
		return nil, noPolicy(PermissionListLevels, req.GetParent())
	}
	all := s.B.Levels(req.GetParent())
	for _, l := range all {
		if err := inFormat(req.GetAccessLevelFormat(), l); err != nil {
			return nil, err
		}
	}
	start, end, next, err := page(len(all), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &accesscontextmanagerpb.ListAccessLevelsResponse{AccessLevels: all[start:end], NextPageToken: next}, nil
}

func (s *Server) CreateAccessLevel(_ context.Context, req *accesscontextmanagerpb.CreateAccessLevelRequest) (*longrunningpb.Operation, error) {
	if !ValidPolicyName(req.GetParent()) {
		return nil, violation("parent", "Invalid parent %q: want accessPolicies/{policy}.", req.GetParent())
	}
	return s.B.Create(req.GetParent(), req.GetAccessLevel())
}

func (s *Server) UpdateAccessLevel(_ context.Context, req *accesscontextmanagerpb.UpdateAccessLevelRequest) (*longrunningpb.Operation, error) {
	return s.B.Update(req.GetAccessLevel(), req.GetUpdateMask().GetPaths())
}

func (s *Server) DeleteAccessLevel(_ context.Context, req *accesscontextmanagerpb.DeleteAccessLevelRequest) (*longrunningpb.Operation, error) {
	return s.B.Delete(req.GetName())
}

// inFormat answers a level in the format asked for. The fake keeps levels as defined and does
// not translate basic levels into CEL.
func inFormat(f accesscontextmanagerpb.LevelFormat, l *accesscontextmanagerpb.AccessLevel) error {
	if f == accesscontextmanagerpb.LevelFormat_CEL && l.GetBasic() != nil {
		return apierr.New(codes.Unimplemented, "The fake does not translate basic access levels into CEL (access_level_format CEL).")
	}
	return nil
}

// page cuts a list of n items at a page token (the offset, base64) and a page size (default
// and at most 100, as Google documents the default).
func page(n int, size int32, token string) (start, end int, next string, err error) {
	if token != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(token)
		if start, err = strconv.Atoi(string(raw)); derr != nil || err != nil || start < 0 || start > n {
			return 0, 0, "", violation("page_token", "Invalid page token.")
		}
	}
	if size <= 0 || size > 100 {
		size = 100
	}
	end = min(start+int(size), n)
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return start, end, next, nil
}

// Operations implements the google.longrunning.Operations methods on Access Context Manager's
// operations; the fake's front end routes them here by name (IsOperation).
type Operations struct {
	longrunningpb.UnimplementedOperationsServer
	B *Backend
}

// GetOperation answers with the operation, done: a change is made when its call is answered.
func (o *Operations) GetOperation(_ context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	m, ok := o.B.Store.Get(store.KindACMOperation, req.GetName())
	if !ok {
		return nil, apierr.New(codes.NotFound, "Requested entity was not found.")
	}
	return m.(*longrunningpb.Operation), nil
}

// WaitOperation answers at once: every operation is done by the time it is asked about.
func (o *Operations) WaitOperation(ctx context.Context, req *longrunningpb.WaitOperationRequest) (*longrunningpb.Operation, error) {
	return o.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: req.GetName()})
}
