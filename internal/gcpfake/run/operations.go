package run

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/names"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Operations implements longrunningpb.OperationsServer for Cloud Run's
// operations.
type Operations struct {
	longrunningpb.UnimplementedOperationsServer
	B *Backend
}

var _ longrunningpb.OperationsServer = (*Operations)(nil)

// refreshOperation completes an operation whose work is done: a create or
// update once the service's observed_generation has caught up with the
// generation the operation produced, a delete once ReconcileDelay passed.
func (b *Backend) refreshOperation(tx *store.Tx, op *longrunningpb.Operation) *longrunningpb.Operation {
	if op.Done {
		return op
	}
	var target runpb.Service
	if err := op.GetMetadata().UnmarshalTo(&target); err != nil {
		return op
	}
	if at, ok := tx.Get(store.KindOperationDone, op.Name); ok {
		if !b.now().Before(at.(*timestamppb.Timestamp).AsTime()) {
			op.Done = true
			op.Result = &longrunningpb.Operation_Response{Response: op.Metadata}
			tx.Delete(store.KindOperationDone, op.Name)
			tx.Put(store.KindOperation, op.Name, op)
		}
		return op
	}
	svc, ok := b.loadService(tx, target.Name)
	if !ok || svc.Uid != target.Uid {
		op.Done = true
		s := names.Service{}
		if parsed, ok := names.ParseService(target.Name); ok {
			s = parsed
		}
		op.Result = &longrunningpb.Operation_Error{Error: &status.Status{
			Code:    int32(codes.NotFound),
			Message: fmt.Sprintf("Resource '%s' of kind 'SERVICE' in region '%s' in project '%s' does not exist.", s.ID, s.Location, s.Project),
		}}
		tx.Put(store.KindOperation, op.Name, op)
		return op
	}
	meta, _ := anypb.New(svc)
	op.Metadata = meta
	failed := svc.GetTerminalCondition().GetState() == runpb.Condition_CONDITION_FAILED
	if !svc.Reconciling && (svc.ObservedGeneration >= target.Generation || failed) {
		op.Done = true
		op.Result = &longrunningpb.Operation_Response{Response: meta}
		if tc := svc.GetTerminalCondition(); tc.GetState() == runpb.Condition_CONDITION_FAILED {
			op.Result = &longrunningpb.Operation_Error{Error: &status.Status{Code: int32(codes.FailedPrecondition), Message: tc.GetMessage()}}
		}
	}
	tx.Put(store.KindOperation, op.Name, op)
	return op
}

func (o *Operations) get(name string) (*longrunningpb.Operation, error) {
	b := o.B
	project, location, id, ok := names.ParseOperation(name)
	if !ok {
		return nil, apierr.BadRequest(fmt.Sprintf("Invalid operation name %q; expected projects/{project}/locations/{location}/operations/{operation}.", name),
			apierr.FieldViolation{Field: "name", Description: "must be of the form projects/{project}/locations/{location}/operations/{operation}"})
	}
	p, ok := b.Directory.Lookup(project)
	if !ok {
		return nil, apierr.PermissionDenied("run.operations.get", name, fmt.Sprintf("Permission 'run.operations.get' denied on resource '%s' (or resource may not exist).", name))
	}
	canonical := names.Operation(p.ID, location, id)
	var out *longrunningpb.Operation
	err := b.Store.Txn(func(tx *store.Tx) error {
		m, ok := tx.Get(store.KindOperation, canonical)
		if !ok {
			return apierr.New(codes.NotFound, fmt.Sprintf("Resource '%s' of kind 'OPERATION' in region '%s' in project '%s' does not exist.", id, location, project))
		}
		out = b.refreshOperation(tx, m.(*longrunningpb.Operation))
		return nil
	})
	return out, err
}

func (o *Operations) GetOperation(ctx context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	return o.get(req.GetName())
}

func (o *Operations) ListOperations(ctx context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	b := o.B
	project, location, ok := names.ParseLocation(req.GetName())
	if !ok {
		return nil, apierr.BadRequest(fmt.Sprintf("Invalid name %q; expected projects/{project}/locations/{location}.", req.GetName()),
			apierr.FieldViolation{Field: "name", Description: "must be of the form projects/{project}/locations/{location}"})
	}
	p, ok := b.Directory.Lookup(project)
	if !ok {
		return nil, apierr.PermissionDenied("run.operations.list", req.GetName(), fmt.Sprintf("Permission 'run.operations.list' denied on resource '%s' (or resource may not exist).", req.GetName()))
	}
	prefix := "projects/" + p.ID + "/locations/"
	if location != "-" {
		prefix += location + "/operations/"
	}
	var all []*longrunningpb.Operation
	_ = b.Store.Txn(func(tx *store.Tx) error {
		for _, n := range tx.Names(store.KindOperation, prefix) {
			m, _ := tx.Get(store.KindOperation, n)
			all = append(all, b.refreshOperation(tx, m.(*longrunningpb.Operation)))
		}
		return nil
	})
	start, err := decodePageToken(req.GetPageToken())
	if err != nil || start > len(all) {
		return nil, apierr.BadRequest("Invalid page token.", apierr.FieldViolation{Field: "page_token", Description: "invalid page token"})
	}
	size := int(req.GetPageSize())
	if size <= 0 || size > 1000 {
		size = 100
	}
	end := min(start+size, len(all))
	resp := &longrunningpb.ListOperationsResponse{Operations: all[start:end]}
	if end < len(all) {
		resp.NextPageToken = encodePageToken(end)
	}
	return resp, nil
}

func (o *Operations) DeleteOperation(ctx context.Context, req *longrunningpb.DeleteOperationRequest) (*emptypb.Empty, error) {
	if _, err := o.get(req.GetName()); err != nil {
		return nil, err
	}
	project, location, id, _ := names.ParseOperation(req.GetName())
	p, _ := o.B.Directory.Lookup(project)
	_ = o.B.Store.Txn(func(tx *store.Tx) error {
		tx.Delete(store.KindOperation, names.Operation(p.ID, location, id))
		tx.Delete(store.KindOperationDone, names.Operation(p.ID, location, id))
		return nil
	})
	return &emptypb.Empty{}, nil
}

func (o *Operations) CancelOperation(ctx context.Context, req *longrunningpb.CancelOperationRequest) (*emptypb.Empty, error) {
	if _, err := o.get(req.GetName()); err != nil {
		return nil, err
	}
	return nil, apierr.New(codes.Unimplemented, "Cancelling Cloud Run operations is not supported.")
}

// WaitOperation blocks until the operation is done, the request's timeout
// (default one minute) passes, or the caller gives up.
func (o *Operations) WaitOperation(ctx context.Context, req *longrunningpb.WaitOperationRequest) (*longrunningpb.Operation, error) {
	timeout := time.Minute
	if t := req.GetTimeout(); t != nil {
		timeout = t.AsDuration()
	}
	deadline := time.Now().Add(timeout)
	for {
		op, err := o.get(req.GetName())
		if err != nil || op.Done || !time.Now().Before(deadline) {
			return op, err
		}
		select {
		case <-ctx.Done():
			return nil, apierr.New(codes.DeadlineExceeded, "Deadline expired before operation could complete.")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
