package gcpfake

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/runguard/runguard/internal/gcpfake/names"
	"github.com/runguard/runguard/internal/gcpfake/projects"
)

// AuditOptions makes the fake publish an Admin Activity audit entry for every
// change it makes, in the JSON a Cloud Logging sink publishes to Pub/Sub. The
// zero value publishes nothing.
type AuditOptions struct {
	// PubSubEndpoint is host:port of a Pub/Sub server spoken to over
	// plaintext gRPC, such as a pstest server (its Addr); "" turns audit
	// entries off.
	PubSubEndpoint string
	// Topic is projects/{project}/topics/{topic}; it must exist.
	Topic string
	// DeliveryDelay is how long after a change its entry is published. A
	// real sink takes seconds to about a minute.
	DeliveryDelay time.Duration
	// Caller is the principalEmail of entries for gRPC calls; "" means
	// runguard@{project}.iam.gserviceaccount.com, the project being the
	// changed resource's (DefaultOrganizationCaller for a resource of an
	// organization, such as an access level).
	Caller string
	// OutOfBandCaller is the principalEmail of entries for out-of-band
	// changes (the admin endpoint and the in-process helpers); "" means
	// admin@example.com.
	OutOfBandCaller string
}

func (o AuditOptions) enabled() bool { return o.PubSubEndpoint != "" && o.Topic != "" }

// DefaultOutOfBandCaller is who makes out-of-band changes unless
// AuditOptions.OutOfBandCaller says otherwise.
const DefaultOutOfBandCaller = "admin@example.com"

// DefaultOrganizationCaller is the principalEmail of a gRPC call's entry on a resource of an
// organization (it has no project to name runguard's account after) when neither the caller is
// known nor AuditOptions.Caller is set.
const DefaultOrganizationCaller = "runguard@runguard.iam.gserviceaccount.com"

// AuditStats counts audit entries since Start.
type AuditStats struct {
	Emitted   int64 // entries written, waiting or published
	Published int64 // accepted by the topic
	Failed    int64 // could not be built or published; each failure is logged
	Pending   int   // waiting for the delivery delay or for the Pub/Sub server
}

// AuditStats reports the audit emitter's counters; all zero when audit
// entries are off.
func (s *Server) AuditStats() AuditStats { return s.audit.stats() }

const (
	runService = "run.googleapis.com"
	iapService = "iap.googleapis.com"
	acmService = "accesscontextmanager.googleapis.com"
	rmService  = "cloudresourcemanager.googleapis.com"

	methodRunCreateV2  = "google.cloud.run.v2.Services.CreateService"
	methodRunUpdateV2  = "google.cloud.run.v2.Services.UpdateService"
	methodRunDeleteV2  = "google.cloud.run.v2.Services.DeleteService"
	methodRunSetIAMV2  = "google.cloud.run.v2.Services.SetIamPolicy"
	methodRunCreateV1  = "google.cloud.run.v1.Services.CreateService"
	methodRunReplaceV1 = "google.cloud.run.v1.Services.ReplaceService"
	methodRunDeleteV1  = "google.cloud.run.v1.Services.DeleteService"
	methodRunSetIAMV1  = "google.cloud.run.v1.Services.SetIamPolicy"
	methodIAPSetIAM    = "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy"
	// Access Context Manager's level writes are ADMIN_WRITE (its audit logging page); gcloud and
	// the console call the same v1 methods.
	methodACMCreateLevel = "google.identity.accesscontextmanager.v1.AccessContextManager.CreateAccessLevel"
	methodACMUpdateLevel = "google.identity.accesscontextmanager.v1.AccessContextManager.UpdateAccessLevel"
	methodACMDeleteLevel = "google.identity.accesscontextmanager.v1.AccessContextManager.DeleteAccessLevel"
	methodACMSetIAM      = "google.identity.accesscontextmanager.v1.AccessContextManager.SetIamPolicy"
	// Resource Manager's allow-policy writes are ADMIN_WRITE (its audit logging page); calls to
	// v3 log its method, gcloud's and the console's (v1, v2 for folders) the bare "SetIamPolicy"
	// that CIS-derived log filters match (docs/google-apis-inherited.md).
	methodRMSetProjectIAM      = "google.cloud.resourcemanager.v3.Projects.SetIamPolicy"
	methodRMSetFolderIAM       = "google.cloud.resourcemanager.v3.Folders.SetIamPolicy"
	methodRMSetOrganizationIAM = "google.cloud.resourcemanager.v3.Organizations.SetIamPolicy"
	methodRMSetIAMV1           = "SetIamPolicy"
	activityLogIDEscape        = "cloudaudit.googleapis.com%2Factivity"

	// AuditTimestampAttribute is the Pub/Sub attribute a logging sink sets
	// on each message: the entry's timestamp.
	AuditTimestampAttribute = "logging.googleapis.com/timestamp"

	// One Publish request carries at most 1,000 messages (Pub/Sub quotas).
	maxPublishBatch = 1000
)

// auditChange is one successful change, described by the API call that
// Google would log for it.
type auditChange struct {
	when         time.Time
	serviceName  string // run.googleapis.com or iap.googleapis.com
	methodName   string
	resourceName string // as the caller wrote it, or as gcloud's v1 path logs it
	permission   string
	principal    string // "" = the emitter's default for this kind of change
	outOfBand    bool
	operation    string // the long-running operation started, if any
	// project, location and service identify the Cloud Run service the
	// change touches; service is empty for IAP's resources above one.
	// container (organizations/{n}, folders/{n}) is set instead for a
	// resource of an organization or a folder, whose log the entry is in.
	container string
	project   projects.Project
	location  string
	service   string
	scope     names.IAPScope
	shape     auditShape // the API's
}

// auditEmitter turns changes into log entries and publishes them, one
// Publish request at a time, on its own goroutine: a call never waits for
// Pub/Sub and never fails because of it.
type auditEmitter struct {
	opts   AuditOptions
	logger *slog.Logger
	client *pubsub.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	queue []queuedEntry
	wake  chan struct{}

	insertPrefix string
	seq          atomic.Uint64
	emitted      atomic.Int64
	published    atomic.Int64
	failed       atomic.Int64
}

type queuedEntry struct {
	due time.Time
	msg *pubsubpb.PubsubMessage
}

func newAuditEmitter(opts AuditOptions, logger *slog.Logger) (*auditEmitter, error) {
	project, _, ok := parseTopic(opts.Topic)
	if !ok {
		return nil, fmt.Errorf("audit topic %q is not projects/{project}/topics/{topic}", opts.Topic)
	}
	ctx, cancel := context.WithCancel(context.Background())
	client, err := pubsub.NewClient(ctx, project,
		option.WithEndpoint(opts.PubSubEndpoint),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("pubsub client for %s: %w", opts.PubSubEndpoint, err)
	}
	e := &auditEmitter{
		opts: opts, logger: logger, client: client, cancel: cancel,
		done:         make(chan struct{}),
		wake:         make(chan struct{}, 1),
		insertPrefix: strconv.FormatUint(rand.Uint64()%(36*36*36*36*36*36), 36),
	}
	go e.deliver(ctx)
	return e, nil
}

func parseTopic(name string) (project, topic string, ok bool) {
	p := strings.Split(name, "/")
	if len(p) != 4 || p[0] != "projects" || p[1] == "" || p[2] != "topics" || p[3] == "" {
		return "", "", false
	}
	return p[1], p[3], true
}

// stop abandons entries not yet published.
func (e *auditEmitter) stop() {
	if e == nil {
		return
	}
	e.cancel()
	<-e.done
	_ = e.client.Close()
}

func (e *auditEmitter) stats() AuditStats {
	if e == nil {
		return AuditStats{}
	}
	e.mu.Lock()
	pending := len(e.queue)
	e.mu.Unlock()
	return AuditStats{Emitted: e.emitted.Load(), Published: e.published.Load(), Failed: e.failed.Load(), Pending: pending}
}

// emit queues the entry for a change; it never blocks on Pub/Sub.
func (e *auditEmitter) emit(c auditChange) {
	if e == nil {
		return
	}
	data, err := e.logEntryJSON(c, time.Now())
	if err != nil {
		e.failed.Add(1)
		e.logger.Error("gcpfake audit entry", "method", c.methodName, "resource", c.resourceName, "error", err)
		return
	}
	msg := &pubsubpb.PubsubMessage{Data: data, Attributes: map[string]string{AuditTimestampAttribute: rfc3339(c.when)}}
	e.mu.Lock()
	e.queue = append(e.queue, queuedEntry{due: c.when.Add(e.opts.DeliveryDelay), msg: msg})
	e.mu.Unlock()
	e.emitted.Add(1)
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// deliver publishes queued entries in the order they were emitted, each no
// sooner than its due time. One Publish request at a time keeps that order
// without ordering keys, which a logging sink does not set.
func (e *auditEmitter) deliver(ctx context.Context) {
	defer close(e.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		e.mu.Lock()
		var wait time.Duration
		var batch []*pubsubpb.PubsubMessage
		now := time.Now()
		for len(e.queue) > 0 && len(batch) < maxPublishBatch {
			if d := e.queue[0].due.Sub(now); d > 0 {
				wait = d
				break
			}
			batch = append(batch, e.queue[0].msg)
			e.queue[0] = queuedEntry{}
			e.queue = e.queue[1:]
		}
		idle := len(batch) == 0 && len(e.queue) == 0
		e.mu.Unlock()

		if len(batch) > 0 {
			e.publish(ctx, batch)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		var tick <-chan time.Time
		if !idle {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-e.wake:
			timer.Stop()
		case <-tick:
		}
	}
}

func (e *auditEmitter) publish(ctx context.Context, batch []*pubsubpb.PubsubMessage) {
	// The generated client retries UNAVAILABLE and friends for up to 60 s.
	_, err := e.client.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: e.opts.Topic, Messages: batch})
	if err != nil {
		e.failed.Add(int64(len(batch)))
		e.logger.Error("gcpfake audit publish", "topic", e.opts.Topic, "entries", len(batch), "error", err)
		return
	}
	e.published.Add(int64(len(batch)))
}

// insertID is unique per fake: a random prefix and a sequence number.
func (e *auditEmitter) insertID() string {
	n := strconv.FormatUint(e.seq.Add(1), 36)
	if len(n) < 6 {
		n = strings.Repeat("0", 6-len(n)) + n
	}
	return e.insertPrefix + n
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
