package run

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/names"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Services implements runpb.ServicesServer.
type Services struct {
	runpb.UnimplementedServicesServer
	B *Backend
}

var _ runpb.ServicesServer = (*Services)(nil)

func (s *Services) CreateService(ctx context.Context, req *runpb.CreateServiceRequest) (*longrunningpb.Operation, error) {
	b := s.B
	project, location, ok := names.ParseLocation(req.GetParent())
	if !ok || !names.ValidRegion(location) {
		return nil, apierr.BadRequest(fmt.Sprintf("Invalid parent %q; expected projects/{project}/locations/{location}.", req.GetParent()),
			apierr.FieldViolation{Field: "Violation in CreateServiceRequest.parent", Description: "must be of the form projects/{project}/locations/{location}"})
	}
	if !names.ValidServiceID(req.GetServiceId()) {
		return nil, apierr.BadRequest("Violation in CreateServiceRequest.service_id: "+names.ServiceIDRule,
			apierr.FieldViolation{Field: "Violation in CreateServiceRequest.service_id", Description: names.ServiceIDRule})
	}
	if req.GetService() == nil {
		return nil, apierr.BadRequest("Violation in CreateServiceRequest.service: required field not present.",
			apierr.FieldViolation{Field: "Violation in CreateServiceRequest.service", Description: "required field not present"})
	}
	if err := validateSpec(req.GetService(), "CreateServiceRequest"); err != nil {
		return nil, err
	}
	r, err := b.resolveService(names.Service{Project: project, Location: location, ID: req.GetServiceId()}.String(), "CreateServiceRequest.parent", "run.services.create")
	if err != nil {
		return nil, err
	}
	var op *longrunningpb.Operation
	err = b.Store.Txn(func(tx *store.Tx) error {
		if _, exists := b.loadService(tx, r.name()); exists {
			return apierr.New(codes.AlreadyExists, fmt.Sprintf("Resource '%s' already exists.", r.canonical.ID))
		}
		svc := b.newService(r, req.GetService())
		if req.GetValidateOnly() {
			op = b.doneOperation(tx, r, svc)
			return nil
		}
		b.startReconcile(tx, svc)
		tx.Put(store.KindService, svc.Name, svc)
		op = b.newOperation(tx, r, svc)
		return nil
	})
	return op, err
}

func (s *Services) GetService(ctx context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	b := s.B
	r, err := b.resolveService(req.GetName(), "GetServiceRequest.name", "run.services.get")
	if err != nil {
		return nil, err
	}
	svc, ok := b.Get(r.name())
	if !ok {
		return nil, notFound(r)
	}
	return svc, nil
}

func (s *Services) ListServices(ctx context.Context, req *runpb.ListServicesRequest) (*runpb.ListServicesResponse, error) {
	b := s.B
	project, location, ok := names.ParseLocation(req.GetParent())
	if ok && location == "-" {
		// ListServicesRequest.parent: "Location must be a valid Google Cloud region, and cannot
		// be the "-" wildcard."
		return nil, apierr.BadRequest(fmt.Sprintf("Invalid parent %q: the location must be a Cloud Run region; the \"-\" wildcard is not supported.", req.GetParent()),
			apierr.FieldViolation{Field: "Violation in ListServicesRequest.parent", Description: "location cannot be the \"-\" wildcard"})
	}
	if !ok || !names.ValidRegion(location) {
		return nil, apierr.BadRequest(fmt.Sprintf("Invalid parent %q; expected projects/{project}/locations/{location}.", req.GetParent()),
			apierr.FieldViolation{Field: "Violation in ListServicesRequest.parent", Description: "must be of the form projects/{project}/locations/{location}"})
	}
	p, ok := b.Directory.Lookup(project)
	if !ok {
		return nil, apierr.RunPermissionDenied("run.services.list", req.GetParent())
	}
	prefix := "projects/" + p.ID + "/locations/" + location + "/services/"
	var all []*runpb.Service
	_ = b.Store.Txn(func(tx *store.Tx) error {
		for _, n := range tx.Names(store.KindService, prefix) {
			if svc, ok := b.loadService(tx, n); ok {
				all = append(all, svc)
			}
		}
		return nil
	})
	// "Results are sorted by creation time, descending."
	sort.SliceStable(all, func(i, j int) bool { return all[i].CreateTime.AsTime().After(all[j].CreateTime.AsTime()) })
	start, err := decodePageToken(req.GetPageToken())
	if err != nil || start > len(all) {
		return nil, apierr.BadRequest("Invalid page token.", apierr.FieldViolation{Field: "Violation in ListServicesRequest.page_token", Description: "invalid page token"})
	}
	size := int(req.GetPageSize())
	if size <= 0 || size > 1000 {
		size = 100
	}
	end := min(start+size, len(all))
	resp := &runpb.ListServicesResponse{Services: all[start:end]}
	if end < len(all) {
		resp.NextPageToken = encodePageToken(end)
	}
	return resp, nil
}

func encodePageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

func decodePageToken(t string) (int, error) {
	if t == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(raw) < len("offset:") || string(raw[:7]) != "offset:" {
		return 0, fmt.Errorf("bad token")
	}
	return strconv.Atoi(string(raw[7:]))
}

func (s *Services) UpdateService(ctx context.Context, req *runpb.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	b := s.B
	if req.GetService() == nil {
		return nil, apierr.BadRequest("Violation in UpdateServiceRequest.service: required field not present.",
			apierr.FieldViolation{Field: "Violation in UpdateServiceRequest.service", Description: "required field not present"})
	}
	r, err := b.resolveService(req.GetService().GetName(), "UpdateServiceRequest.service.name", "run.services.update")
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	var op *longrunningpb.Operation
	err = b.Store.Txn(func(tx *store.Tx) error {
		cur, exists := b.loadService(tx, r.name())
		if !exists {
			if !req.GetAllowMissing() {
				return notFound(r)
			}
			// allow_missing: an update of a service that is not there creates it.
			if err := validateSpec(req.GetService(), "UpdateServiceRequest"); err != nil {
				return err
			}
			svc := b.newService(r, req.GetService())
			if req.GetValidateOnly() {
				op = b.doneOperation(tx, r, svc)
				return nil
			}
			b.startReconcile(tx, svc)
			tx.Put(store.KindService, svc.Name, svc)
			op = b.newOperation(tx, r, svc)
			return nil
		}
		if e := req.GetService().GetEtag(); e != "" && e != cur.Etag {
			return apierr.New(codes.Aborted, fmt.Sprintf("The etag '%s' in the request does not match the current etag '%s' of service '%s'; the service was changed concurrently. Get it again and retry.", e, cur.Etag, r.name()))
		}
		var next *runpb.Service
		if len(paths) > 0 {
			var err error
			if next, err = applyMask(cur, req.GetService(), paths); err != nil {
				return err
			}
		} else {
			next = proto.Clone(cur).(*runpb.Service)
			replaceSpec(next, req.GetService())
		}
		applyDefaults(next)
		if err := validateSpec(next, "UpdateServiceRequest"); err != nil {
			return err
		}
		changed := b.change(cur, next, req.GetForceNewRevision())
		if req.GetValidateOnly() {
			op = b.doneOperation(tx, r, next)
			return nil
		}
		if changed {
			b.startReconcile(tx, next)
			tx.Put(store.KindService, next.Name, next)
		}
		op = b.newOperation(tx, r, next)
		return nil
	})
	return op, err
}

func (s *Services) DeleteService(ctx context.Context, req *runpb.DeleteServiceRequest) (*longrunningpb.Operation, error) {
	b := s.B
	r, err := b.resolveService(req.GetName(), "DeleteServiceRequest.name", "run.services.delete")
	if err != nil {
		return nil, err
	}
	var op *longrunningpb.Operation
	err = b.Store.Txn(func(tx *store.Tx) error {
		cur, exists := b.loadService(tx, r.name())
		if !exists {
			return notFound(r)
		}
		if e := req.GetEtag(); e != "" && e != cur.Etag {
			return apierr.New(codes.Aborted, fmt.Sprintf("The etag '%s' in the request does not match the current etag '%s' of service '%s'; the service was changed concurrently. Get it again and retry.", e, cur.Etag, r.name()))
		}
		now := b.now()
		cur.DeleteTime = timestamppb.New(now)
		cur.ExpireTime = timestamppb.New(now.Add(30 * 24 * time.Hour))
		if req.GetValidateOnly() {
			op = b.doneOperation(tx, r, cur)
			return nil
		}
		b.deleteLocked(tx, r.canonical, r.project)
		op = b.newOperation(tx, r, cur)
		tx.Put(store.KindOperationDone, op.Name, timestamppb.New(now.Add(b.ReconcileDelay)))
		return nil
	})
	return op, err
}

// IAM on the service itself (roles/run.invoker and friends).

func (s *Services) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	b := s.B
	r, err := b.resolveService(req.GetResource(), "GetIamPolicyRequest.resource", "run.services.getIamPolicy")
	if err != nil {
		return nil, err
	}
	return b.Policies.Get(r.name(), b.serviceExists(r), req.GetOptions())
}

func (s *Services) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	b := s.B
	r, err := b.resolveService(req.GetResource(), "SetIamPolicyRequest.resource", "run.services.setIamPolicy")
	if err != nil {
		return nil, err
	}
	return b.Policies.Set(r.name(), b.serviceExists(r), req)
}

// serviceExists is the IAM methods' check that the service exists; reading it completes a
// rollout that is due, as every read does.
func (b *Backend) serviceExists(r resolved) func(tx *store.Tx) error {
	return func(tx *store.Tx) error {
		if _, ok := b.loadService(tx, r.name()); !ok {
			return notFound(r)
		}
		return nil
	}
}

func (s *Services) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	b := s.B
	r, err := b.resolveService(req.GetResource(), "TestIamPermissionsRequest.resource", "run.services.get")
	if err != nil {
		return nil, err
	}
	return b.Policies.Test(b.serviceExists(r), req, "run.")
}

// Operations.

func (b *Backend) newOperation(tx *store.Tx, r resolved, svc *runpb.Service) *longrunningpb.Operation {
	meta, _ := anypb.New(svc)
	op := &longrunningpb.Operation{
		Name:     names.Operation(r.project.ID, r.canonical.Location, uuid.NewString()),
		Metadata: meta,
	}
	tx.Put(store.KindOperation, op.Name, op)
	return op
}

// doneOperation is the answer to a validate_only request: done at once,
// nothing changed.
func (b *Backend) doneOperation(tx *store.Tx, r resolved, svc *runpb.Service) *longrunningpb.Operation {
	op := b.newOperation(tx, r, svc)
	op.Done = true
	op.Result = &longrunningpb.Operation_Response{Response: op.Metadata}
	tx.Put(store.KindOperation, op.Name, op)
	return op
}
