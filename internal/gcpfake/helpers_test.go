package gcpfake_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	iap "cloud.google.com/go/iap/apiv1"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	run "cloud.google.com/go/run/apiv2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runguard/runguard/internal/gcpfake"
)

const (
	alpha       = "proj-alpha"
	alphaNumber = int64(123456789012)
	region      = "us-central1"
	helloName   = "projects/proj-alpha/locations/us-central1/services/hello"
	privateName = "projects/proj-alpha/locations/us-central1/services/private"
)

var helloIAP = fmt.Sprintf("projects/%d/iap_web/cloud_run-us-central1/services/hello", alphaNumber)

func testSeed() gcpfake.Seed {
	principals := []string{
		"user:alice@example.com", "user:bob@example.com", "group:team@example.com",
		"serviceAccount:robot@proj-alpha.iam.gserviceaccount.com",
	}
	for i := range 10 {
		principals = append(principals, fmt.Sprintf("user:worker%d@example.com", i))
	}
	return gcpfake.Seed{
		Projects: []gcpfake.Project{
			{ID: alpha, Number: alphaNumber, Principals: principals},
			{ID: "proj-noiap", Number: 222222222222, IAPAPIDisabled: true},
			{ID: "proj-noagent", Number: 333333333333, NoIAPServiceAgent: true},
		},
		Services: []gcpfake.Service{
			{Project: alpha, Location: region, Name: "hello", Public: true},
			{Project: alpha, Location: region, Name: "private", IAPEnabled: true},
			{Project: "proj-noiap", Location: region, Name: "svc"},
			{Project: "proj-noagent", Location: "europe-west1", Name: "svc"},
		},
	}
}

type fake struct {
	*gcpfake.Server
	run *run.ServicesClient
	iap *iap.IdentityAwareProxyAdminClient
	rm  *resourcemanager.ProjectsClient
}

func startFake(t *testing.T, opts gcpfake.Options) *fake {
	t.Helper()
	if opts.Seed.Projects == nil {
		opts.Seed = testSeed()
	}
	s, err := gcpfake.Start(opts)
	if err != nil {
		t.Fatalf("start fake: %v", err)
	}
	t.Cleanup(s.Stop)
	ctx := context.Background()
	f := &fake{Server: s}
	if f.run, err = run.NewServicesClient(ctx, s.ClientOptions()...); err != nil {
		t.Fatalf("run client: %v", err)
	}
	if f.iap, err = iap.NewIdentityAwareProxyAdminClient(ctx, s.ClientOptions()...); err != nil {
		t.Fatalf("iap client: %v", err)
	}
	if f.rm, err = resourcemanager.NewProjectsClient(ctx, s.ClientOptions()...); err != nil {
		t.Fatalf("resourcemanager client: %v", err)
	}
	t.Cleanup(func() { f.run.Close(); f.iap.Close(); f.rm.Close() })
	return f
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails unless err is a gRPC status with code c, and returns it.
func wantCode(t *testing.T, err error, c codes.Code) *status.Status {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v, got success", c)
	}
	st, ok := status.FromError(err)
	if !ok {
		// Clients wrap statuses in *apierror.APIError, which has GRPCStatus.
		var gs interface{ GRPCStatus() *status.Status }
		if errors.As(err, &gs) {
			st = gs.GRPCStatus()
		} else {
			t.Fatalf("want %v, got non-status error %v", c, err)
		}
	}
	if st.Code() != c {
		t.Fatalf("want %v, got %v: %s", c, st.Code(), st.Message())
	}
	return st
}

func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	return nil
}

func badRequest(st *status.Status) *errdetails.BadRequest {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			return br
		}
	}
	return nil
}

func retryInfo(st *status.Status) *errdetails.RetryInfo {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri
		}
	}
	return nil
}

func gcpfakeOptions() gcpfake.Options { return gcpfake.Options{} }

// codeOf is status.Code that also sees through the clients' wrapping.
func codeOf(err error) codes.Code {
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return gs.GRPCStatus().Code()
	}
	return status.Code(err)
}
