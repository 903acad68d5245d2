package gcp_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/iampolicy"
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
	c, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: fake.Endpoint(), IAPEndpoint: fake.Endpoint(), ResourceManagerEndpoint: fake.Endpoint()})
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

func TestProjectNumber_LookedUpOnceForConcurrentCallers(t *testing.T) {
	c, fake := start(t)
	// Slow enough that every caller asks before the first answer is back.
	fake.AddFault(gcpfake.FaultRule{Method: "resourcemanager.GetProject", Latency: 200 * time.Millisecond})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if n, err := c.ProjectNumber(context.Background(), "acme-prod"); err != nil || n != 123456789012 {
				t.Errorf("ProjectNumber = %d, %v", n, err)
			}
		})
	}
	wg.Wait()
	if got := fake.CallCounts()["resourcemanager.GetProject"]; got != 1 {
		t.Errorf("GetProject called %d times for 8 concurrent callers, want 1", got)
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
	_, err := c.AccessPolicies().Get(context.Background(), gcp.Service{Project: "acme-prod", Number: 222222222222, Location: "us-central1", Name: "web"})
	if gcp.Classify(err) != gcp.APIDisabled || gcp.Reason(err) != "SERVICE_DISABLED" {
		t.Fatalf("Classify(%v) = %v reason %q, want APIDisabled/SERVICE_DISABLED", err, gcp.Classify(err), gcp.Reason(err))
	}
}

func TestClassify_MissingServiceIsNotFound(t *testing.T) {
	c, _ := start(t)
	_, err := c.Services().Get(context.Background(), gcp.Service{Project: "acme-prod", Location: "us-central1", Name: "nope"})
	if gcp.Classify(err) != gcp.NotFound {
		t.Fatalf("Classify(%v) = %v, want NotFound", err, gcp.Classify(err))
	}
	if !strings.Contains(err.Error(), "projects/acme-prod/locations/us-central1/services/nope") {
		t.Errorf("error does not name the resource: %v", err)
	}
}

// grant is a decision that adds member to the accessor role unconditionally.
func grant(member string) gcp.Decision {
	return func(p *iampb.Policy) (iampolicy.Plan, error) {
		return iampolicy.PlanGrant(p, iampolicy.AccessorRole, member), nil
	}
}

func TestClassify_UnknownMemberIsRejectedAndNamed(t *testing.T) {
	c, _ := start(t)
	resource := gcp.Service{Project: "acme-prod", Number: 123456789012, Location: "us-central1", Name: "web"}
	_, err := c.AccessPolicies().Update(context.Background(), resource, nil, grant("user:Ghost@acme.com"))
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

// A write made with a stale etag fails with ABORTED; the adapter reads again and decides again
// on the fresh policy, so both the other writer's change and ours survive.
func TestPolicies_Update_RedoesTheReadModifyWriteAfterAConflict(t *testing.T) {
	c, fake := start(t)
	resource := gcp.Service{Project: "acme-prod", Number: 123456789012, Location: "us-central1", Name: "web"}
	stale, err := c.AccessPolicies().Get(context.Background(), resource)
	if err != nil {
		t.Fatal(err)
	}
	other := &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/viewer", Members: []string{"user:alice@acme.com"}}}}
	if err := fake.SetIAPPolicy(resource.IAPResource(), other); err != nil {
		t.Fatal(err)
	}
	decisions := 0
	plan, err := c.AccessPolicies().Update(context.Background(), resource, stale, func(p *iampb.Policy) (iampolicy.Plan, error) {
		decisions++
		return iampolicy.PlanGrant(p, iampolicy.AccessorRole, "user:alice@acme.com"), nil
	})
	if err != nil || !plan.Changed {
		t.Fatalf("Update = %v, changed %v", err, plan.Changed)
	}
	if decisions != 2 {
		t.Errorf("decided %d times, want 2 (the stale read, then the fresh one)", decisions)
	}
	got, _ := fake.IAPPolicy(resource.IAPResource())
	if !iampolicy.HasMember(got, "roles/viewer", "user:alice@acme.com") || !iampolicy.HasMember(got, iampolicy.AccessorRole, "user:alice@acme.com") {
		t.Errorf("policy after the conflict = %v, want both writers' changes", got.GetBindings())
	}
	if counts := fake.CallCounts(); counts["iap.SetIamPolicy"] != 2 {
		t.Errorf("iap.SetIamPolicy called %d times, want 2 (one ABORTED)", counts["iap.SetIamPolicy"])
	}
}

// A plan that changes nothing writes nothing.
func TestPolicies_Update_WritesNothingWhenThePlanIsUnchanged(t *testing.T) {
	c, fake := start(t)
	resource := gcp.Service{Project: "acme-prod", Number: 123456789012, Location: "us-central1", Name: "web"}
	if _, err := c.AccessPolicies().Update(context.Background(), resource, nil, grant("user:alice@acme.com")); err != nil {
		t.Fatal(err)
	}
	plan, err := c.AccessPolicies().Update(context.Background(), resource, nil, grant("user:alice@acme.com"))
	if err != nil || plan.Changed || plan.Policy == nil {
		t.Fatalf("second Update = %v, changed %v, policy %v", err, plan.Changed, plan.Policy)
	}
	if counts := fake.CallCounts(); counts["iap.SetIamPolicy"] != 1 {
		t.Errorf("iap.SetIamPolicy called %d times, want 1", counts["iap.SetIamPolicy"])
	}
}

func TestRetryDelay_ComesFromRetryInfo(t *testing.T) {
	c, fake := start(t)
	fake.AddFault(gcpfake.FaultRule{Method: "run.GetIamPolicy", Code: codes.ResourceExhausted, Times: 1, RetryDelay: 7 * time.Second})
	_, err := c.ServicePolicies().Get(context.Background(), gcp.Service{Project: "acme-prod", Location: "us-central1", Name: "web"})
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
