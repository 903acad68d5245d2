package gcpfake

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/names"
	"github.com/runguard/runguard/internal/gcpfake/projects"
)

// Quotas are the rate quotas the fake enforces; the zero value enforces none.
type Quotas = adminapi.Quotas

// quotaAPI is one API's rate quotas, as the registration table (methods.go) assigns them.
type quotaAPI struct {
	endpoint string // the service the quota belongs to, "run.googleapis.com"
	// limit is the calls a minute allowed for reads or writes; 0: not enforced.
	limit func(q Quotas, write bool) int
	// locate is the consumer and region a call on resource is counted in: a project (ID or
	// number, as written) and a region, or, with perOrganization, any resource of the API and no
	// region, counted in the organization the resource belongs to.
	locate          func(resource string) (consumer, region string, ok bool)
	perOrganization bool
}

// quotaKind is one rate quota of one API: its reads or its writes.
type quotaKind struct {
	api   *quotaAPI
	write bool
}

// quotaKey is one bucket: a quota of one consumer (a project or an organization, by number) in
// one region.
type quotaKey struct {
	kind     quotaKind
	consumer int64
	region   string
}

// quotaSet answers calls above a rate with RESOURCE_EXHAUSTED. Each bucket holds one minute of
// quota and refills continuously: Google states these limits per minute, so a fresh consumer
// may spend a whole minute's worth at once, and after that a call is admitted each 60/N s.
type quotaSet struct {
	mu      sync.Mutex
	limits  Quotas
	buckets map[quotaKey]*rate.Limiter
	dir     *projects.Directory
	// organizationOf is organizations/{number} of the resource a per-organization quota counts.
	organizationOf func(resource string) (string, bool)
}

func newQuotaSet(limits Quotas, dir *projects.Directory, organizationOf func(string) (string, bool)) (*quotaSet, error) {
	q := &quotaSet{dir: dir, organizationOf: organizationOf}
	if err := q.set(limits); err != nil {
		return nil, err
	}
	return q, nil
}

func validateQuotas(q Quotas) error {
	for _, f := range []struct {
		name string
		v    int
	}{{"runWritesPerMinute", q.RunWritesPerMinute}, {"runReadsPerMinute", q.RunReadsPerMinute},
		{"iapWritesPerMinute", q.IAPWritesPerMinute}, {"iapReadsPerMinute", q.IAPReadsPerMinute},
		{"acmWritesPerMinute", q.ACMWritesPerMinute}, {"acmReadsPerMinute", q.ACMReadsPerMinute}} {
		if f.v < 0 {
			return fmt.Errorf("quota %s is %d; want 0 (off) or more", f.name, f.v)
		}
	}
	return nil
}

// set replaces the limits; every bucket starts full again.
func (q *quotaSet) set(limits Quotas) error {
	if err := validateQuotas(limits); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.limits = limits
	q.buckets = map[quotaKey]*rate.Limiter{}
	return nil
}

func (q *quotaSet) get() Quotas {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.limits
}

func (q *quotaSet) perMinute(k quotaKind) int { return k.api.limit(q.limits, k.write) }

// admit takes one call's worth of the quota its method and resource count against, or refuses
// the call with the delay after which it would be admitted. A call on a project or region the
// fake cannot tell is not metered: the API refuses it anyway.
func (q *quotaSet) admit(method, resource string, now time.Time) error {
	kind, consumer, region, ok := quotaScope(method, resource)
	if !ok {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	perMinute := q.perMinute(kind)
	if perMinute == 0 {
		return nil
	}
	number, found := q.consumerNumber(kind, consumer)
	if !found {
		return nil
	}
	key := quotaKey{kind: kind, consumer: number, region: region}
	bucket := q.buckets[key]
	if bucket == nil {
		bucket = rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)
		q.buckets[key] = bucket
	}
	r := bucket.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	// A refused call takes nothing from the quota.
	r.CancelAt(now)
	// Whole milliseconds, rounded up: a caller that waits exactly this long is admitted.
	delay = delay.Truncate(time.Millisecond) + time.Millisecond
	return apierr.QuotaExceeded(quotaOf(kind, perMinute, region), number, delay)
}

// consumerNumber is the number of the project or organization a call is counted in.
func (q *quotaSet) consumerNumber(kind quotaKind, consumer string) (int64, bool) {
	if !kind.api.perOrganization {
		p, ok := q.dir.Lookup(consumer)
		return p.Number, ok
	}
	org, ok := q.organizationOf(consumer)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(org, "organizations/"), 10, 64)
	return n, err == nil
}

// quotaScope is the quota a call counts against, by its API's entry in the registration table,
// and the consumer and region it is counted in.
func quotaScope(method, resource string) (kind quotaKind, consumer, region string, ok bool) {
	a := apiOf(method)
	if a == nil || a.quota == nil {
		return quotaKind{}, "", "", false
	}
	consumer, region, ok = a.quota.locate(resource)
	return quotaKind{api: a.quota, write: isWrite(method)}, consumer, region, ok
}

// runQuotaScope: Cloud Run's calls name a service, an operation or a location.
func runQuotaScope(resource string) (project, region string, ok bool) {
	if s, isService := names.ParseService(resource); isService {
		return s.Project, s.Location, true
	}
	if p, l, _, isOp := names.ParseOperation(resource); isOp {
		return p, l, true
	}
	return names.ParseLocation(resource)
}

// iapQuotaScope: IAP's calls name an IAP resource, in a project and a region.
func iapQuotaScope(resource string) (project, region string, ok bool) {
	r, isIAP := names.ParseIAP(resource)
	return r.Project, r.Location, isIAP
}

// quotaOf names a quota as Google's error does. Cloud Run's read quota is named in errors seen
// in public (googleapis/repo-automation-bots#4469: metric run.googleapis.com/read_regional,
// limit ReadPerMinutePerProjectRegion); the write quota's names follow it, IAP's and Access
// Context Manager's (per organization) are made up.
func quotaOf(k quotaKind, perMinute int, region string) apierr.Quota {
	service, title, metric, limit := k.api.endpoint, "Read requests", "read_regional", "ReadPerMinutePerProjectRegion"
	if k.write {
		title, metric, limit = "Write requests", "write_regional", "WritePerMinutePerProjectRegion"
	}
	if k.api.perOrganization {
		return apierr.Quota{Service: service, MetricTitle: title, LimitTitle: title + " per minute per organization",
			Metric: service + "/" + strings.TrimSuffix(metric, "_regional") + "_requests", Limit: strings.Replace(limit, "ProjectRegion", "Organization", 1),
			Unit: "1/min/{organization}", PerMinute: perMinute, Organization: true}
	}
	return apierr.Quota{Service: service, MetricTitle: title, LimitTitle: title + " per minute per region",
		Metric: service + "/" + metric, Limit: limit, Unit: "1/min/{project}/{region}", PerMinute: perMinute, Location: region}
}

// SetQuotas replaces the rate quotas (0 turns one off); every bucket starts full again.
func (s *Server) SetQuotas(q Quotas) error { return s.quotas.set(q) }

// Quotas are the rate quotas in force.
func (s *Server) Quotas() Quotas { return s.quotas.get() }
