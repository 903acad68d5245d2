package gcp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/invalid"
)

// Rates are client-side limits on Google calls, per API and kind, in calls per minute for each
// project and region (the unit of Google's Cloud Run quotas); 0 means no limit. They keep a large
// adoption at a steady pace below the quota instead of bursts of RESOURCE_EXHAUSTED and backoff.
type Rates struct {
	RunReadsPerMinute, RunWritesPerMinute float64
	IAPReadsPerMinute, IAPWritesPerMinute float64
	// ACMReadsPerMinute and ACMWritesPerMinute limit Access Context Manager calls per access
	// policy (Google counts them per organization).
	ACMReadsPerMinute, ACMWritesPerMinute float64
	// ResourceManagerReadsPerMinute and IAMReadsPerMinute limit the reads of the policies and
	// roles above a service (Hierarchy). Google counts both per consumer project — the caller's —
	// so each is one bucket for all of runguard's calls.
	ResourceManagerReadsPerMinute, IAMReadsPerMinute float64
}

// DefaultRates are just below Google's documented Cloud Run Admin API defaults (60 writes and,
// in the older published form, 1,000 reads per 100 s — 600 a minute — per project and region;
// docs/benchmarks.md). IAP's quotas are not published, so IAP calls are not limited by default;
// a RESOURCE_EXHAUSTED from IAP is honoured through its RetryInfo like any other. Access
// Context Manager's are just below its documented 500 reads and 50 writes a minute per
// organization (cloud.google.com/access-context-manager/quotas); runguard paces per access
// policy, and IAP uses the levels of one policy per organization, the organization-level one.
// IAM's reads are just below its documented 6,000 a minute per project (IAM quotas page);
// Resource Manager publishes no read quota, so its reads are not limited by default
// (docs/google-apis-inherited.md).
func DefaultRates() Rates {
	return Rates{RunReadsPerMinute: 550, RunWritesPerMinute: 55, ACMReadsPerMinute: 450, ACMWritesPerMinute: 45, IAMReadsPerMinute: 5500}
}

// Validate names the first nonsensical rate: the one place the rates' bounds live.
func (r Rates) Validate() error {
	for _, rate := range []struct {
		field string
		value float64
	}{{"RunReadsPerMinute", r.RunReadsPerMinute}, {"RunWritesPerMinute", r.RunWritesPerMinute},
		{"IAPReadsPerMinute", r.IAPReadsPerMinute}, {"IAPWritesPerMinute", r.IAPWritesPerMinute},
		{"ACMReadsPerMinute", r.ACMReadsPerMinute}, {"ACMWritesPerMinute", r.ACMWritesPerMinute},
		{"ResourceManagerReadsPerMinute", r.ResourceManagerReadsPerMinute}, {"IAMReadsPerMinute", r.IAMReadsPerMinute}} {
		if rate.value < 0 || math.IsNaN(rate.value) || math.IsInf(rate.value, 0) {
			return &invalid.Option{Field: rate.field, Value: rate.value, Want: "0 (no limit) or a positive number of calls per minute"}
		}
	}
	return nil
}

func (r Rates) perMinute(api string, write bool) float64 {
	switch {
	case api == "run" && write:
		return r.RunWritesPerMinute
	case api == "run":
		return r.RunReadsPerMinute
	case api == "acm" && write:
		return r.ACMWritesPerMinute
	case api == "acm":
		return r.ACMReadsPerMinute
	case api == "resourcemanager":
		return r.ResourceManagerReadsPerMinute
	case api == "iam":
		return r.IAMReadsPerMinute
	case write:
		return r.IAPWritesPerMinute
	}
	return r.IAPReadsPerMinute
}

// minPerMinute is as low as lowering after RESOURCE_EXHAUSTED goes.
const minPerMinute = 1

var (
	throttleWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "runguard_google_throttle_wait_seconds",
		Help:    "Time Google calls waited for runguard's client-side rate limit, by API and kind.",
		Buckets: []float64{0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60},
	}, []string{"api", "kind"})
	rateLimit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "runguard_google_rate_limit_per_minute",
		Help: "Client-side rate limit in force per API, kind and project/region, where Google's quota made runguard lower it.",
	}, []string{"api", "kind", "scope"})
)

// pacer holds one token bucket per API, kind and project/region, shared by every identity.
type pacer struct {
	rates    Rates
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

func newPacer(r Rates) *pacer { return &pacer{rates: r, limiters: map[string]*rate.Limiter{}} }

func kind(write bool) string {
	if write {
		return "write"
	}
	return "read"
}

// limiter is the bucket for a call, nil when the call is not limited.
func (p *pacer) limiter(api string, write bool, quota string) (*rate.Limiter, string) {
	if p == nil {
		return nil, ""
	}
	perMinute := p.rates.perMinute(api, write)
	if perMinute == 0 {
		return nil, ""
	}
	key := api + " " + kind(write) + " " + quota
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.limiters[key]
	if !ok {
		// A burst of a tenth of a minute's calls: a pass's few calls go at once, and a large
		// adoption settles at the rate without overshooting a per-minute quota by much.
		l = rate.NewLimiter(rate.Limit(perMinute/60), max(1, int(perMinute/10)))
		p.limiters[key] = l
	}
	return l, key
}

// maxPaceWait is the longest a call waits for its bucket in place. A longer wait is handed back
// as a *ThrottledError, so a worker is not held while one busy project and region drains: the
// object comes back when its turn is due and workers serve other regions meanwhile.
const maxPaceWait = 2 * time.Second

// ThrottledError says a call was not made because runguard's own rate limit for its project and
// region would hold it for After.
type ThrottledError struct {
	// Limit names the bucket ("run write PROJECT/REGION"); API and Write say which, as values.
	Limit string
	API   string
	Write bool
	After time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("paced: the %s limit allows the next call in %s", e.Limit, e.After.Round(time.Millisecond))
}

// Throttled reports how long err asks to wait when it is runguard's own pacing.
func Throttled(err error) (time.Duration, bool) {
	var te *ThrottledError
	if errors.As(err, &te) {
		return te.After, true
	}
	return 0, false
}

// wait blocks until the call may be made, or returns a *ThrottledError when that is further
// away than maxPaceWait.
func (p *pacer) wait(ctx context.Context, api string, write bool, quota string) error {
	b, prepaid := booked(ctx, api, write, quota)
	if prepaid {
		return nil
	}
	l, key := p.limiter(api, write, quota)
	if l == nil {
		return nil
	}
	r := l.Reserve()
	if urgent(ctx, write) || b != nil {
		return nil
	}
	d := r.Delay()
	throttleWait.WithLabelValues(api, kind(write)).Observe(min(d, maxPaceWait).Seconds())
	if d > maxPaceWait {
		r.Cancel()
		return &ThrottledError{Limit: key, API: api, Write: write, After: d}
	}
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}

// answered lowers the rate for the call's project and region by half when Google says the quota
// is exhausted: Google's quota is lower than runguard's limit there. It is logged once per
// lowering and shown in runguard_google_rate_limit_per_minute; the failed call itself is retried
// after its RetryInfo by the caller's backoff.
func (p *pacer) answered(ctx context.Context, api string, write bool, quota string, err error) {
	if Code(err) != codes.ResourceExhausted {
		return
	}
	l, key := p.limiter(api, write, quota)
	if l == nil {
		return
	}
	lowered := max(float64(l.Limit())*60/2, minPerMinute)
	if lowered >= float64(l.Limit())*60 {
		return
	}
	l.SetLimit(rate.Limit(lowered / 60))
	rateLimit.WithLabelValues(api, kind(write), quota).Set(lowered)
	logr.FromContextOrDiscard(ctx).Info("Google's quota is lower than runguard's rate limit; lowered it", "limit", key, "perMinute", lowered)
}

// paced runs one Google call under the pacer of its project and region (quota).
func (c *Clients) paced(ctx context.Context, api string, write bool, quota string, call func() error) error {
	if err := c.pacer.wait(ctx, api, write, quota); err != nil {
		return err
	}
	err := call()
	c.pacer.answered(ctx, api, write, quota, err)
	return err
}
