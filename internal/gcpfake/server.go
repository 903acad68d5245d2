// Package gcpfake is a fake of the Google Cloud APIs runguard's controller
// calls: Cloud Run Admin v2 Services (with its long-running operations),
// the IAM and settings surface of the IAP Admin API, Resource Manager v3
// GetProject, and IAM Credentials GenerateAccessToken. It knows who is
// calling (the bearer token of each request) and, when the seed grants
// roles, checks the caller's permissions on the project; deny rules
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
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

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
	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/iamcredentials"
	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
	"github.com/runguard/runguard/internal/gcpfake/iap"
	"github.com/runguard/runguard/internal/gcpfake/policyengine"
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
	// Quotas refuse Cloud Run and IAP calls above a rate per consumer project and region with
	// RESOURCE_EXHAUSTED and a RetryInfo, as Google's quotas do; the zero value refuses none.
	Quotas Quotas
}

// Server is a running fake.
type Server struct {
	lis      net.Listener
	grpc     *grpc.Server
	httpLis  net.Listener // nil: no REST surface
	http     *http.Server
	rm       *resourcemanager.Server
	store    *store.Store
	policies *iampolicy.Store // every IAM policy
	dir      *projects.Directory
	run      *run.Backend
	faults   *faultSet
	quotas   *quotaSet
	calls    *callLog
	logger   *slog.Logger
	audit    *auditEmitter // nil: audit entries are off
	access   *access.Authority
	tokens   *access.Tokens
	stopped  sync.Once
}

func directoryProject(p Project) (projects.Project, error) {
	agentDelay, err := parseAgentDelay(p)
	if err != nil {
		return projects.Project{}, err
	}
	return projects.Project{ID: p.ID, Number: p.Number, IAPAPIDisabled: p.IAPAPIDisabled, NoIAPServiceAgent: p.NoIAPServiceAgent,
		IAPServiceAgentReadyAt: time.Now().Add(agentDelay), Principals: p.Principals}, nil
}

// Start builds the seeded world and serves it.
func Start(opts Options) (*Server, error) {
	var ps []projects.Project
	for _, p := range opts.Seed.Projects {
		dp, err := directoryProject(p)
		if err != nil {
			return nil, err
		}
		ps = append(ps, dp)
	}
	dir, err := projects.NewDirectory(ps)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	authority, err := newAuthority(opts.Seed, dir)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	quotas, err := newQuotaSet(opts.Quotas, dir)
	if err != nil {
		return nil, err
	}
	st := store.New()
	// A seeded service account exists for IAM like a project's principals.
	engine := &policyengine.Engine{PrincipalExists: func(m string) bool {
		email, isSA := strings.CutPrefix(m, "serviceAccount:")
		return dir.PrincipalExists(m) || isSA && authority.ServiceAccountExists(email)
	}}
	// One IAM policy store serves every kind of resource with a policy.
	policies := &iampolicy.Store{Store: st, Engine: engine}
	policies.Register(run.PolicyKind(dir))
	policies.Register(iap.PolicyKind(dir))
	s := &Server{
		store:    st,
		policies: policies,
		dir:      dir,
		run:      &run.Backend{Store: st, Directory: dir, Policies: policies, ReconcileDelay: opts.ReconcileDelay},
		faults:   newFaultSet(opts.FaultSeed),
		quotas:   quotas,
		calls:    &callLog{counts: map[string]int{}},
		logger:   logger,
		access:   authority,
		tokens:   &access.Tokens{Store: st},
	}
	// The seeded world exists before anyone watches it: no audit entries.
	for _, svc := range opts.Seed.Services {
		if err := s.AddService(svc); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	if opts.Audit.enabled() {
		if s.audit, err = newAuditEmitter(opts.Audit, logger); err != nil {
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
	s.rm = &resourcemanager.Server{Directory: dir}
	runpb.RegisterServicesServer(s.grpc, &run.Services{B: s.run})
	longrunningpb.RegisterOperationsServer(s.grpc, &run.Operations{B: s.run})
	iappb.RegisterIdentityAwareProxyAdminServiceServer(s.grpc, &iap.Server{Store: st, Directory: dir, Policies: policies, AcceptProjectID: opts.IAPAcceptProjectID})
	resourcemanagerpb.RegisterProjectsServer(s.grpc, s.rm)
	credentialspb.RegisterIAMCredentialsServer(s.grpc, &iamcredentials.Server{Access: authority, Tokens: s.tokens, LifetimeCap: opts.TokenLifetime})
	if opts.HTTPAddr != "" {
		if err := s.startREST(opts.HTTPAddr); err != nil {
			_ = lis.Close()
			s.audit.stop()
			return nil, err
		}
	}
	go func() { _ = s.grpc.Serve(lis) }()
	return s, nil
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
	method := shortMethod(info.FullMethod)
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

// shortMethod turns /google.cloud.run.v2.Services/GetService into
// run.GetService, by the prefix its API registered (methods.go).
func shortMethod(full string) string {
	svc, m, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok {
		return full
	}
	if a, ok := registry.byService[svc]; ok {
		return a.prefix + "." + m
	}
	return full
}

// isWrite: the method's entry says it changes state.
func isWrite(method string) bool {
	reg, ok := lookupMethod(method)
	return ok && reg.method.write
}

// resourceOf names the resource a request addresses, as the caller wrote it: where the
// method's entry in the registration table says, else the request's resource, name or parent.
func resourceOf(method string, req any) string {
	if reg, ok := lookupMethod(method); ok && reg.method.resource != nil {
		return reg.method.resource(req)
	}
	switch r := req.(type) {
	case interface{ GetResource() string }:
		return r.GetResource()
	case interface{ GetName() string }:
		return r.GetName()
	case interface{ GetParent() string }:
		return r.GetParent()
	}
	return ""
}

// Call is one entry of the call log.
type Call struct {
	Method   string // short name, e.g. "run.UpdateService"
	Resource string // as the caller wrote it
	Code     codes.Code
	Time     time.Time // when the call arrived
	Write    bool      // Create/Update/Delete/SetIamPolicy
	Injected bool      // a fault rule decided the outcome
	// Throttled: the quota mode refused the call (RESOURCE_EXHAUSTED).
	Throttled bool
	Duration  time.Duration
	// Caller is who made the call, in member form ("serviceAccount:a@p.iam.gserviceaccount.com"):
	// the principal of its bearer token, else the seed's default caller; "" with access control
	// off and no token.
	Caller string
}

type callLog struct {
	mu     sync.Mutex
	calls  []Call
	counts map[string]int
}

func (l *callLog) add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
	l.counts[c.Method]++
}

// Calls returns the log in the order calls completed.
func (s *Server) Calls() []Call {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	return append([]Call(nil), s.calls.calls...)
}

// CallCounts counts calls by short method name.
func (s *Server) CallCounts() map[string]int {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	out := make(map[string]int, len(s.calls.counts))
	for k, v := range s.calls.counts {
		out[k] = v
	}
	return out
}

// CallCountsWithCode counts by short method name the calls that ended with code c.
func (s *Server) CallCountsWithCode(c codes.Code) map[string]int {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	out := map[string]int{}
	for _, call := range s.calls.calls {
		if call.Code == c {
			out[call.Method]++
		}
	}
	return out
}

// ResetCalls empties the log.
func (s *Server) ResetCalls() {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	s.calls.calls = nil
	s.calls.counts = map[string]int{}
}

// AddFault installs a rule and returns its id.
func (s *Server) AddFault(r FaultRule) (id int) { return s.faults.add(r) }

// RemoveFault removes one rule.
func (s *Server) RemoveFault(id int) bool { return s.faults.remove(id) }

// ClearFaults removes every rule.
func (s *Server) ClearFaults() { s.faults.clear() }

// parseAgentDelay reads a seeded project's IAPServiceAgentDelay.
func parseAgentDelay(p Project) (time.Duration, error) {
	if p.IAPServiceAgentDelay == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(p.IAPServiceAgentDelay)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("project %s: iapServiceAgentDelay %q is not a non-negative duration", p.ID, p.IAPServiceAgentDelay)
	}
	return d, nil
}

// newAuthority builds who-may-do-what from the seed.
func newAuthority(seed Seed, dir *projects.Directory) (*access.Authority, error) {
	cfg := access.Config{DefaultCaller: seed.DefaultCaller, CustomRoles: seed.CustomRoles}
	for _, sa := range seed.ServiceAccounts {
		cfg.ServiceAccounts = append(cfg.ServiceAccounts, access.ServiceAccount{Email: sa.Email, TokenCreators: sa.TokenCreators})
	}
	for _, p := range seed.Projects {
		if len(p.Grants) == 0 {
			continue
		}
		if cfg.Grants == nil {
			cfg.Grants = map[string]map[string][]string{}
		}
		cfg.Grants[p.ID] = p.Grants
	}
	return access.New(cfg, func(id string) bool { _, ok := dir.Lookup(id); return ok })
}
