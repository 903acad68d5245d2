package gcpfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	iap "cloud.google.com/go/iap/apiv1"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	run "cloud.google.com/go/run/apiv2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

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

// transport is how a test's clients reach the fake: Google's gRPC clients,
// or its REST clients against the REST surface.
type transport string

const (
	overGRPC transport = "gRPC"
	overREST transport = "REST"
)

var transports = []transport{overGRPC, overREST}

type fake struct {
	*gcpfake.Server
	transport transport
	run       *run.ServicesClient
	iap       *iap.IdentityAwareProxyAdminClient
	rm        *resourcemanager.ProjectsClient
}

// startFake starts a fake and points gRPC clients at it.
func startFake(t *testing.T, opts gcpfake.Options) *fake {
	t.Helper()
	return startFakeOver(t, overGRPC, opts)
}

// startFakeOver starts a fake serving both transports and points the
// clients at the one named.
func startFakeOver(t *testing.T, tr transport, opts gcpfake.Options) *fake {
	t.Helper()
	if opts.Seed.Projects == nil {
		opts.Seed = testSeed()
	}
	if opts.HTTPAddr == "" {
		opts.HTTPAddr = "127.0.0.1:0"
	}
	s, err := gcpfake.Start(opts)
	if err != nil {
		t.Fatalf("start fake: %v", err)
	}
	t.Cleanup(s.Stop)
	clientOpts := s.ClientOptions()
	if tr == overREST {
		clientOpts = s.RESTClientOptions()
	}
	return connect(t, s, tr, clientOpts)
}

// connect points Google's clients for tr (gRPC, or REST) at s with opts.
func connect(t *testing.T, s *gcpfake.Server, tr transport, opts []option.ClientOption) *fake {
	t.Helper()
	ctx := context.Background()
	f := &fake{Server: s, transport: tr}
	var err error
	switch tr {
	case overGRPC:
		f.run, err = run.NewServicesClient(ctx, opts...)
		if err == nil {
			f.iap, err = iap.NewIdentityAwareProxyAdminClient(ctx, opts...)
		}
		if err == nil {
			f.rm, err = resourcemanager.NewProjectsClient(ctx, opts...)
		}
	case overREST:
		f.run, err = run.NewServicesRESTClient(ctx, opts...)
		if err == nil {
			f.iap, err = iap.NewIdentityAwareProxyAdminRESTClient(ctx, opts...)
		}
		if err == nil {
			f.rm, err = resourcemanager.NewProjectsRESTClient(ctx, opts...)
		}
	}
	if err != nil {
		t.Fatalf("%s clients: %v", tr, err)
	}
	t.Cleanup(func() { f.run.Close(); f.iap.Close(); f.rm.Close() })
	return f
}

// forEachTransport runs fn once per transport, each on a fresh fake.
func forEachTransport(t *testing.T, opts gcpfake.Options, fn func(t *testing.T, f *fake)) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) { fn(t, startFakeOver(t, tr, opts)) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails unless err carries status code c, and returns the status.
func wantCode(t *testing.T, err error, c codes.Code) *status.Status {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v, got success", c)
	}
	st, err := statusOf(err)
	if err != nil {
		t.Fatalf("want %v: %v", c, err)
	}
	if st.Code() != c {
		t.Fatalf("want %v, got %v: %s", c, st.Code(), st.Message())
	}
	return st
}

// statusOf is the google.rpc.Status a call failed with: the gRPC status,
// or the one in a REST error's JSON envelope. The REST clients' own
// GRPCStatus is derived from the HTTP code alone and has no details, so
// the envelope is read instead, and its HTTP status must be the one Google
// maps the code to.
func statusOf(err error) (*status.Status, error) {
	var herr *googleapi.Error
	if errors.As(err, &herr) {
		return statusFromEnvelope(herr.Code, []byte(herr.Body))
	}
	if st, ok := status.FromError(err); ok {
		return st, nil
	}
	// gRPC clients wrap statuses in *apierror.APIError, which has GRPCStatus.
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return gs.GRPCStatus(), nil
	}
	return nil, fmt.Errorf("not a status error: %w", err)
}

// googleHTTPStatus is the HTTP mapping in google/rpc/code.proto.
var googleHTTPStatus = map[codes.Code]int{
	codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400, codes.DeadlineExceeded: 504,
	codes.NotFound: 404, codes.AlreadyExists: 409, codes.PermissionDenied: 403, codes.ResourceExhausted: 429,
	codes.FailedPrecondition: 400, codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501,
	codes.Internal: 500, codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
}

// restEnvelope is Google's REST error body, read strictly.
type restEnvelope struct {
	Error struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Status  string            `json:"status"`
		Details []json.RawMessage `json:"details"`
	} `json:"error"`
}

func statusFromEnvelope(httpCode int, body []byte) (*status.Status, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var env restEnvelope
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("HTTP %d body is not Google's error envelope: %v\n%s", httpCode, err, body)
	}
	c, ok := gcpfake.CodeByName(env.Error.Status)
	if !ok {
		return nil, fmt.Errorf("envelope status %q is not a google.rpc.Code name", env.Error.Status)
	}
	if want := googleHTTPStatus[c]; httpCode != want || env.Error.Code != want {
		return nil, fmt.Errorf("%s answered HTTP %d with error.code %d, want %d", env.Error.Status, httpCode, env.Error.Code, want)
	}
	sp := &spb.Status{Code: int32(c), Message: env.Error.Message}
	for _, d := range env.Error.Details {
		a := &anypb.Any{}
		if err := protojson.Unmarshal(d, a); err != nil {
			return nil, fmt.Errorf("detail %s: %v", d, err)
		}
		sp.Details = append(sp.Details, a)
	}
	return status.FromProto(sp), nil
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

// codeOf is status.Code that also sees through the clients' wrapping and
// reads REST envelopes.
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	st, serr := statusOf(err)
	if serr != nil {
		return codes.Unknown
	}
	return st.Code()
}
