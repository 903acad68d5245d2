// Package gcpfake is a fake of the Google Cloud APIs runguard's controller
// calls: Cloud Run Admin v2 Services (with its long-running operations),
// the IAM and settings surface of the IAP Admin API, Resource Manager v3
// (projects, folders and organizations, and their IAM policies), IAM's
// roles.get, IAM Credentials GenerateAccessToken, and Access Context
// Manager v1's access policies and levels (package acm). It knows who is
// calling (the bearer token of each request) and, when the seed grants
// roles, checks the caller's permissions on the project (or the access
// policy and its organization); deny rules
// (Server.DenyPermission) take a permission on a resource away from every
// caller. It serves the official generated gRPC interfaces on one real
// gRPC server on loopback, so tests use Google's own Go clients against it,
// and it offers inspection, out-of-band changes, fault injection, rate quotas
// and a call log to tests and to the standalone binary's admin endpoint.
//
// It is an independent oracle: it follows Google's documentation and
// imports nothing from the controller.
package gcpfake

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"cloud.google.com/go/iap/apiv1/iappb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/runguard/runguard/internal/gcpfake/access"
	"github.com/runguard/runguard/internal/gcpfake/acm"
	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/hierarchy"
	"github.com/runguard/runguard/internal/gcpfake/iamadmin"
	"github.com/runguard/runguard/internal/gcpfake/iamcredentials"
	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
	"github.com/runguard/runguard/internal/gcpfake/iap"
	"github.com/runguard/runguard/internal/gcpfake/projects"
	"github.com/runguard/runguard/internal/gcpfake/resourcemanager"
	"github.com/runguard/runguard/internal/gcpfake/rest"
	"github.com/runguard/runguard/internal/gcpfake/run"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Options configures Start.
type Options struct {
	// Addr to listen on; "" means 127.0.0.1:0.
	Addr string
	Seed Seed
	// ReconcileDelay is how long a Cloud Run change keeps the service
	// reconciling and its operation not done. 0: done on the first
	// GetOperation or GetService after the change.
	ReconcileDelay time.Duration
	// Logger gets one line per call; nil discards.
	Logger *slog.Logger
	// FaultSeed seeds the source FaultRule.Probability draws from.
	FaultSeed int64
	// Audit publishes an Admin Activity audit entry for every change to a
	// Pub/Sub topic; the zero value publishes none.
	Audit AuditOptions
	// HTTPAddr, if set, is where the REST/JSON form of the same APIs is
	// served ("127.0.0.1:0" picks a port); "" serves none.
	HTTPAddr string
	// IAPAcceptProjectID makes IAP resolve a project ID in its resource
	// names (projects/{id}/iap_web/…) as it does the number; false rejects
	// the ID form with INVALID_ARGUMENT. Whether Google accepts it is
	// disputed; `gcloud beta iap settings get --project=ID` sends it.
	IAPAcceptProjectID bool
	// TokenLifetime, if set, caps the lifetime of the tokens GenerateAccessToken issues (their
	// expireTime says so), so tests see clients refresh tokens — and a revoked token-creator
	// grant take effect — within seconds instead of an hour. Google issues what is asked.
	TokenLifetime time.Duration
	// Quotas refuse Cloud Run and IAP calls above a rate per consumer project and region (Access
	// Context Manager's per organization) with RESOURCE_EXHAUSTED and a RetryInfo, as Google's
	// quotas do; the zero value refuses none.
	Quotas Quotas
	// ACMDeferOperations answers Access Context Manager's level changes with operations that are
	// done only on their first GetOperation (Google answers them done); the change itself is made
	// either way.
	ACMDeferOperations bool
	// FrontDoorAddr, if set, is where the fake's IAP in front of its Cloud Run services listens
	// (FrontDoorHandler; "127.0.0.1:0" picks a port); "" serves none.
	FrontDoorAddr string
}

// Server is a running fake.
type Server struct {
	lis      net.Listener
	grpc     *grpc.Server
	httpLis  net.Listener // nil: no REST surface
	http     *http.Server
	frontLis net.Listener // nil: no front door
	front    *http.Server
	rm       *resourcemanager.Server
	store    *store.Store
	policies *iampolicy.Store // every IAM policy
	dir      *projects.Directory
	run      *run.Backend
	acm      *acm.Backend
	// tree is the hierarchy above projects: the organizations (seeded, and the parents of access
	// policies, folders and projects) and the folders.
	tree    *hierarchy.Tree
	faults  *faultSet
	quotas  *quotaSet
	calls   *callLog
	logger  *slog.Logger
	audit   *auditEmitter // nil: audit entries are off
	access  *access.Authority
	tokens  *access.Tokens
	stopped sync.Once
}

// Start builds the seeded world and serves it.
func Start(opts Options) (*Server, error) {
	s, err := newWorld(opts)
	if err != nil {
		return nil, err
	}
	if opts.Audit.enabled() {
		if s.audit, err = newAuditEmitter(opts.Audit, s.logger); err != nil {
			return nil, err
		}
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		s.audit.stop()
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s.lis = lis
	s.grpc = grpc.NewServer(grpc.ChainUnaryInterceptor(rest.NoteHandled, s.intercept))
	s.register(opts)
	if opts.HTTPAddr != "" {
		if err := s.startREST(opts.HTTPAddr); err != nil {
			_ = lis.Close()
			s.audit.stop()
			return nil, err
		}
	}
	if opts.FrontDoorAddr != "" {
		if err := s.startFrontDoor(opts.FrontDoorAddr); err != nil {
			s.Stop()
			_ = lis.Close()
			return nil, err
		}
	}
	go func() { _ = s.grpc.Serve(lis) }()
	return s, nil
}

// register serves every API on the gRPC server. Cloud Run and Access Context Manager share
// google.longrunning.Operations: one router hands each call to the API whose operation it names.
func (s *Server) register(opts Options) {
	s.rm = &resourcemanager.Server{Directory: s.dir, Policies: s.policies}
	runpb.RegisterServicesServer(s.grpc, &run.Services{B: s.run})
	longrunningpb.RegisterOperationsServer(s.grpc, &operationsRouter{byPrefix: map[string]longrunningpb.OperationsServer{
		"operations":    &run.Operations{B: s.run},
		"acmoperations": &acm.Operations{B: s.acm},
	}})
	iappb.RegisterIdentityAwareProxyAdminServiceServer(s.grpc, &iap.Server{Store: s.store, Directory: s.dir, Policies: s.policies, AcceptProjectID: opts.IAPAcceptProjectID})
	resourcemanagerpb.RegisterProjectsServer(s.grpc, s.rm)
	resourcemanagerpb.RegisterFoldersServer(s.grpc, &resourcemanager.Folders{Tree: s.tree, Policies: s.policies})
	resourcemanagerpb.RegisterOrganizationsServer(s.grpc, &resourcemanager.Organizations{Tree: s.tree, Policies: s.policies})
	adminpb.RegisterIAMServer(s.grpc, &iamadmin.Server{Access: s.access})
	credentialspb.RegisterIAMCredentialsServer(s.grpc, &iamcredentials.Server{Access: s.access, Tokens: s.tokens, LifetimeCap: opts.TokenLifetime})
	accesscontextmanagerpb.RegisterAccessContextManagerServer(s.grpc, &acm.Server{B: s.acm, Policies: s.policies})
}

// startREST serves the REST surface (package rest) on addr.
func (s *Server) startREST(addr string) error {
	h, err := rest.NewHandler(rest.Options{GRPC: s.grpc, GetProject: s.getProjectIntercepted})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	s.httpLis = lis
	s.http = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.http.Serve(lis) }()
	return nil
}

// getProjectIntercepted runs v3 GetProject through the interceptor, for the
// hand-written Resource Manager v1 path: it is logged, faulted and denied as
// resourcemanager.GetProject.
func (s *Server) getProjectIntercepted(ctx context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error) {
	info := &grpc.UnaryServerInfo{Server: s.rm, FullMethod: resourcemanagerpb.Projects_GetProject_FullMethodName}
	resp, err := s.intercept(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return s.rm.GetProject(ctx, req.(*resourcemanagerpb.GetProjectRequest))
	})
	if err != nil {
		return nil, err
	}
	return resp.(*resourcemanagerpb.Project), nil
}

// Endpoint is host:port of the gRPC server.
func (s *Server) Endpoint() string { return s.lis.Addr().String() }

// HTTPEndpoint is host:port of the REST surface, "" if Options.HTTPAddr
// was empty.
func (s *Server) HTTPEndpoint() string {
	if s.httpLis == nil {
		return ""
	}
	return s.httpLis.Addr().String()
}

// RESTClientOptions point a Google Cloud Go REST client
// (run.NewServicesRESTClient, …) or a google.golang.org/api client at the
// REST surface: plain HTTP, no credentials. Only with Options.HTTPAddr.
func (s *Server) RESTClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint("http://" + s.HTTPEndpoint()),
		option.WithoutAuthentication(),
	}
}

// ClientOptions point a Google Cloud Go client at the fake: its endpoint,
// no credentials, plaintext gRPC.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Endpoint()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Stop stops gracefully, cutting off calls still running after 2 seconds
// (REST, then gRPC).
// Audit entries not yet published are dropped.
func (s *Server) Stop() {
	s.stopped.Do(func() {
		s.stopFrontDoor()
		// REST calls run inside the gRPC server's handlers: end them first.
		if s.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if s.http.Shutdown(ctx) != nil {
				_ = s.http.Close()
			}
			cancel()
		}
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			s.grpc.Stop()
		}
		s.audit.stop()
	})
}

// intercept is where every call is authenticated, authorized, metered, logged, counted,
// delayed and failed.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	method := shortMethod(info.FullMethod, req)
	resource := resourceOf(method, req)
	// Google's front end refuses a call it cannot authenticate or authorize, or that is above
	// the consumer's quota, before any backend sees it, so such a call meets no fault rule (and
	// uses up none).
	caller, err := s.authenticate(ctx)
	if err == nil {
		err = s.authorize(method, req, caller)
	}
	throttled := false
	if err == nil {
		err = s.quotas.admit(method, resource, start)
		throttled = err != nil
	}
	var d decision
	if err == nil {
		d = s.faults.decide(method, resource)
	}
	ctx = access.WithCaller(ctx, caller)
	var resp any
	var applied any // the handler's response when it succeeded, whatever the caller is told
	if err == nil && d.latency > 0 {
		t := time.NewTimer(d.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			err = status.FromContextError(ctx.Err()).Err()
		}
	}
	if err == nil {
		if d.fail != nil && !d.fail.AfterApply {
			err = s.injected(d.fail, method)
		} else {
			resp, err = handler(ctx, req)
			if err == nil {
				resp = s.filterTested(method, req, resp, caller)
				applied = resp
			}
			if d.fail != nil {
				resp, err = nil, s.injected(d.fail, method)
			}
		}
	}
	// An AfterApply fault loses the response of a change that happened, and
	// Google logs the change; a call that failed changed nothing.
	if applied != nil && s.audit != nil && isWrite(method) {
		if c, ok := s.auditCall(method, req, applied, time.Now()); ok {
			c.principal = principalEmail(caller)
			s.audit.emit(c)
		}
	}
	code := status.Code(err)
	call := Call{Method: method, Resource: resource, Code: code, Time: start, Write: isWrite(method), Injected: d.fail != nil, Throttled: throttled, Duration: time.Since(start), Caller: caller}
	s.calls.add(call)
	attrs := []any{"method", method, "resource", resource, "code", CodeName(code), "duration", call.Duration.Round(time.Microsecond)}
	if caller != "" {
		attrs = append(attrs, "caller", caller)
	}
	if call.Injected {
		attrs = append(attrs, "injected", true)
	}
	if call.Throttled {
		attrs = append(attrs, "throttled", true)
	}
	if err != nil && code != codes.OK {
		attrs = append(attrs, "error", status.Convert(err).Message())
	}
	s.logger.Info("gcpfake call", attrs...)
	return resp, err
}

func (s *Server) injected(r *FaultRule, method string) error {
	endpoint := ""
	if a := apiOf(method); a != nil {
		endpoint = a.endpoint
	} else {
		api, _, _ := strings.Cut(method, ".")
		endpoint = api + ".googleapis.com"
	}
	return apierr.Injected(r.Code, r.Message, endpoint, r.RetryDelay)
}
