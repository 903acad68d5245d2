package gcpfake

import (
	"context"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// operationsRouter serves google.longrunning.Operations for every API that has operations: each
// call goes to the API the registration table says serves the operation it names (methods.go,
// api.owns), so the interceptor's permission, quota and call log and the handler agree.
type operationsRouter struct {
	longrunningpb.UnimplementedOperationsServer
	byPrefix map[string]longrunningpb.OperationsServer // by the API's prefix
}

const operationsService = "google.longrunning.Operations"

func (r *operationsRouter) route(req any) longrunningpb.OperationsServer {
	if a := apiServing(operationsService, req); a != nil && r.byPrefix[a.prefix] != nil {
		return r.byPrefix[a.prefix]
	}
	return &r.UnimplementedOperationsServer
}

func (r *operationsRouter) GetOperation(ctx context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	return r.route(req).GetOperation(ctx, req)
}

func (r *operationsRouter) ListOperations(ctx context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	return r.route(req).ListOperations(ctx, req)
}

func (r *operationsRouter) DeleteOperation(ctx context.Context, req *longrunningpb.DeleteOperationRequest) (*emptypb.Empty, error) {
	return r.route(req).DeleteOperation(ctx, req)
}

func (r *operationsRouter) CancelOperation(ctx context.Context, req *longrunningpb.CancelOperationRequest) (*emptypb.Empty, error) {
	return r.route(req).CancelOperation(ctx, req)
}

func (r *operationsRouter) WaitOperation(ctx context.Context, req *longrunningpb.WaitOperationRequest) (*longrunningpb.Operation, error) {
	return r.route(req).WaitOperation(ctx, req)
}
