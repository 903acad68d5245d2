// Package rest serves the fake's gRPC APIs in their REST/JSON form, the way
// Google's front ends do: connectrpc.com/vanguard transcodes each request
// by the google.api.http annotations in the official descriptors and
// dispatches it into the fake's *grpc.Server, so REST and gRPC calls share
// one state, one interceptor (call log, faults, audit entries) and one set
// of handlers. This package adds only what the descriptors do not carry:
// Cloud Run's HTTP rules for its Operations mixin and v1 IAM paths (from
// its service configuration), Google's system parameters (alt,
// prettyPrint), Google's error envelope, and Resource Manager v1
// projects.get, which has no Go gRPC package.
package rest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"connectrpc.com/vanguard"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// Options configures NewHandler.
type Options struct {
	// GRPC is the fake's server with every API registered and NoteHandled
	// first among its unary interceptors. REST calls run its handlers
	// through its interceptors.
	GRPC *grpc.Server
	// GetProject answers Resource Manager v3 GetProject; the v1 path is
	// served from it. The caller makes it pass the same interceptor as a
	// gRPC call.
	GetProject func(ctx context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error)
}

// handler routes one request: the hand-written v1 project path, or one of
// two transcoders over the same gRPC server that differ only in how they
// write enums.
type handler struct {
	enumNames, enumNumbers *vanguard.Transcoder
	getProject             func(ctx context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error)
}

// NewHandler builds the REST handler over o.GRPC. Call it after every
// service is registered on the server.
func NewHandler(o Options) (http.Handler, error) {
	h := &handler{getProject: o.GetProject}
	var err error
	if h.enumNames, err = newTranscoder(o.GRPC, false); err != nil {
		return nil, err
	}
	if h.enumNumbers, err = newTranscoder(o.GRPC, true); err != nil {
		return nil, err
	}
	return h, nil
}

func newTranscoder(srv *grpc.Server, enumNumbers bool) (*vanguard.Transcoder, error) {
	svcs, defaults, err := services(srv)
	if err != nil {
		return nil, err
	}
	t, err := vanguard.NewTranscoder(svcs, defaults,
		vanguard.WithRules(serviceConfigRules()...),
		vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec {
			// Google writes no unpopulated fields and rejects unknown ones.
			return &vanguard.JSONCodec{
				MarshalOptions:   protojson.MarshalOptions{Resolver: res, UseEnumNumbers: enumNumbers},
				UnmarshalOptions: protojson.UnmarshalOptions{Resolver: res},
			}
		}),
		vanguard.WithUnknownHandler(http.HandlerFunc(unknownRoute)),
	)
	if err != nil {
		return nil, fmt.Errorf("REST transcoder: %w", err)
	}
	return t, nil
}

// handledKey marks, in a REST request's context, whether a gRPC handler
// took the call.
type handledKey struct{}

// NoteHandled is a unary interceptor for the server NewHandler wraps, to run
// before the others: it tells this package that a REST request got past the
// transcoder into a handler, so an error without one is the transcoder's.
func NoteHandled(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if h, ok := ctx.Value(handledKey{}).(*atomic.Bool); ok {
		h.Store(true)
	}
	return handler(ctx, req)
}

// serviceConfigRules are the HTTP rules Google keeps in Cloud Run's service
// configuration rather than in the protos: the v2 paths of its
// google.longrunning.Operations mixin (the url_template strings in
// cloud.google.com/go/run/apiv2's REST client) and the Admin API v1 IAM
// paths, which take the same iam.v1 messages and so share the v2 handlers
// and policy store (v1 getIamPolicy is a GET, as in
// google.golang.org/api/run/v1; a POST with a body is accepted too).
func serviceConfigRules() []*annotations.HttpRule {
	const op = "/v2/{name=projects/*/locations/*/operations/*}"
	const v1Service = "/v1/{resource=projects/*/locations/*/services/*}"
	return append([]*annotations.HttpRule{
		{Selector: "google.longrunning.Operations.GetOperation", Pattern: &annotations.HttpRule_Get{Get: op}},
		{Selector: "google.longrunning.Operations.DeleteOperation", Pattern: &annotations.HttpRule_Delete{Delete: op}},
		{Selector: "google.longrunning.Operations.ListOperations", Pattern: &annotations.HttpRule_Get{Get: "/v2/{name=projects/*/locations/*}/operations"}},
		{Selector: "google.longrunning.Operations.WaitOperation", Pattern: &annotations.HttpRule_Post{Post: op + ":wait"}, Body: "*"},
		{
			Selector: "google.cloud.run.v2.Services.GetIamPolicy", Pattern: &annotations.HttpRule_Get{Get: v1Service + ":getIamPolicy"},
			AdditionalBindings: []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Post{Post: v1Service + ":getIamPolicy"}, Body: "*"}},
		},
		{Selector: "google.cloud.run.v2.Services.SetIamPolicy", Pattern: &annotations.HttpRule_Post{Post: v1Service + ":setIamPolicy"}, Body: "*"},
		{Selector: "google.cloud.run.v2.Services.TestIamPermissions", Pattern: &annotations.HttpRule_Post{Post: v1Service + ":testIamPermissions"}, Body: "*"},
	}, resourceManagerIAMRules()...)
}

// resourceManagerIAMRules are Resource Manager's older IAM paths, which gcloud's projects,
// resource-manager folders and organizations commands call (v1 for projects and organizations,
// v2 for folders; googlecloudsdk/api_lib/cloudresourcemanager and resource_manager): the same
// iam.v1 messages as v3's, so they share its handlers and policies and are logged as v3's.
func resourceManagerIAMRules() []*annotations.HttpRule {
	var out []*annotations.HttpRule
	for _, r := range []struct{ service, path string }{
		{"Projects", "/v1/{resource=projects/*}"}, {"Folders", "/v2/{resource=folders/*}"}, {"Organizations", "/v1/{resource=organizations/*}"},
	} {
		for _, m := range []string{"GetIamPolicy", "SetIamPolicy"} {
			verb := ":" + strings.ToLower(m[:1]) + m[1:]
			out = append(out, &annotations.HttpRule{Selector: "google.cloud.resourcemanager.v3." + r.service + "." + m,
				Pattern: &annotations.HttpRule_Post{Post: r.path + verb}, Body: "*"})
		}
	}
	return out
}

// systemParams are the Google system parameters a request carried.
type systemParams struct {
	enumNumbers bool
	pretty      bool
}

// takeSystemParams removes alt and prettyPrint (each also with a leading
// $) from the query, so that only request fields reach the transcoder, and
// reports what they asked for. Google pretty-prints unless told not to.
//
// It also drops an empty field mask (updateMask=), which the generated
// REST clients send for an empty mask: vanguard v0.4.0 cannot parse an
// empty FieldMask, and every method modelled treats an empty mask as none.
func takeSystemParams(u *url.URL) (systemParams, error) {
	p := systemParams{pretty: true}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return p, status.Errorf(codes.InvalidArgument, "Invalid query string: %v", err)
	}
	for key, values := range q {
		switch strings.TrimPrefix(key, "$") {
		case "alt":
			for _, v := range values {
				// The generated REST clients send $alt=json;enum-encoding=int.
				format, opt, _ := strings.Cut(v, ";")
				if format != "json" || (opt != "" && opt != "enum-encoding=int") {
					return p, status.Errorf(codes.InvalidArgument, "Invalid value at 'alt' (%s), %q", key, v)
				}
				p.enumNumbers = opt != ""
			}
		case "prettyPrint":
			for _, v := range values {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return p, status.Errorf(codes.InvalidArgument, "Invalid value at 'pretty_print' (TYPE_BOOL), %q", v)
				}
				p.pretty = b
			}
		default:
			if !isEmptyMask(key, values) {
				continue
			}
		}
		delete(q, key)
	}
	u.RawQuery = q.Encode()
	return p, nil
}

func isEmptyMask(key string, values []string) bool {
	return (strings.HasSuffix(key, "Mask") || strings.HasSuffix(key, "_mask")) && len(values) == 1 && values[0] == ""
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	params, err := takeSystemParams(r.URL)
	if err != nil {
		writeStatus(w, status.Convert(err), true)
		return
	}
	if id, ok := v1ProjectID(r); ok {
		h.serveV1Project(w, r, id, params)
		return
	}
	if !isRESTPath(r.URL.Path) {
		notFound(w, r)
		return
	}
	t := h.enumNames
	if params.enumNumbers {
		t = h.enumNumbers
	}
	buf := &bufferedResponse{header: http.Header{}}
	var handled atomic.Bool // set on the handler's goroutine
	t.ServeHTTP(buf, r.WithContext(context.WithValue(r.Context(), handledKey{}, &handled)))
	if buf.code == http.StatusMethodNotAllowed {
		notFound(w, r)
		return
	}
	buf.finish(w, params.pretty, handled.Load())
}

// isRESTPath keeps the transcoder to the versioned REST paths: the gRPC,
// gRPC-Web and Connect protocols it could also serve belong on the gRPC
// port.
func isRESTPath(p string) bool {
	return strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v3/")
}

// notFound answers a path (or a verb on it) that no API serves.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeStatus(w, notFoundStatus(r), true)
}

func notFoundStatus(r *http.Request) *status.Status {
	return status.Newf(codes.NotFound, "The requested URL %s was not found on this server.", r.URL.Path)
}

// unknownRoute answers inside the transcoder, as its own errors do: a
// google.rpc.Status that finish puts in the envelope.
func unknownRoute(w http.ResponseWriter, r *http.Request) {
	body, _ := protojson.Marshal(notFoundStatus(r).Proto())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(body)
}

// bufferedResponse holds the transcoder's whole answer so that finish can
// rewrite errors into Google's envelope and indent JSON. Responses here are
// unary and small.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

// Flush is a no-op: vanguard requires an http.Flusher.
func (b *bufferedResponse) Flush() {}

// finish writes the buffered answer. An error from a request no handler
// took is the transcoder's: a path, verb, query parameter or body it could
// not bind.
func (b *bufferedResponse) finish(w http.ResponseWriter, pretty, handled bool) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	if b.code >= 400 {
		st := statusFromTranscoder(b.code, b.body.Bytes())
		if !handled && st.Code() == codes.Unknown {
			// Google: 400 "Invalid JSON payload received. Unknown name …".
			st = status.New(codes.InvalidArgument, st.Message())
		}
		writeStatus(w, st, pretty)
		return
	}
	writeJSON(w, b.code, b.body.Bytes(), pretty)
}
