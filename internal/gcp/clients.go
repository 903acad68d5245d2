// Package gcp is runguard's one edge to Google Cloud, through the official Go clients: Cloud Run
// Admin v2 (run.go), IAP Admin v1 (iap.go), Resource Manager v3 (projects.go), Access Context
// Manager v1 (accesslevels.go), the policies above a service — Resource Manager's projects,
// folders and organizations, IAP's levels above a service and IAM's roles (inherited.go) —, IAM
// Credentials for impersonating a namespace's service account (identity.go) and Pub/Sub for the
// audit-log subscription (auditsub.go), each touched in one file. Around the calls it owns IAM's
// read-modify-write (policy.go), client-side pacing per project and region (pacing.go), the
// refusal of writes in Observe mode (observeonly.go), error classification (errors.go) and call
// counting (metrics.go). It depends on no CRD type: callers name resources with Service.
package gcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	accesscontextmanager "cloud.google.com/go/accesscontextmanager/apiv1"
	iap "cloud.google.com/go/iap/apiv1"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	run "cloud.google.com/go/run/apiv2"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Config says where each API lives. An empty endpoint means Google's production endpoint with
// Application Default Credentials (Workload Identity in a GKE cluster).
type Config struct {
	RunEndpoint             string
	IAPEndpoint             string
	ResourceManagerEndpoint string
	ACMEndpoint             string // Access Context Manager
	IAMEndpoint             string // IAM Admin (roles.get)
	// IAMCredentialsEndpoint overrides where namespace identities' tokens are minted (host:port,
	// loopback only: the fake's REST surface).
	IAMCredentialsEndpoint string
	// Options are added to every client. They must not choose credentials: clients acting as a
	// namespace's service account add their own token source.
	Options []option.ClientOption
	// ImpersonationOptions are added to the IAM Credentials call that mints those tokens.
	ImpersonationOptions []option.ClientOption
	// Rates limit calls per API, project and region; the zero value limits nothing.
	Rates Rates
}

// Clients holds one client per Google API and the project-number cache.
type Clients struct {
	run      *run.ServicesClient
	iap      *iap.IdentityAwareProxyAdminClient
	projects *resourcemanager.ProjectsClient

	// The Access Context Manager client (accesslevels.go) is dialled at its first use, with this
	// identity's options: a configuration that never touches access levels needs no credentials
	// for it. Every identity may read levels; only runguard's own writes them (acmWrites, set by
	// New), since levels belong to the organization, not to a namespace.
	acmMu     sync.Mutex
	acm       *accesscontextmanager.Client
	acmOpts   []option.ClientOption
	acmWrites bool

	// The clients for what is above a service (inherited.go) are dialled at their first use, with
	// this identity's options: a configuration that never reads the hierarchy needs no IAM Admin
	// endpoint or credentials for it.
	above *aboveClients

	numbersMu sync.RWMutex
	numbers   map[string]int64
	lookups   singleflight.Group

	cfg Config
	// pacer keeps calls within Rates; clients acting as namespaces' identities share it, since
	// Google's quotas are per project, not per caller.
	pacer *pacer
	// identities are the clients acting as namespaces' service accounts (ActingAs).
	identitiesMu sync.Mutex
	identities   map[string]*identity
}

// New dials the three APIs with runguard's own credentials.
func New(ctx context.Context, cfg Config) (*Clients, error) {
	if err := cfg.Rates.Validate(); err != nil {
		return nil, err
	}
	c, err := newClients(ctx, cfg, nil, newPacer(cfg.Rates))
	if err != nil {
		return nil, err
	}
	c.acmWrites = true
	return c, nil
}

// accessContextManager is the Access Context Manager client, dialled on first use.
func (c *Clients) accessContextManager(ctx context.Context) (*accesscontextmanager.Client, error) {
	c.acmMu.Lock()
	defer c.acmMu.Unlock()
	if c.acm != nil {
		return c.acm, nil
	}
	// The client outlives this call: its context must not be cancelled with it.
	acm, err := accesscontextmanager.NewClient(context.WithoutCancel(ctx), c.acmOpts...)
	if err != nil {
		return nil, fmt.Errorf("create Access Context Manager client: %w", err)
	}
	c.acm = acm
	return acm, nil
}

// newClients dials the three APIs; tokens, when set, are the credentials of every call.
func newClients(ctx context.Context, cfg Config, tokens oauth2.TokenSource, p *pacer) (*Clients, error) {
	runOpts, err := endpointOptions(cfg.RunEndpoint, cfg.Options, tokens)
	if err != nil {
		return nil, fmt.Errorf("Cloud Run endpoint: %w", err)
	}
	iapOpts, err := endpointOptions(cfg.IAPEndpoint, cfg.Options, tokens)
	if err != nil {
		return nil, fmt.Errorf("IAP endpoint: %w", err)
	}
	rmOpts, err := endpointOptions(cfg.ResourceManagerEndpoint, cfg.Options, tokens)
	if err != nil {
		return nil, fmt.Errorf("Resource Manager endpoint: %w", err)
	}
	if cfg.IAMCredentialsEndpoint != "" {
		// Checked at start: a bad override is a configuration error, not a per-object one.
		if loopback, err := isLoopback(cfg.IAMCredentialsEndpoint); err != nil || !loopback {
			return nil, fmt.Errorf("IAM Credentials endpoint %q: only a loopback host:port may be overridden (plaintext)", cfg.IAMCredentialsEndpoint)
		}
	}
	iamOpts, err := endpointOptions(cfg.IAMEndpoint, cfg.Options, tokens)
	if err != nil {
		return nil, fmt.Errorf("IAM endpoint: %w", err)
	}
	acmOpts, err := endpointOptions(cfg.ACMEndpoint, cfg.Options, tokens)
	if err != nil {
		return nil, fmt.Errorf("Access Context Manager endpoint: %w", err)
	}
	c := &Clients{numbers: map[string]int64{}, cfg: cfg, pacer: p, acmOpts: acmOpts,
		above: &aboveClients{rmOpts: rmOpts, iamOpts: iamOpts}}
	if c.run, err = run.NewServicesClient(ctx, runOpts...); err != nil {
		return nil, fmt.Errorf("create Cloud Run client: %w", err)
	}
	if c.iap, err = iap.NewIdentityAwareProxyAdminClient(ctx, iapOpts...); err != nil {
		c.Close()
		return nil, fmt.Errorf("create IAP client: %w", err)
	}
	if c.projects, err = resourcemanager.NewProjectsClient(ctx, rmOpts...); err != nil {
		c.Close()
		return nil, fmt.Errorf("create Resource Manager client: %w", err)
	}
	return c, nil
}

// Close closes every client that was created, those acting as namespaces' identities too.
func (c *Clients) Close() {
	c.identitiesMu.Lock()
	for _, id := range c.identities {
		id.clients.Close()
	}
	c.identities = nil
	c.identitiesMu.Unlock()
	if c.run != nil {
		_ = c.run.Close()
	}
	if c.iap != nil {
		_ = c.iap.Close()
	}
	if c.projects != nil {
		_ = c.projects.Close()
	}
	c.acmMu.Lock()
	if c.acm != nil {
		_ = c.acm.Close()
		c.acm = nil
	}
	c.acmMu.Unlock()
	c.above.close()
}

// endpointOptions turns an endpoint override and the credentials into client options.
// Plaintext is allowed only on loopback, so a typo cannot send requests (or tokens) over a
// network unencrypted; there, runguard's own identity sends no credentials, and a namespace's
// identity sends its token (the auth library's per-call credentials do not require TLS:
// docs/gcpfake.md).
func endpointOptions(endpoint string, extra []option.ClientOption, tokens oauth2.TokenSource) ([]option.ClientOption, error) {
	opts := append([]option.ClientOption(nil), extra...)
	if tokens != nil {
		opts = append(opts, option.WithTokenSource(tokens))
	}
	if endpoint == "" {
		return opts, nil
	}
	opts = append(opts, option.WithEndpoint(endpoint))
	loopback, err := isLoopback(endpoint)
	if err != nil {
		return nil, err
	}
	if loopback {
		if tokens == nil {
			opts = append(opts, option.WithoutAuthentication())
		}
		opts = append(opts, option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	return opts, nil
}

func isLoopback(endpoint string) (bool, error) {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return false, fmt.Errorf("%q is not host:port: %w", endpoint, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

var errNoNumber = errors.New("Resource Manager returned a project without a number")
