package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// cloudPlatformScope is the scope every impersonated token carries: IAM, not the scope,
// decides what the identity may do.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// serviceAccountEmail is the form of a Google service account's email; anything else cannot be
// impersonated.
var serviceAccountEmail = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}@[a-z0-9][a-z0-9.-]{0,99}\.gserviceaccount\.com$`)

// IsServiceAccountEmail reports whether s has the form of a Google service account's email (in
// lower case, as Google writes them).
func IsServiceAccountEmail(s string) bool { return serviceAccountEmail.MatchString(s) }

// ImpersonationError says runguard could not get a token for a service account: the grant that
// lets runguard's own identity mint tokens for it is missing or was revoked, the account does
// not exist, or the annotation does not name one. It unwraps to a gRPC status, so Classify
// tells a refusal from an outage of the IAM Credentials API.
type ImpersonationError struct {
	ServiceAccount string
	Err            error
}

func (e *ImpersonationError) Error() string {
	return "get a token for " + e.ServiceAccount + ": " + e.Err.Error()
}
func (e *ImpersonationError) Unwrap() error { return e.Err }

// identity is one service account's clients and the token source they share.
type identity struct {
	clients *Clients
	tokens  oauth2.TokenSource
}

// ActingAs returns clients whose every call is made as serviceAccount, with short-lived tokens
// minted by google.golang.org/api/impersonate from runguard's own credentials (which need
// roles/iam.serviceAccountTokenCreator on the account). "" means runguard's own identity. One
// set of clients per account is kept; their tokens are cached and refreshed before they expire
// (oauth2.ReuseTokenSource). Each call checks the token, so a revoked grant is reported as an
// *ImpersonationError when the current token runs out, not as failures of every call after it.
func (c *Clients) ActingAs(ctx context.Context, serviceAccount string) (*Clients, error) {
	if serviceAccount == "" {
		return c, nil
	}
	id, err := c.identity(ctx, serviceAccount)
	if err != nil {
		return nil, err
	}
	if err := mint(ctx, id.tokens); err != nil {
		return nil, &ImpersonationError{ServiceAccount: serviceAccount, Err: err}
	}
	return id.clients, nil
}

// tokenTimeout bounds getting a token: impersonate's request carries no context or deadline.
const tokenTimeout = 30 * time.Second

// mint gets a token (the cached one while it is valid) within tokenTimeout, so an IAM
// Credentials API that never answers fails the pass as transient instead of holding a worker.
func mint(ctx context.Context, tokens oauth2.TokenSource) error {
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := tokens.Token()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return tokenError(err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no token from the IAM Credentials API: %w", ctx.Err())
	}
}

func (c *Clients) identity(ctx context.Context, serviceAccount string) (*identity, error) {
	c.identitiesMu.Lock()
	defer c.identitiesMu.Unlock()
	if id, ok := c.identities[serviceAccount]; ok {
		return id, nil
	}
	if !serviceAccountEmail.MatchString(serviceAccount) {
		return nil, &ImpersonationError{ServiceAccount: serviceAccount,
			Err: status.Error(codes.InvalidArgument, "not a service account email (name@project.iam.gserviceaccount.com)")}
	}
	opts, err := c.impersonationOptions()
	if err != nil {
		return nil, err
	}
	// The token source outlives this reconcile: its context must not be cancelled with it.
	ts, err := impersonate.CredentialsTokenSource(context.WithoutCancel(ctx), impersonate.CredentialsConfig{
		TargetPrincipal: serviceAccount, Scopes: []string{cloudPlatformScope},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("set up impersonation of %s: %w", serviceAccount, err)
	}
	clients, err := newClients(context.WithoutCancel(ctx), c.cfg, ts, c.pacer)
	if err != nil {
		return nil, err
	}
	id := &identity{clients: clients, tokens: ts}
	if c.identities == nil {
		c.identities = map[string]*identity{}
	}
	c.identities[serviceAccount] = id
	return id, nil
}

// impersonationOptions are the options of the IAM Credentials call. impersonate posts to the
// fixed URL https://iamcredentials.googleapis.com/v1/...:generateAccessToken and ignores
// option.WithEndpoint, so an endpoint override is an HTTP client that sends the request there.
func (c *Clients) impersonationOptions() ([]option.ClientOption, error) {
	opts := append([]option.ClientOption(nil), c.cfg.ImpersonationOptions...)
	if c.cfg.IAMCredentialsEndpoint == "" {
		return opts, nil
	}
	loopback, err := isLoopback(c.cfg.IAMCredentialsEndpoint)
	if err != nil {
		return nil, fmt.Errorf("IAM Credentials endpoint: %w", err)
	}
	if !loopback {
		return nil, fmt.Errorf("IAM Credentials endpoint %s: only a loopback address may be overridden (plaintext, without credentials)", c.cfg.IAMCredentialsEndpoint)
	}
	return append(opts, option.WithHTTPClient(&http.Client{Transport: redirect{to: c.cfg.IAMCredentialsEndpoint}})), nil
}

// redirect sends every request to a plaintext loopback endpoint, keeping path and headers.
type redirect struct{ to string }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", r.to, r.to
	return http.DefaultTransport.RoundTrip(out)
}

// impersonateStatus matches how impersonate reports an answer that is not 2xx.
var impersonateStatus = regexp.MustCompile(`(?s)impersonate: status code (\d+): (.*)`)

// tokenError turns impersonate's text error into a gRPC status: Google's JSON error body carries
// the status name and message. Anything else (a network failure) stays as it is: transient.
func tokenError(err error) error {
	m := impersonateStatus.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	var body struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	httpCode, _ := strconv.Atoi(m[1])
	msg := m[2]
	if json.Unmarshal([]byte(m[2]), &body) == nil && body.Error.Message != "" {
		msg = body.Error.Message
	}
	var code codes.Code
	// codes.Code reads Google's status names ("PERMISSION_DENIED") from JSON.
	if body.Error.Status == "" || code.UnmarshalJSON([]byte(strconv.Quote(body.Error.Status))) != nil {
		code = codeOfHTTP(httpCode)
	}
	return status.Error(code, strings.TrimSpace(msg))
}

// codeOfHTTP maps an HTTP status to the gRPC code Google's APIs pair it with.
func codeOfHTTP(c int) codes.Code {
	switch c {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	}
	return codes.Unavailable
}
