package gcpfake

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/api/option"

	"github.com/runguard/runguard/internal/gcpfake/access"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
	"github.com/runguard/runguard/internal/gcpfake/iamcredentials"
)

// Grant gives member a role or a permission on a seeded project (by ID or number), or on a
// folder, organization or access policy of the world (folders/{n}, organizations/{n},
// accessPolicies/{n}: what is below inherits the grant), at once; IAM propagation delay is not
// modelled. The grant is a binding in that resource's allow policy (a permission as the custom
// role {project or organization}/roles/{permission}), written out of band and logged as the
// console's SetIamPolicy. It fails with access control off.
func (s *Server) Grant(where, member, roleOrPermission string) error {
	key, err := s.grantKey(where)
	if err != nil {
		return err
	}
	return s.access.Grant(key, member, roleOrPermission)
}

// Revoke takes back a grant. The caller's calls are denied from the next one on.
func (s *Server) Revoke(where, member, roleOrPermission string) error {
	key, err := s.grantKey(where)
	if err != nil {
		return err
	}
	return s.access.Revoke(key, member, roleOrPermission)
}

// grantKey is where grants are kept: a project by ID, a folder, organization or access policy by
// name.
func (s *Server) grantKey(where string) (string, error) {
	if s.grantable(where) {
		return where, nil
	}
	p, ok := s.dir.Lookup(where)
	if !ok {
		return "", fmt.Errorf("project %q is not seeded: %w", where, access.ErrNotFound)
	}
	return p.ID, nil
}

// AddTokenCreator lets member impersonate the seeded service account.
func (s *Server) AddTokenCreator(serviceAccount, member string) error {
	return s.access.AddTokenCreator(serviceAccount, member)
}

// RemoveTokenCreator stops member impersonating the service account: its next
// GenerateAccessToken is denied. Tokens it already holds stay valid until they expire, as
// at Google.
func (s *Server) RemoveTokenCreator(serviceAccount, member string) error {
	return s.access.RemoveTokenCreator(serviceAccount, member)
}

// MintAccessToken issues a token for a seeded service account without the token exchange, as
// if it had been generated with that lifetime (at most an hour, as GenerateAccessToken).
func (s *Server) MintAccessToken(serviceAccount string, lifetime time.Duration) (string, time.Time, error) {
	if !s.access.ServiceAccountExists(serviceAccount) {
		return "", time.Time{}, fmt.Errorf("service account %s is not seeded: %w", serviceAccount, access.ErrNotFound)
	}
	if lifetime <= 0 || lifetime > iamcredentials.MaxLifetime {
		return "", time.Time{}, fmt.Errorf("lifetime %s is not in (0, %s]", lifetime, iamcredentials.MaxLifetime)
	}
	token, expires := s.tokens.Issue("serviceAccount:"+strings.ToLower(serviceAccount), lifetime)
	return token, expires, nil
}

// Access is who may do what now.
func (s *Server) Access() adminapi.Access {
	snap := s.access.Snapshot()
	out := adminapi.Access{Enforced: snap.Enforced, DefaultCaller: snap.DefaultCaller, ServiceAccounts: []adminapi.ServiceAccount{}, Grants: snap.Grants, Denials: snap.Denials}
	for _, sa := range snap.ServiceAccounts {
		out.ServiceAccounts = append(out.ServiceAccounts, adminapi.ServiceAccount{Email: sa.Email, TokenCreators: sa.TokenCreators})
	}
	return out
}

// ImpersonateClientOptions point google.golang.org/api/impersonate at the fake's REST surface
// (Options.HTTPAddr is required). That package posts to the fixed URL
// https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{email}:generateAccessToken
// and ignores option.WithEndpoint, so the only way in is an HTTP client of one's own
// (option.WithHTTPClient), whose transport sends the request to the fake instead. The client
// sends no credentials of its own: the fake takes the call as its default caller. base, if not
// nil, carries the request (add an Authorization header there to call as someone else).
func (s *Server) ImpersonateClientOptions(base http.RoundTripper) []option.ClientOption {
	if base == nil {
		base = http.DefaultTransport
	}
	return []option.ClientOption{option.WithHTTPClient(&http.Client{Transport: redirect{to: s.HTTPEndpoint(), base: base}})}
}

// redirect sends every request to the fake's REST surface, keeping path, query and headers.
type redirect struct {
	to   string
	base http.RoundTripper
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", r.to, r.to
	return r.base.RoundTrip(out)
}
