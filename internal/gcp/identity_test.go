package gcp_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
)

// startWithIdentities starts a fake that knows who calls (the identity test's seed), with
// tokens as long-lived as Google's, and clients reaching it as the manager does.
func startWithIdentities(t *testing.T) (*gcp.Clients, *gcpfake.Server) {
	t.Helper()
	seed, err := gcpfake.LoadSeed(filepath.Join("..", "..", "test", "identity", "testdata", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fake, err := gcpfake.Start(gcpfake.Options{Seed: seed, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	c, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: fake.Endpoint(), IAPEndpoint: fake.Endpoint(),
		ResourceManagerEndpoint: fake.Endpoint(), IAMCredentialsEndpoint: fake.HTTPEndpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, fake
}

func countCalls(fake *gcpfake.Server, method string) (n int) {
	for _, c := range fake.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// One token per account while it is valid: passes reuse the clients and the cached token, and
// calls carry the account's identity.
func TestActingAs_CachesClientsAndTokensPerAccount(t *testing.T) {
	c, fake := startWithIdentities(t)
	ctx := context.Background()
	const tenantA = "tenant-a@ops-project.iam.gserviceaccount.com"
	first, err := c.ActingAs(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := c.ActingAs(ctx, tenantA)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatal("ActingAs made new clients for an account it already has")
		}
		if _, err := again.ProjectNumber(ctx, "team-a-prod"); err != nil {
			t.Fatalf("project lookup as tenant-a: %v", err)
		}
	}
	if n := countCalls(fake, "iamcredentials.GenerateAccessToken"); n != 1 {
		t.Errorf("%d tokens minted for 4 passes within the token's life, want 1", n)
	}
	for _, call := range fake.Calls() {
		if call.Method == "resourcemanager.GetProject" && call.Caller != "serviceAccount:"+tenantA {
			t.Errorf("GetProject made by %q, want tenant-a", call.Caller)
		}
	}
	// runguard's own identity: the same clients, no token.
	if own, err := c.ActingAs(ctx, ""); err != nil || own != c {
		t.Errorf("ActingAs(\"\") = %p, %v; want the base clients", own, err)
	}
	// Another account's project is not reachable with tenant-a's rights.
	if _, err := first.ProjectNumber(ctx, "team-b-prod"); gcp.Classify(err) != gcp.PermissionDenied {
		t.Errorf("team-b-prod as tenant-a: %v, want PermissionDenied", err)
	}
}

func TestActingAs_UnknownAndMalformedAccountsAreRefusals(t *testing.T) {
	c, _ := startWithIdentities(t)
	for account, want := range map[string]gcp.Class{
		"nobody@ops-project.iam.gserviceaccount.com": gcp.NotFound,
		"not-an-email": gcp.Rejected,
	} {
		_, err := c.ActingAs(context.Background(), account)
		var impersonation *gcp.ImpersonationError
		if !errors.As(err, &impersonation) || gcp.Classify(err) != want {
			t.Errorf("ActingAs(%s) = %v (class %v), want an impersonation error of class %v", account, err, gcp.Classify(err), want)
		}
	}
}

func TestNew_RefusesANonLoopbackIAMCredentialsOverride(t *testing.T) {
	if _, err := gcp.New(context.Background(), gcp.Config{IAMCredentialsEndpoint: "iamcredentials.example.com:443"}); err == nil {
		t.Fatal("a non-loopback IAM Credentials override was accepted")
	}
}
