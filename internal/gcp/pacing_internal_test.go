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
	for resource, want := range map[string]string{
		"projects/acme-prod/locations/us-central1/services/web":            "acme-prod/us-central1",
		"projects/512345678901/iap_web/cloud_run-us-central1/services/web": "512345678901/us-central1",
		"projects/acme-prod": "projects/acme-prod",
	} {
		if got := scope(resource); got != want {
			t.Errorf("scope(%s) = %q, want %q", resource, got, want)
		}
	}
}

// One bucket per API, kind and project/region; none where the rate is 0.
func TestPacer_BucketsPerAPIKindAndScope(t *testing.T) {
	p := newPacer(Rates{RunWritesPerMinute: 60, RunReadsPerMinute: 600})
	a, _ := p.limiter("run", true, "projects/a/locations/r1/services/x")
	same, _ := p.limiter("run", true, "projects/a/locations/r1/services/y")
	otherRegion, _ := p.limiter("run", true, "projects/a/locations/r2/services/x")
	reads, _ := p.limiter("run", false, "projects/a/locations/r1/services/x")
	if a == nil || a != same || a == otherRegion || a == reads {
		t.Fatalf("buckets: same service region %v/%v, other region %v, reads %v", a, same, otherRegion, reads)
	}
	if a.Limit() != rate.Limit(1) || reads.Limit() != rate.Limit(10) {
		t.Errorf("limits %v and %v per second, want 1 and 10", a.Limit(), reads.Limit())
	}
	if l, _ := p.limiter("iap", true, "projects/1/iap_web/cloud_run-r1/services/x"); l != nil {
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
	const here, there = "projects/a/locations/r1/services/x", "projects/a/locations/r2/services/x"
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

// A call whose turn is far off is handed back instead of holding the worker, with a place in
// line: each call handed back after it is told to come back one interval later, so they do not
// all come back together. A user's change is told the bucket's next free turn, ahead of the
// line, and handing calls back reserves nothing.
func TestPacer_FarTurnIsHandedBackWithAPlaceInLine(t *testing.T) {
	p := newPacer(Rates{RunWritesPerMinute: 1})
	const svc = "projects/a/locations/r1/services/x"
	if err := p.wait(context.Background(), "run", true, svc); err != nil {
		t.Fatalf("first call of the minute: %v", err)
	}
	var turns []time.Duration
	for range 3 {
		d, ok := Throttled(p.wait(context.Background(), "run", true, svc))
		if !ok {
			t.Fatal("a call past the minute's only turn was not handed back")
		}
		turns = append(turns, d)
	}
	if turns[0] <= maxPaceWait || turns[0] > time.Minute {
		t.Errorf("first call handed back comes back in %s, want the bucket's next turn, within the minute", turns[0])
	}
	for i := 1; i < len(turns); i++ {
		if gap := turns[i] - turns[i-1]; gap < 59*time.Second || gap > 61*time.Second {
			t.Errorf("call %d handed back comes back %s after the one before, want one interval (1m)", i+1, gap)
		}
	}
	edit, ok := Throttled(p.wait(Urgent(context.Background()), "run", true, svc))
	if !ok || edit > time.Minute {
		t.Errorf("a user's change handed back comes back in %s, want the bucket's next turn (within the minute)", edit)
	}
	if err := p.wait(context.Background(), "run", true, "projects/a/locations/r2/services/x"); err != nil {
		t.Errorf("another region waits for this one: %v", err)
	}
}
