package gcpfake_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	credentials "cloud.google.com/go/iam/credentials/apiv1"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runguard/runguard/internal/gcpfake"
)

const (
	runguardSA     = "runguard@ops-project.iam.gserviceaccount.com"
	runguardMember = "serviceAccount:" + runguardSA
	tenantA        = "tenant-a@ops-project.iam.gserviceaccount.com"
	tenantB        = "tenant-b@ops-project.iam.gserviceaccount.com"
	beta           = "proj-beta"
	betaNumber     = int64(444444444444)
	billingName    = "projects/proj-beta/locations/us-central1/services/billing"
	cloudPlatform  = "https://www.googleapis.com/auth/cloud-platform"
)

// identitySeed is testSeed with access control on: runguard runs with its own credentials and
// may impersonate two tenants; tenant A administers proj-alpha, tenant B proj-beta, runguard
// itself nothing.
func identitySeed() gcpfake.Seed {
	seed := testSeed()
	seed.Projects[0].Grants = map[string][]string{"serviceAccount:" + tenantA: {"roles/run.admin", "roles/iap.admin"}}
	seed.Projects = append(seed.Projects, gcpfake.Project{ID: beta, Number: betaNumber,
		Grants: map[string][]string{"serviceAccount:" + tenantB: {"roles/run.admin", "roles/iap.admin"}}})
	seed.Services = append(seed.Services, gcpfake.Service{Project: beta, Location: region, Name: "billing"})
	seed.DefaultCaller = runguardMember
	seed.ServiceAccounts = []gcpfake.ServiceAccount{
		{Email: tenantA, TokenCreators: []string{runguardMember}},
		{Email: tenantB, TokenCreators: []string{runguardMember}},
	}
	return seed
}

func startIdentityFake(t *testing.T, seed gcpfake.Seed) *gcpfake.Server {
	t.Helper()
	s, err := gcpfake.Start(gcpfake.Options{Seed: seed, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// impersonated is the real google.golang.org/api/impersonate token source for sa, pointed at
// the fake; it asks as runguard (no credentials of its own: the fake's default caller).
func impersonated(t *testing.T, s *gcpfake.Server, sa string) oauth2.TokenSource {
	t.Helper()
	ts, err := impersonate.CredentialsTokenSource(ctxT(t), impersonate.CredentialsConfig{TargetPrincipal: sa, Scopes: []string{cloudPlatform}},
		s.ImpersonateClientOptions(nil)...)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// connectAs points clients at the fake over tr with the token source's bearer tokens, the way
// the manager would: over gRPC in plaintext with option.WithTokenSource, over REST on http.
func connectAs(t *testing.T, s *gcpfake.Server, tr transport, ts oauth2.TokenSource) *fake {
	t.Helper()
	opts := []option.ClientOption{option.WithEndpoint(s.Endpoint()), option.WithTokenSource(ts),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
	if tr == overREST {
		opts = []option.ClientOption{option.WithEndpoint("http://" + s.HTTPEndpoint()), option.WithTokenSource(ts)}
	}
	return connect(t, s, tr, opts)
}

// credentialsClient is Google's gRPC IAM Credentials client, calling with ts's tokens (nil: with
// none, as the default caller).
func credentialsClient(t *testing.T, s *gcpfake.Server, ts oauth2.TokenSource) *credentials.IamCredentialsClient {
	t.Helper()
	opts := []option.ClientOption{option.WithEndpoint(s.Endpoint()), option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
	if ts == nil {
		opts = append(opts, option.WithoutAuthentication())
	} else {
		opts = append(opts, option.WithTokenSource(ts))
	}
	c, err := credentials.NewIamCredentialsClient(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func lastCall(t *testing.T, s *gcpfake.Server, method string) gcpfake.Call {
	t.Helper()
	calls := s.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Method == method {
			return calls[i]
		}
	}
	t.Fatalf("no %s call in %+v", method, calls)
	return gcpfake.Call{}
}

func TestImpersonate_GoogleImpersonatePackageGetsATokenThatCallsAsTheServiceAccount(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) { impersonateAndCall(t, tr) })
	}
}

func impersonateAndCall(t *testing.T, tr transport) {
	s := startIdentityFake(t, identitySeed())
	ts := impersonated(t, s, tenantA)
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("impersonate: %v", err)
	}
	if !strings.HasPrefix(tok.AccessToken, "ya29.") || time.Until(tok.Expiry) < 59*time.Minute || time.Until(tok.Expiry) > time.Hour {
		t.Errorf("token = %q expiring in %s, want an opaque ya29. token for an hour", tok.AccessToken, time.Until(tok.Expiry))
	}
	gen := lastCall(t, s, "iamcredentials.GenerateAccessToken")
	if gen.Caller != runguardMember || gen.Resource != "projects/-/serviceAccounts/"+tenantA || gen.Code != codes.OK {
		t.Errorf("GenerateAccessToken call = %+v, want it made by runguard for tenant A", gen)
	}

	f := connectAs(t, s, tr, ts)
	if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}); err != nil {
		t.Fatalf("GetService as tenant A: %v", err)
	}
	if c := lastCall(t, s, "run.GetService"); c.Caller != "serviceAccount:"+tenantA {
		t.Errorf("GetService caller = %q, want tenant A: the bearer token must reach the fake", c.Caller)
	}
}

func TestGenerateAccessToken_ByACallerThatIsNoTokenCreatorIsDenied(t *testing.T) {
	s := startIdentityFake(t, identitySeed())
	asA, _, err := s.MintAccessToken(tenantA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := credentialsClient(t, s, static(asA))
	_, err = c.GenerateAccessToken(ctxT(t), &credentialspb.GenerateAccessTokenRequest{Name: "projects/-/serviceAccounts/" + tenantB, Scope: []string{cloudPlatform}})
	st := wantCode(t, err, codes.PermissionDenied)
	if st.Message() != "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)." {
		t.Errorf("message = %q", st.Message())
	}
	ei := errorInfo(st)
	if ei.GetReason() != "IAM_PERMISSION_DENIED" || ei.GetDomain() != "iam.googleapis.com" || ei.GetMetadata()["permission"] != "iam.serviceAccounts.getAccessToken" {
		t.Errorf("ErrorInfo = %v", ei)
	}

	// The same answer through the impersonate package, over REST.
	ts, err := impersonate.CredentialsTokenSource(ctxT(t), impersonate.CredentialsConfig{TargetPrincipal: tenantB, Scopes: []string{cloudPlatform}},
		s.ImpersonateClientOptions(bearer(asA))...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err == nil || !strings.Contains(err.Error(), "status code 403") || !strings.Contains(err.Error(), "IAM_PERMISSION_DENIED") {
		t.Errorf("impersonate error = %v, want Google's 403 body", err)
	}
}

// bearer is a transport that calls with the given token.
func bearer(token string) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+token)
		return http.DefaultTransport.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestGenerateAccessToken_UnknownServiceAccountIsNotFound(t *testing.T) {
	s := startIdentityFake(t, identitySeed())
	_, err := credentialsClient(t, s, nil).GenerateAccessToken(ctxT(t), &credentialspb.GenerateAccessTokenRequest{
		Name: "projects/-/serviceAccounts/ghost@ops-project.iam.gserviceaccount.com", Scope: []string{cloudPlatform}})
	if st := wantCode(t, err, codes.NotFound); st.Message() != "Not found; Gaia id not found for email ghost@ops-project.iam.gserviceaccount.com" {
		t.Errorf("message = %q", st.Message())
	}
}

func TestGenerateAccessToken_HonoursLifetimeUpToAnHour(t *testing.T) {
	s := startIdentityFake(t, identitySeed())
	c := credentialsClient(t, s, nil)
	resp, err := c.GenerateAccessToken(ctxT(t), &credentialspb.GenerateAccessTokenRequest{
		Name: "projects/-/serviceAccounts/" + tenantA, Scope: []string{cloudPlatform}, Lifetime: durationpb.New(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(resp.GetExpireTime().AsTime()); left < 9*time.Minute || left > 10*time.Minute {
		t.Errorf("token expires in %s, want 10m", left)
	}
	for _, bad := range []time.Duration{3601 * time.Second, -time.Second} {
		_, err := c.GenerateAccessToken(ctxT(t), &credentialspb.GenerateAccessTokenRequest{
			Name: "projects/-/serviceAccounts/" + tenantA, Scope: []string{cloudPlatform}, Lifetime: durationpb.New(bad)})
		wantCode(t, err, codes.InvalidArgument)
	}
	_, err = c.GenerateAccessToken(ctxT(t), &credentialspb.GenerateAccessTokenRequest{Name: "projects/-/serviceAccounts/" + tenantA})
	wantCode(t, err, codes.InvalidArgument)
	_, err = c.GenerateAccessToken(ctxT(t), &credentialspb.GenerateAccessTokenRequest{Name: "projects/ops-project/serviceAccounts/" + tenantA, Scope: []string{cloudPlatform}})
	wantCode(t, err, codes.InvalidArgument)
}

func TestGenerateAccessToken_DelegationChainNeedsEveryLink(t *testing.T) {
	seed := identitySeed()
	// runguard → tenant A → tenant B; runguard is no token creator of B here.
	seed.ServiceAccounts[1].TokenCreators = []string{"serviceAccount:" + tenantA}
	s := startIdentityFake(t, seed)
	c := credentialsClient(t, s, nil)
	req := &credentialspb.GenerateAccessTokenRequest{Name: "projects/-/serviceAccounts/" + tenantB, Scope: []string{cloudPlatform}}
	_, err := c.GenerateAccessToken(ctxT(t), req)
	wantCode(t, err, codes.PermissionDenied)
	req.Delegates = []string{"projects/-/serviceAccounts/" + tenantA}
	resp, err := c.GenerateAccessToken(ctxT(t), req)
	if err != nil {
		t.Fatalf("through tenant A: %v", err)
	}
	f := connectAs(t, s, overGRPC, static(resp.GetAccessToken()))
	if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: billingName}); err != nil {
		t.Errorf("the token acts as tenant B: %v", err)
	}
}

func TestRemoveTokenCreator_DeniesNewTokensButIssuedOnesStayValid(t *testing.T) {
	s := startIdentityFake(t, identitySeed())
	ts := impersonated(t, s, tenantA)
	f := connectAs(t, s, overGRPC, ts)
	if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveTokenCreator(tenantA, runguardMember); err != nil {
		t.Fatal(err)
	}
	_, err := credentialsClient(t, s, nil).GenerateAccessToken(ctxT(t), &credentialspb.GenerateAccessTokenRequest{Name: "projects/-/serviceAccounts/" + tenantA, Scope: []string{cloudPlatform}})
	wantCode(t, err, codes.PermissionDenied)
	if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}); err != nil {
		t.Errorf("a token issued before the revocation must work until it expires: %v", err)
	}
	if err := s.AddTokenCreator(tenantA, runguardMember); err != nil {
		t.Fatal(err)
	}
	if _, err := impersonated(t, s, tenantA).Token(); err != nil {
		t.Errorf("after the grant is restored: %v", err)
	}
}

func TestBearerToken_UnknownOrExpiredIsUnauthenticated(t *testing.T) {
	const invalid = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	on := startIdentityFake(t, identitySeed())
	expired, _, err := on.MintAccessToken(tenantA, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	off := startIdentityFake(t, testSeed())
	for _, c := range []struct {
		name  string
		s     *gcpfake.Server
		token string
	}{
		{"forged", on, "ya29.forged"},
		{"expired", on, expired},
		{"forged, access control off", off, "ya29.forged"},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachTransportOn(t, c.s, static(c.token), func(t *testing.T, f *fake) {
				_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName})
				if st := wantCode(t, err, codes.Unauthenticated); st.Message() != invalid {
					t.Errorf("message = %q", st.Message())
				}
			})
		})
	}
}

func static(token string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})
}

// forEachTransportOn runs fn with clients over each transport to the same fake.
func forEachTransportOn(t *testing.T, s *gcpfake.Server, ts oauth2.TokenSource, fn func(t *testing.T, f *fake)) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) { fn(t, connectAs(t, s, tr, ts)) })
	}
}

func TestNoDefaultCaller_RequestWithoutTokenIsUnauthenticated(t *testing.T) {
	seed := identitySeed()
	seed.DefaultCaller = ""
	s := startIdentityFake(t, seed)
	f := startFakeWith(t, s)
	_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName})
	if st := wantCode(t, err, codes.Unauthenticated); !strings.HasPrefix(st.Message(), "Request is missing required authentication credential.") {
		t.Errorf("message = %q", st.Message())
	}
}

// startFakeWith connects the usual unauthenticated gRPC clients to s.
func startFakeWith(t *testing.T, s *gcpfake.Server) *fake {
	t.Helper()
	return connect(t, s, overGRPC, s.ClientOptions())
}

func TestPermissionDenied_NamesThePermissionAndTheResourceAsGoogleDoes(t *testing.T) {
	s := startIdentityFake(t, identitySeed())
	alphaIAP := helloIAP
	cases := []struct {
		name, permission, resource, message string
		call                                func(f *fake) error
	}{
		{"run.GetService", "run.services.get", helloName,
			"Permission 'run.services.get' denied on resource '" + helloName + "' (or resource may not exist).",
			func(f *fake) error {
				_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName})
				return err
			}},
		{"run.SetIamPolicy", "run.services.setIamPolicy", helloName,
			"Permission 'run.services.setIamPolicy' denied on resource '" + helloName + "' (or resource may not exist).",
			func(f *fake) error {
				_, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: helloName, Policy: &iampb.Policy{}})
				return err
			}},
		{"iap.GetIamPolicy", "iap.webServices.getIamPolicy", alphaIAP,
			"Permission 'iap.webServices.getIamPolicy' denied on resource '" + alphaIAP + "' (or it may not exist).",
			func(f *fake) error {
				_, err := f.iap.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: alphaIAP})
				return err
			}},
		{"iap.GetIamPolicy region", "iap.webTypes.getIamPolicy", "projects/123456789012/iap_web/cloud_run-us-central1",
			"Permission 'iap.webTypes.getIamPolicy' denied on resource 'projects/123456789012/iap_web/cloud_run-us-central1' (or it may not exist).",
			func(f *fake) error {
				_, err := f.iap.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: "projects/123456789012/iap_web/cloud_run-us-central1"})
				return err
			}},
		{"resourcemanager.GetProject", "resourcemanager.projects.get", "projects/proj-alpha",
			"Permission 'resourcemanager.projects.get' denied on resource '//cloudresourcemanager.googleapis.com/projects/proj-alpha' (or it may not exist).",
			func(f *fake) error {
				_, err := f.rm.GetProject(ctxT(t), &resourcemanagerpb.GetProjectRequest{Name: "projects/proj-alpha"})
				return err
			}},
	}
	// Tenant B holds roles in proj-beta only.
	asB, _, err := s.MintAccessToken(tenantB, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forEachTransportOn(t, s, static(asB), func(t *testing.T, f *fake) {
		for _, c := range cases {
			st := wantCode(t, c.call(f), codes.PermissionDenied)
			if st.Message() != c.message {
				t.Errorf("%s: message = %q, want %q", c.name, st.Message(), c.message)
			}
			ei := errorInfo(st)
			if ei.GetReason() != "IAM_PERMISSION_DENIED" || ei.GetDomain() != "iam.googleapis.com" ||
				ei.GetMetadata()["permission"] != c.permission || ei.GetMetadata()["resource"] != c.resource {
				t.Errorf("%s: ErrorInfo = %v", c.name, ei)
			}
		}
		if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: billingName}); err != nil {
			t.Errorf("tenant B in its own project: %v", err)
		}
		if c := lastCall(t, s, "run.GetService"); c.Caller != "serviceAccount:"+tenantB {
			t.Errorf("caller logged = %q", c.Caller)
		}
	})
	// runguard itself (no token: the default caller) holds nothing anywhere.
	f := startFakeWith(t, s)
	_, err = f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: billingName})
	wantCode(t, err, codes.PermissionDenied)
	if c := lastCall(t, s, "run.GetService"); c.Caller != runguardMember || c.Code != codes.PermissionDenied {
		t.Errorf("call = %+v, want runguard denied", c)
	}
}

func TestGrants_TakeEffectOnTheNextCall(t *testing.T) {
	s := startIdentityFake(t, identitySeed())
	f := startFakeWith(t, s) // runguard, the default caller
	get := func() error {
		_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName})
		return err
	}
	wantCode(t, get(), codes.PermissionDenied)
	if err := s.Grant(alpha, runguardMember, "run.services.get"); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("after a grant of the permission: %v", err)
	}
	if err := s.Revoke(alpha, runguardMember, "run.services.get"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, get(), codes.PermissionDenied)
	if err := s.Grant(alpha, runguardMember, "roles/unknown.role"); err == nil {
		t.Error("a role the fake does not know must be refused")
	}
}

func TestTestIamPermissions_AnswersForTheCaller(t *testing.T) {
	seed := identitySeed()
	seed.CustomRoles = map[string][]string{
		// docs/install.md's custom role for runguard.
		"projects/proj-alpha/roles/runguard": {"resourcemanager.projects.get", "run.services.get", "run.services.update",
			"run.services.getIamPolicy", "run.services.setIamPolicy", "iap.webServices.getIamPolicy", "iap.webServices.setIamPolicy"},
	}
	seed.Projects[0].Grants[runguardMember] = []string{"roles/run.viewer"}
	s := startIdentityFake(t, seed)
	f := startFakeWith(t, s)
	servicePerms := []string{"run.services.get", "run.services.update", "run.services.getIamPolicy", "run.services.setIamPolicy"}
	test := func() []string {
		resp, err := f.run.TestIamPermissions(ctxT(t), &iampb.TestIamPermissionsRequest{Resource: helloName, Permissions: servicePerms})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetPermissions()
	}
	if got := fmt.Sprint(test()); got != "[run.services.get run.services.getIamPolicy]" {
		t.Errorf("as a run.viewer: %s", got)
	}
	if err := s.Grant(alpha, runguardMember, "projects/proj-alpha/roles/runguard"); err != nil {
		t.Fatal(err)
	}
	if got := test(); len(got) != 4 {
		t.Errorf("with the custom role: %v", got)
	}
	s.DenyPermission(helloName, "run.services.update")
	if got := fmt.Sprint(test()); strings.Contains(got, "run.services.update") {
		t.Errorf("DenyPermission still overlays the grants: %s", got)
	}
	resp, err := f.iap.TestIamPermissions(ctxT(t), &iampb.TestIamPermissionsRequest{Resource: helloIAP, Permissions: []string{"iap.webServices.getIamPolicy", "iap.webServices.getSettings"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(resp.GetPermissions()); got != "[iap.webServices.getIamPolicy]" {
		t.Errorf("IAP: %s", got)
	}
}

func TestNoGrants_EveryoneMayDoEverythingAndCallsHaveNoIdentity(t *testing.T) {
	seed := testSeed()
	seed.ServiceAccounts = []gcpfake.ServiceAccount{{Email: tenantA}}
	s := startIdentityFake(t, seed)
	if s.Access().Enforced {
		t.Fatal("a seed without grants or defaultCaller must leave access control off")
	}
	f := startFakeWith(t, s)
	if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}); err != nil {
		t.Fatal(err)
	}
	if c := lastCall(t, s, "run.GetService"); c.Caller != "" {
		t.Errorf("caller = %q, want none", c.Caller)
	}
	// Impersonation needs no token creator either; the token names its service account.
	ts := impersonated(t, s, tenantA)
	g := connectAs(t, s, overGRPC, ts)
	if _, err := g.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}); err != nil {
		t.Fatal(err)
	}
	if c := lastCall(t, s, "run.GetService"); c.Caller != "serviceAccount:"+tenantA {
		t.Errorf("caller = %q, want tenant A", c.Caller)
	}
	if err := s.Grant(alpha, runguardMember, "roles/run.admin"); err == nil {
		t.Error("a grant with access control off would change nothing; it must be refused")
	}
}

// The manager sends its tokens to the fake over plaintext gRPC. That works because Google's
// generated clients enable the new auth library (internaloption.EnableNewAuthLibrary), whose
// per-RPC credentials (cloud.google.com/go/auth/grpctransport) do not require transport
// security; the older path in google.golang.org/api/transport/grpc attaches
// golang.org/x/oauth2's per-RPC credentials, which do, and grpc-go then refuses to dial. This
// test pins both halves, so a dependency update that changes either shows up here.
func TestPlaintextGRPC_SendsTokensOnlyThroughTheNewAuthLibrary(t *testing.T) {
	s := startIdentityFake(t, identitySeed())
	asA, _, err := s.MintAccessToken(tenantA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := connectAs(t, s, overGRPC, static(asA))
	if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}); err != nil {
		t.Fatal(err)
	}
	if c := lastCall(t, s, "run.GetService"); c.Caller != "serviceAccount:"+tenantA {
		t.Fatalf("caller = %q: the token did not arrive over plaintext gRPC", c.Caller)
	}

	t.Setenv("GOOGLE_API_GO_EXPERIMENTAL_DISABLE_NEW_AUTH_LIB", "true")
	_, err = run.NewServicesClient(context.Background(), option.WithEndpoint(s.Endpoint()), option.WithTokenSource(static(asA)),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err == nil || !strings.Contains(err.Error(), "the credentials require transport level security") {
		t.Errorf("old auth path over plaintext: err = %v, want grpc-go's refusal", err)
	}
}
