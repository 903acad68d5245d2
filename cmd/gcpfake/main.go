// Command gcpfake serves the fake Google Cloud APIs (Cloud Run Admin v2,
// IAP Admin IAM and settings, Resource Manager GetProject, IAM Credentials,
// Access Context Manager v1 access policies and levels) over gRPC, with a loopback
// JSON admin endpoint for inspection, out-of-band changes and faults. With
// --http-listen it also serves them as Google's REST/JSON APIs. With
// --pubsub-listen it also runs Google's in-memory Pub/Sub server (pstest)
// and publishes an Admin Activity audit entry for every change to a topic
// there, as a Cloud Logging sink would.
// With --frontdoor-listen it serves its Cloud Run services' URLs behind a simulated IAP
// (internal/gcpfake/frontdoor).
// With --quota-run-writes-per-minute and its siblings it refuses calls above
// a rate per project and region as Google's quotas do (docs/gcpfake.md).
//
//	go run ./cmd/gcpfake --seed internal/gcpfake/testdata/seed.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
	"github.com/runguard/runguard/internal/version"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gcpfake:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8790", "gRPC listen address")
	seedPath := flag.String("seed", "", "YAML seed file (projects, services, access policies)")
	adminListen := flag.String("admin-listen", "127.0.0.1:8791", "admin HTTP listen address (loopback only)")
	reconcileDelay := flag.Duration("reconcile-delay", 0, "how long a Cloud Run change stays reconciling")
	faultSeed := flag.Int64("fault-seed", 1, "seed for probabilistic fault rules")
	httpListen := flag.String("http-listen", "", "serve the REST/JSON form of the same APIs here, as Google's REST clients and gcloud call them (loopback only; empty: none)")
	frontDoorListen := flag.String("frontdoor-listen", "", "serve the fake's IAP in front of its Cloud Run services here: a request whose Host is a service's URL host is decided from its X-Runguard-Test-* headers and the stored policies (loopback only; empty: none)")
	iapAcceptProjectID := flag.Bool("iap-accept-project-id", true, "resolve a project ID in IAP resource names (projects/{id}/iap_web/...) as the number; false rejects it with INVALID_ARGUMENT. gcloud beta iap settings get --project=ID sends the ID form")
	pubsubListen := flag.String("pubsub-listen", "", "run an in-memory Pub/Sub server (pstest) here and publish audit entries to it (loopback only; empty: no audit entries)")
	auditTopic := flag.String("audit-topic", adminapi.DefaultAuditTopic, "Pub/Sub topic the audit entries go to, created at start")
	auditSubscription := flag.String("audit-subscription", adminapi.DefaultAuditSubscription, "Pub/Sub subscription created on --audit-topic at start")
	tokenLifetime := flag.Duration("token-lifetime", 0, "cap the lifetime of the tokens GenerateAccessToken issues, so clients refresh (and see a revoked token-creator grant) within seconds; 0: as asked, at most an hour, as Google")
	auditDelay := flag.Duration("audit-delivery-delay", 0, "how long after a change its audit entry is published")
	auditCaller := flag.String("audit-caller", "", "principalEmail of audit entries for gRPC calls (default runguard@{project}.iam.gserviceaccount.com)")
	var quotas gcpfake.Quotas
	perMinuteFlag(flag.CommandLine, &quotas.RunWritesPerMinute, "quota-run-writes-per-minute", "refuse Cloud Run Admin API writes (Create, Update, Delete, SetIamPolicy) above this many per minute per project and region with RESOURCE_EXHAUSTED and a RetryInfo, as Google's quota does (its default: 60)")
	perMinuteFlag(flag.CommandLine, &quotas.RunReadsPerMinute, "quota-run-reads-per-minute", "the same for Cloud Run Admin API reads (Get, List, GetIamPolicy, TestIamPermissions, operations)")
	perMinuteFlag(flag.CommandLine, &quotas.IAPWritesPerMinute, "quota-iap-writes-per-minute", "the same for IAP Admin API writes (SetIamPolicy, UpdateIapSettings), per project and region")
	perMinuteFlag(flag.CommandLine, &quotas.IAPReadsPerMinute, "quota-iap-reads-per-minute", "the same for IAP Admin API reads (GetIamPolicy, GetIapSettings, TestIamPermissions)")
	perMinuteFlag(flag.CommandLine, &quotas.ACMWritesPerMinute, "quota-acm-writes-per-minute", "the same for Access Context Manager writes (access level changes), per organization (Google's: 50)")
	perMinuteFlag(flag.CommandLine, &quotas.ACMReadsPerMinute, "quota-acm-reads-per-minute", "the same for Access Context Manager reads (policies, levels, operations), per organization (Google's: 500)")
	acmDeferOperations := flag.Bool("acm-defer-operations", false, "answer Access Context Manager level changes with operations that are done only on their first GetOperation (Google answers them done)")
	auditOutOfBandCaller := flag.String("audit-out-of-band-caller", "", "principalEmail of audit entries for admin-endpoint changes (default "+gcpfake.DefaultOutOfBandCaller+")")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String())
		return nil
	}

	if err := requireLoopback(*adminListen); err != nil {
		return fmt.Errorf("--admin-listen: %w", err)
	}
	if *httpListen != "" {
		if err := requireLoopback(*httpListen); err != nil {
			return fmt.Errorf("--http-listen: %w", err)
		}
	}
	if *frontDoorListen != "" {
		if err := requireLoopback(*frontDoorListen); err != nil {
			return fmt.Errorf("--frontdoor-listen: %w", err)
		}
	}
	audit := gcpfake.AuditOptions{Topic: *auditTopic, DeliveryDelay: *auditDelay, Caller: *auditCaller, OutOfBandCaller: *auditOutOfBandCaller}
	if *pubsubListen != "" {
		if err := requireLoopback(*pubsubListen); err != nil {
			return fmt.Errorf("--pubsub-listen: %w", err)
		}
		ps, err := startPubSub(*pubsubListen, *auditTopic, *auditSubscription)
		if err != nil {
			return err
		}
		defer ps.Close()
		audit.PubSubEndpoint = ps.Addr
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var seed gcpfake.Seed
	if *seedPath != "" {
		var err error
		if seed, err = gcpfake.LoadSeed(*seedPath); err != nil {
			return err
		}
	}
	srv, err := gcpfake.Start(gcpfake.Options{Addr: *listen, HTTPAddr: *httpListen, Seed: seed, ReconcileDelay: *reconcileDelay, Logger: logger, FaultSeed: *faultSeed, Audit: audit, IAPAcceptProjectID: *iapAcceptProjectID, TokenLifetime: *tokenLifetime, Quotas: quotas, ACMDeferOperations: *acmDeferOperations, FrontDoorAddr: *frontDoorListen})
	if err != nil {
		return err
	}
	defer srv.Stop()

	adminLis, err := net.Listen("tcp", *adminListen)
	if err != nil {
		return fmt.Errorf("admin listen: %w", err)
	}
	admin := &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	adminErr := make(chan error, 1)
	go func() { adminErr <- admin.Serve(adminLis) }()
	serving := []any{"grpc", srv.Endpoint(), "admin", "http://" + adminLis.Addr().String(),
		"projects", len(seed.Projects), "services", len(seed.Services), "accessPolicies", len(seed.AccessPolicies)}
	if ep := srv.HTTPEndpoint(); ep != "" {
		serving = append(serving, "rest", "http://"+ep)
	}
	if ep := srv.FrontDoorEndpoint(); ep != "" {
		serving = append(serving, "frontdoor", "http://"+ep)
	}
	if a := srv.Access(); a.Enforced {
		serving = append(serving, "access", "enforced", "defaultCaller", a.DefaultCaller, "serviceAccounts", len(a.ServiceAccounts))
	}
	if quotas != (gcpfake.Quotas{}) {
		serving = append(serving, "quotaRunWritesPerMinute", quotas.RunWritesPerMinute, "quotaRunReadsPerMinute", quotas.RunReadsPerMinute,
			"quotaIAPWritesPerMinute", quotas.IAPWritesPerMinute, "quotaIAPReadsPerMinute", quotas.IAPReadsPerMinute,
			"quotaACMWritesPerMinute", quotas.ACMWritesPerMinute, "quotaACMReadsPerMinute", quotas.ACMReadsPerMinute)
	}
	if audit.PubSubEndpoint != "" {
		serving = append(serving, "pubsub", audit.PubSubEndpoint, "auditTopic", *auditTopic,
			"auditSubscription", *auditSubscription, "auditDeliveryDelay", *auditDelay)
	}
	logger.Info("gcpfake serving", serving...)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		logger.Info("gcpfake shutting down")
	case err := <-adminErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("admin server: %w", err)
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = admin.Shutdown(shutdownCtx)
	srv.Stop()
	logger.Info("gcpfake stopped")
	return nil
}

// startPubSub runs Google's in-memory Pub/Sub server on addr with the audit
// topic and a subscription on it.
func startPubSub(addr, topic, subscription string) (srv *pstest.Server, err error) {
	// pstest panics when it cannot listen.
	defer func() {
		if r := recover(); r != nil {
			srv, err = nil, fmt.Errorf("pubsub listen %s: %v", addr, r)
		}
	}()
	srv = pstest.NewServerWithAddress(addr)
	if err := createTopicAndSubscription(srv.Addr, topic, subscription); err != nil {
		_ = srv.Close()
		return nil, err
	}
	return srv, nil
}

func createTopicAndSubscription(endpoint, topic, subscription string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := pubsub.NewClient(ctx, "gcpfake", option.WithEndpoint(endpoint), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	defer client.Close()
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: subscription, Topic: topic}); err != nil {
		return fmt.Errorf("create subscription %s: %w", subscription, err)
	}
	return nil
}

// perMinuteFlag defines a flag for a quota: a whole number of calls a minute, 0 for none. The
// flag package refuses anything else, naming the flag.
func perMinuteFlag(fs *flag.FlagSet, p *int, name, usage string) {
	fs.Func(name, usage+" (default 0: no quota)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errors.New("want 0 (no quota) or a whole number of calls per minute")
		}
		*p = n
		return nil
	})
}

// requireLoopback refuses to expose the unauthenticated admin API, REST
// surface and Pub/Sub server beyond this machine.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	return nil
}
