package gcp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
)

// The classification is tested against the errors the official clients return from the fake,
// which sends Google's codes and details.
func start(t *testing.T) (*gcp.Clients, *gcpfake.Server) {
	t.Helper()
	fake, err := gcpfake.Start(gcpfake.Options{Seed: gcpfake.Seed{
		Projects: []gcpfake.Project{
			{ID: "acme-prod", Number: 123456789012, Principals: []string{"user:alice@acme.com"}},
			{ID: "iap-off", Number: 222222222222, IAPAPIDisabled: true},
		},
		Services: []gcpfake.Service{
			{Project: "acme-prod", Location: "us-central1", Name: "web"},
			{Project: "iap-off", Location: "us-central1", Name: "web"},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	c, err := gcp.New(context.Background(), gcp.Config{Options: fake.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, fake
}

func TestProjectNumber_ResolvesAndCaches(t *testing.T) {
	c, fake := start(t)
	for range 3 {
		n, err := c.ProjectNumber(context.Background(), "acme-prod")
		if err != nil || n != 123456789012 {
			t.Fatalf("ProjectNumber = %d, %v", n, err)
		}
	}
	if got := fake.CallCounts()["resourcemanager.GetProject"]; got != 1 {
		t.Errorf("GetProject called %d times, want 1 (cached)", got)
	}
}

func TestClassify_UnknownProjectIsPermissionDeniedNamingThePermission(t *testing.T) {
	c, _ := start(t)
	_, err := c.ProjectNumber(context.Background(), "no-such-project")
	if gcp.Classify(err) != gcp.PermissionDenied {
		t.Fatalf("Classify(%v) = %v, want PermissionDenied", err, gcp.Classify(err))
	}
	if gcp.Permission(err) != "resourcemanager.projects.get" {
		t.Errorf("Permission = %q", gcp.Permission(err))
	}
}

func TestClassify_DisabledAPIIsAPIDisabledNotPermissionDenied(t *testing.T) {
	c, _ := start(t)
	_, err := c.GetIAPPolicy(context.Background(), gcp.IAPResource(222222222222, "us-central1", "web"))
	if gcp.Classify(err) != gcp.APIDisabled || gcp.Reason(err) != "SERVICE_DISABLED" {
		t.Fatalf("Classify(%v) = %v reason %q, want APIDisabled/SERVICE_DISABLED", err, gcp.Classify(err), gcp.Reason(err))
	}
}

func TestClassify_MissingServiceIsNotFound(t *testing.T) {
	c, _ := start(t)
	_, err := c.GetService(context.Background(), "projects/acme-prod/locations/us-central1/services/nope")
	if gcp.Classify(err) != gcp.NotFound {
		t.Fatalf("Classify(%v) = %v, want NotFound", err, gcp.Classify(err))
	}
	if !strings.Contains(err.Error(), "projects/acme-prod/locations/us-central1/services/nope") {
		t.Errorf("error does not name the resource: %v", err)
	}
}

func TestClassify_UnknownMemberIsRejectedAndNamed(t *testing.T) {
	c, _ := start(t)
	resource := gcp.IAPResource(123456789012, "us-central1", "web")
	p, err := c.GetIAPPolicy(context.Background(), resource)
	if err != nil {
		t.Fatal(err)
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/iap.httpsResourceAccessor", Members: []string{"user:Ghost@acme.com"}})
	_, err = c.SetIAPPolicy(context.Background(), resource, p)
	if gcp.Classify(err) != gcp.Rejected {
		t.Fatalf("Classify(%v) = %v, want Rejected", err, gcp.Classify(err))
	}
	if !gcp.MentionsMember(err, "user:Ghost@acme.com") {
		t.Errorf("MentionsMember did not find the member in %q", gcp.Message(err))
	}
	if gcp.MentionsMember(err, "user:alice@acme.com") {
		t.Errorf("MentionsMember matched a member the error does not name")
	}
}

func TestClassify_StaleEtagIsConflict(t *testing.T) {
	c, _ := start(t)
	resource := gcp.IAPResource(123456789012, "us-central1", "web")
	stale, err := c.GetIAPPolicy(context.Background(), resource)
	if err != nil {
		t.Fatal(err)
	}
	fresh := &iampb.Policy{Etag: stale.Etag, Bindings: []*iampb.Binding{{Role: "roles/iap.httpsResourceAccessor", Members: []string{"user:alice@acme.com"}}}}
	if _, err := c.SetIAPPolicy(context.Background(), resource, fresh); err != nil {
		t.Fatal(err)
	}
	_, err = c.SetIAPPolicy(context.Background(), resource, stale)
	if gcp.Classify(err) != gcp.Conflict {
		t.Fatalf("Classify(%v) = %v, want Conflict", err, gcp.Classify(err))
	}
}

func TestRetryDelay_ComesFromRetryInfo(t *testing.T) {
	c, fake := start(t)
	fake.AddFault(gcpfake.FaultRule{Method: "run.GetIamPolicy", Code: codes.ResourceExhausted, Times: 1, RetryDelay: 7 * time.Second})
	_, err := c.GetServicePolicy(context.Background(), "projects/acme-prod/locations/us-central1/services/web")
	if gcp.Classify(err) != gcp.Transient {
		t.Fatalf("Classify(%v) = %v, want Transient", err, gcp.Classify(err))
	}
	if d, ok := gcp.RetryDelay(err); !ok || d != 7*time.Second {
		t.Errorf("RetryDelay = %v, %v; want 7s", d, ok)
	}
}

func TestNew_RejectsAnEndpointThatIsNotHostPort(t *testing.T) {
	_, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: "not-a-host-port"})
	if err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("New with a malformed endpoint = %v, want a host:port error", err)
	}
}
