// Package iamcredentials fakes the IAM Service Account Credentials API v1: GenerateAccessToken
// mints an opaque access token for a seeded service account, if the caller may impersonate it
// (package access). The other methods answer UNIMPLEMENTED.
package iamcredentials

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runguard/runguard/internal/gcpfake/access"
	"github.com/runguard/runguard/internal/gcpfake/apierr"
)

// Server implements credentialspb.IAMCredentialsServer.
type Server struct {
	credentialspb.UnimplementedIAMCredentialsServer
	Access *access.Authority
	Tokens *access.Tokens
	// LifetimeCap, if set, shortens every token issued (a test knob: gcpfake.Options.TokenLifetime).
	LifetimeCap time.Duration
}

var _ credentialspb.IAMCredentialsServer = (*Server)(nil)

// MaxLifetime is the longest token GenerateAccessToken issues, and its default: "Must be set to
// a value less than or equal to 3600 (1 hour). If a value is not specified, the token's
// lifetime will be set to a default value of one hour." (GenerateAccessTokenRequest.lifetime).
// Google allows up to 12 hours for service accounts listed in the organization policy
// constraints/iam.allowServiceAccountCredentialLifetimeExtension, which the fake does not model.
const MaxLifetime = time.Hour

// GetAccessTokenPermission is what a caller needs on a service account to impersonate it.
const GetAccessTokenPermission = "iam.serviceAccounts.getAccessToken"

func (s *Server) GenerateAccessToken(ctx context.Context, req *credentialspb.GenerateAccessTokenRequest) (*credentialspb.GenerateAccessTokenResponse, error) {
	target, err := serviceAccountEmail(req.GetName(), "name")
	if err != nil {
		return nil, err
	}
	chain := make([]string, 0, len(req.GetDelegates())+1)
	for _, d := range req.GetDelegates() {
		email, err := serviceAccountEmail(d, "delegates")
		if err != nil {
			return nil, err
		}
		chain = append(chain, email)
	}
	chain = append(chain, target)
	if len(req.GetScope()) == 0 {
		return nil, apierr.BadRequest("Scope required.", apierr.FieldViolation{Field: "scope", Description: "at least one scope is required"})
	}
	lifetime := MaxLifetime
	if l := req.GetLifetime(); l != nil {
		lifetime = l.AsDuration()
		if lifetime <= 0 || lifetime > MaxLifetime {
			msg := fmt.Sprintf("The lifetime requested (%s) is not valid: it must be more than 0 and at most %ds.", lifetime, int(MaxLifetime.Seconds()))
			return nil, apierr.BadRequest(msg, apierr.FieldViolation{Field: "lifetime", Description: msg})
		}
	}
	for _, email := range chain {
		if !s.Access.ServiceAccountExists(email) {
			return nil, apierr.New(codes.NotFound, "Not found; Gaia id not found for email "+email)
		}
	}
	// Each link of the chain must be a token creator of the next: the caller of the first
	// delegate, …, the last delegate of the target.
	current := access.CallerFrom(ctx)
	for _, email := range chain {
		if !s.Access.MayImpersonate(current, email) {
			return nil, tokenCreatorDenied()
		}
		current = "serviceAccount:" + email
	}
	if s.LifetimeCap > 0 {
		lifetime = min(lifetime, s.LifetimeCap)
	}
	token, expires := s.Tokens.Issue("serviceAccount:"+target, lifetime)
	return &credentialspb.GenerateAccessTokenResponse{AccessToken: token, ExpireTime: timestamppb.New(expires)}, nil
}

// tokenCreatorDenied is Google's answer to a caller that may not impersonate the account, or to
// an account it may not see: the resource is not named, and the ErrorInfo carries only the
// permission (google-github-actions/auth#340, DataDog/stratus-red-team#299).
func tokenCreatorDenied() error {
	return apierr.New(codes.PermissionDenied, "Permission '"+GetAccessTokenPermission+"' denied on resource (or it may not exist).",
		&errdetails.ErrorInfo{Reason: "IAM_PERMISSION_DENIED", Domain: "iam.googleapis.com", Metadata: map[string]string{"permission": GetAccessTokenPermission}})
}

// serviceAccountEmail reads projects/-/serviceAccounts/{email}; "The `-` wildcard character is
// required; replacing it with a project ID is invalid." (GenerateAccessTokenRequest.name).
func serviceAccountEmail(name, field string) (string, error) {
	email, ok := strings.CutPrefix(name, "projects/-/serviceAccounts/")
	if !ok || email == "" || strings.Contains(email, "/") {
		msg := fmt.Sprintf("Invalid %s %q: want projects/-/serviceAccounts/{ACCOUNT_EMAIL}.", field, name)
		return "", apierr.BadRequest(msg, apierr.FieldViolation{Field: field, Description: msg})
	}
	return strings.ToLower(email), nil
}
