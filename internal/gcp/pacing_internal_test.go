package gcp

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestScope_IsGoogleQuotaUnit(t *testing.T) {
	svc := Service{Project: "acme-prod", Number: 512345678901, Location: "us-central1", Name: "web"}
	for api, want := range map[string]string{
		"run": "acme-prod/us-central1",
		"iap": "512345678901/us-central1",
	} {
		if got := svc.quota(api); got != want {
			t.Errorf("scope(%s) = %q, want %q", api, got, want)
		}
	}
}

// One bucket per API, kind and project/region; none where the rate is 0.
func TestPacer_BucketsPerAPIKindAndScope(t *testing.T) {
	p := newPacer(Rates{RunWritesPerMinute: 60, RunReadsPerMinute: 600})
	a, _ := p.limiter("run", true, "a/r1")
	same, _ := p.limiter("run", true, "a/r1")
	otherRegion, _ := p.limiter("run", true, "a/r2")
	reads, _ := p.limiter("run", false, "a/r1")
	if a == nil || a != same || a == otherRegion || a == reads {
		t.Fatalf("buckets: same service region %v/%v, other region %v, reads %v", a, same, otherRegion, reads)
	}
	if a.Limit() != rate.Limit(1) || reads.Limit() != rate.Limit(10) {
		t.Errorf("limits %v and %v per second, want 1 and 10", a.Limit(), reads.Limit())
	}
	if l, _ := p.limiter("iap", true, "1/r1"); l != nil {
		t.Errorf("IAP writes are limited at rate 0: %v", l.Limit())
	}
	var none *pacer
	if err := none.wait(context.Background(), "run", true, "x"); err != nil {
		t.Errorf("a nil pacer waits: %v", err)
	}
}

// RESOURCE_EXHAUSTED halves the rate of that project and region only, down to a floor.
func TestPacer_ExhaustedQuotaLowersTheRateThere(t *testing.T) {
	p := newPacer(Rates{RunWritesPerMinute: 60})
	const here, there = "a/r1", "a/r2"
	exhausted := status.Error(codes.ResourceExhausted, "Quota exceeded")
	p.answered(context.Background(), "run", true, here, exhausted)
	p.answered(context.Background(), "run", true, here, status.Error(codes.Unavailable, "later"))
	l, _ := p.limiter("run", true, here)
	if got := float64(l.Limit()) * 60; got != 30 {
		t.Errorf("rate after one RESOURCE_EXHAUSTED = %g/min, want 30", got)
	}
	if l2, _ := p.limiter("run", true, there); float64(l2.Limit())*60 != 60 {
		t.Errorf("another region's rate changed: %g/min", float64(l2.Limit())*60)
	}
	for range 20 {
		p.answered(context.Background(), "run", true, here, exhausted)
	}
	if got := float64(l.Limit()) * 60; got != minPerMinute {
		t.Errorf("rate after many = %g/min, want the floor %d", got, minPerMinute)
	}
}

func TestRates_Validate(t *testing.T) {
	if err := DefaultRates().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Rates{IAPWritesPerMinute: -1}).Validate(); err == nil {
		t.Fatal("a negative rate was accepted")
	}
}

// A call whose turn is far off is handed back instead of holding the worker, and handing it back
// does not push later calls further out.
func TestPacer_FarTurnIsHandedBack(t *testing.T) {
	p := newPacer(Rates{RunWritesPerMinute: 1})
	const svc = "a/r1"
	if err := p.wait(context.Background(), "run", true, svc); err != nil {
		t.Fatalf("first call of the minute: %v", err)
	}
	for range 2 {
		err := p.wait(context.Background(), "run", true, svc)
		d, ok := Throttled(err)
		if !ok || d <= maxPaceWait || d > time.Minute {
			t.Fatalf("second call: %v (after %s), want a ThrottledError due within the minute", err, d)
		}
	}
	if err := p.wait(context.Background(), "run", true, "a/r2"); err != nil {
		t.Errorf("another region waits for this one: %v", err)
	}
}

// Access Context Manager is paced per access policy, the policy of a level's name.
func TestPacer_AccessContextManagerPerPolicy(t *testing.T) {
	p := newPacer(DefaultRates())
	level, _ := p.limiter("acm", true, policyOf("accessPolicies/1/accessLevels/a"))
	sibling, _ := p.limiter("acm", true, policyOf("accessPolicies/1/accessLevels/b"))
	policy, _ := p.limiter("acm", true, policyOf("accessPolicies/1"))
	other, _ := p.limiter("acm", true, policyOf("accessPolicies/2/accessLevels/a"))
	if level == nil || level != sibling || level != policy || level == other {
		t.Fatalf("buckets: %p %p %p %p", level, sibling, policy, other)
	}
	if got := float64(level.Limit()) * 60; got != 45 {
		t.Errorf("default ACM write rate %g/min, want 45 (below Google's 50 per organization)", got)
	}
}

// The reads above a service are paced per API: Resource Manager not at all by default (Google
// publishes no quota), IAM's roles.get just below its 6,000 a minute; a negative rate is refused.
func TestPacer_ReadsAboveAServiceHaveTheirOwnRates(t *testing.T) {
	p := newPacer(DefaultRates())
	if rm, _ := p.limiter("resourcemanager", false, consumerScope); rm != nil {
		t.Error("Resource Manager is limited by default")
	}
	iam, _ := p.limiter("iam", false, consumerScope)
	if iam == nil || float64(iam.Limit())*60 != 5500 {
		t.Fatalf("IAM roles.get bucket %v", iam)
	}
	for _, r := range []Rates{{ResourceManagerReadsPerMinute: -1}, {IAMReadsPerMinute: -1}} {
		if r.Validate() == nil {
			t.Errorf("%+v was accepted", r)
		}
	}
	if rm, _ := newPacer(Rates{ResourceManagerReadsPerMinute: 60}).limiter("resourcemanager", false, consumerScope); rm == nil {
		t.Error("a Resource Manager rate limits nothing")
	}
}

// IAP's levels above a service each need their own permission and count in the project's quota.
func TestIAPLevel_PermissionAndScopeByResource(t *testing.T) {
	for resource, want := range map[string][2]string{
		"projects/7/iap_web":                               {"iap.web.getIamPolicy", "7/"},
		"projects/7/iap_web/cloud_run-us-east1":            {"iap.webTypes.getIamPolicy", "7/us-east1"},
		"projects/7/iap_web/cloud_run-us-east1/services/s": {"iap.webServices.getIamPolicy", "7/us-east1"},
	} {
		if p, s := iapLevel(resource); p != want[0] || s != want[1] {
			t.Errorf("iapLevel(%s) = %s, %s; want %v", resource, p, s, want)
		}
	}
}
