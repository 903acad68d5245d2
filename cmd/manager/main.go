// Command manager runs the runguard controller.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/invalid"
	"github.com/runguard/runguard/internal/scheme"
	"github.com/runguard/runguard/internal/version"
)

func main() {
	var (
		metricsAddr, probeAddr, pprofAddr         string
		secureMetrics, enableHTTP2                bool
		leaderElect                               bool
		leaderElectionID, leaderElectionNamespace string
		leaseDuration, renewDeadline, retryPeriod time.Duration
		google                                    gcp.Config
		auditSubscription, pubsubEndpoint         string
	)
	opts := controllers.DefaultOptions()
	google.Rates = gcp.DefaultRates()
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address the metrics endpoint binds to; \"0\" disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with Kubernetes authentication and authorization.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Serve metrics over HTTP/2 (off: HTTP/2 Rapid Reset and Stream Cancellation CVEs).")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "Address Go's pprof profiles are served on (for measuring memory and CPU); empty (default): off.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so only one replica writes.")
	flag.StringVar(&leaderElectionID, "leader-election-id", "runguard.iap.runguard.dev", "Name of the leader election Lease.")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the Lease (default: the pod's namespace, or \"default\" outside a cluster).")
	flag.DurationVar(&leaseDuration, "lease-duration", 15*time.Second, "How long a leader's lease lasts without renewal.")
	flag.DurationVar(&renewDeadline, "renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before giving up.")
	flag.DurationVar(&retryPeriod, "retry-period", 2*time.Second, "How often candidates retry acquiring the lease.")
	flag.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-reconciles", opts.MaxConcurrentReconciles, "ProtectedServices reconciled in parallel.")
	flag.DurationVar(&opts.ResyncPeriod, "resync-period", opts.ResyncPeriod, "How often every object is re-checked against Google Cloud to correct drift (jittered by 10%).")
	flag.DurationVar(&opts.StalledRecheck, "stalled-recheck-period", opts.StalledRecheck, "How often a Stalled object is re-checked.")
	flag.DurationVar(&opts.IAMPropagationDelay, "iam-propagation-delay", opts.IAMPropagationDelay, "How long IAP stays on after public access was revoked, when IAP is being switched off (IAM changes can take 7 minutes or more).")
	flag.DurationVar(&opts.IAPAgentPropagation, "iap-agent-propagation-timeout", opts.IAPAgentPropagation, "How long IAM's rejection of a project's IAP service agent is retried as a just-created agent (IAPServiceAgentPropagating) before the object is Stalled with IAPServiceAgentMissing.")
	flag.StringVar(&opts.ClusterName, "cluster-name", opts.ClusterName, "Name of this cluster, written into every binding runguard marks; unique per cluster sharing a project.")
	flag.BoolVar(&opts.AllowAnyProject, "allow-any-project", opts.AllowAnyProject, "Let every namespace target any project (single-tenant clusters); by default the namespace annotation iap.runguard.dev/allowed-projects decides.")
	flag.StringVar(&google.RunEndpoint, "run-endpoint", "", "Cloud Run Admin API endpoint (host:port); plaintext without credentials only on loopback.")
	flag.StringVar(&google.IAPEndpoint, "iap-endpoint", "", "IAP Admin API endpoint (host:port); plaintext without credentials only on loopback.")
	flag.StringVar(&google.IAMEndpoint, "iam-endpoint", "", "IAM Admin API endpoint (host:port), where custom roles are read; plaintext without credentials only on loopback.")
	flag.StringVar(&google.ACMEndpoint, "acm-endpoint", "", "Access Context Manager API endpoint (host:port); plaintext without credentials only on loopback.")
	flag.StringVar(&opts.AccessPolicy, "access-policy", "", "The organization's access policy (accessPolicies/NUMBER) that holds the levels of AccessLevel objects naming none (docs/access-levels.md).")
	flag.StringVar(&google.ResourceManagerEndpoint, "resourcemanager-endpoint", "", "Resource Manager API endpoint (host:port); plaintext without credentials only on loopback.")
	flag.Float64Var(&google.Rates.RunReadsPerMinute, "run-reads-per-minute", google.Rates.RunReadsPerMinute, "Cloud Run Admin API reads per minute per project and region (Google's default quota: 600); 0: no limit.")
	flag.Float64Var(&google.Rates.RunWritesPerMinute, "run-writes-per-minute", google.Rates.RunWritesPerMinute, "Cloud Run Admin API writes (UpdateService, SetIamPolicy) per minute per project and region (Google's default quota: 60); 0: no limit.")
	flag.Float64Var(&google.Rates.IAPReadsPerMinute, "iap-reads-per-minute", google.Rates.IAPReadsPerMinute, "IAP Admin API reads per minute per project and region; 0 (default): no limit (Google publishes no quota).")
	flag.Float64Var(&google.Rates.IAPWritesPerMinute, "iap-writes-per-minute", google.Rates.IAPWritesPerMinute, "IAP Admin API writes per minute per project and region; 0 (default): no limit (Google publishes no quota).")
	flag.StringVar(&google.IAMCredentialsEndpoint, "iamcredentials-endpoint", "", "IAM Credentials API endpoint (host:port, loopback only: a fake's REST surface) where namespace identities' tokens are minted.")
	flag.BoolVar(&opts.RequireNamespaceIdentity, "require-namespace-identity", opts.RequireNamespaceIdentity, "Stall objects in namespaces without the iap.runguard.dev/google-service-account annotation instead of calling Google as runguard's own identity (docs/tenancy.md).")
	flag.StringVar(&auditSubscription, "audit-log-subscription", "", "Pub/Sub subscription (projects/P/subscriptions/S) receiving Admin Activity audit entries from a logging sink; changes they report are corrected at once (docs/drift-events.md). Off when empty.")
	flag.StringVar(&pubsubEndpoint, "pubsub-endpoint", "", "Pub/Sub API endpoint (host:port); plaintext without credentials only on loopback.")
	flag.Func("audit-own-principals", "runguard's own Google identities as audit entries name them, comma-separated emails or patterns with * (runguard@*.iam.gserviceaccount.com): their entries wake nothing when they echo runguard's writes, and at most one resync-priority pass per object per 2 s otherwise (docs/drift-events.md). Namespaces' identities are added from their annotations.",
		func(v string) error {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					opts.AuditOwnPrincipals = append(opts.AuditOwnPrincipals, p)
				}
			}
			return nil
		})
	showVersion := flag.Bool("version", false, "Print the version and exit.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	build := version.Get()
	if *showVersion {
		fmt.Println(build)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	setupLog := ctrl.Log.WithName("setup")
	setupLog.Info("runguard manager", "version", build.Version, "commit", build.Commit, "go", build.GoVersion)
	metrics.Registry.MustRegister(build.NewCollector())

	if err := validateFlags(opts, google.Rates); err != nil {
		setupLog.Error(err, "invalid flag")
		os.Exit(2)
	}
	ctx := ctrl.SetupSignalHandler()
	googleClients, err := gcp.New(context.Background(), google)
	if err != nil {
		setupLog.Error(err, "connect to Google Cloud")
		os.Exit(1)
	}
	defer googleClients.Close()

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	cfg := ctrl.GetConfigOrDie()
	if leaderElect && leaderElectionNamespace == "" && !inCluster() {
		leaderElectionNamespace = "default"
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme.New(),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        leaderElectionID,
		LeaderElectionNamespace: leaderElectionNamespace,
		LeaseDuration:           &leaseDuration,
		RenewDeadline:           &renewDeadline,
		RetryPeriod:             &retryPeriod,
		// The process exits right after losing the lease, so it can stop at once.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cache.Options{DefaultTransform: controllers.CacheTransform()},
		NewCache:                      cacheOnItsOwnConnection,
	})
	if err != nil {
		setupLog.Error(err, "create manager")
		os.Exit(1)
	}
	reconciler := &controllers.ProtectedServiceReconciler{
		Client:   mgr.GetClient(),
		Google:   googleClients,
		Recorder: mgr.GetEventRecorder("runguard"),
		Options:  opts,
	}
	if auditSubscription != "" {
		sub, err := gcp.NewAuditSubscription(ctx, auditSubscription, pubsubEndpoint)
		if err != nil {
			setupLog.Error(err, "connect to the audit log subscription")
			os.Exit(1)
		}
		defer sub.Close()
		reconciler.AuditSubscription = sub
		// Events about the subscription are recorded on the leader's Lease: the receiver runs there.
		reconciler.AuditEventsAbout = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: leaderElectionID, Namespace: leaseNamespace(leaderElectionNamespace)}}
	}
	levels := &controllers.AccessLevelReconciler{
		Client: mgr.GetClient(), Google: googleClients, Recorder: mgr.GetEventRecorder("runguard"), Options: opts,
	}
	reconciler.Levels = levels
	if err := reconciler.SetupWithManager(ctx, mgr); err != nil {
		setupLog.Error(err, "set up controller")
		os.Exit(1)
	}
	if err := levels.SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "set up the AccessLevel controller")
		os.Exit(1)
	}
	grants := &controllers.AccessGrantReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("runguard")}
	if err := grants.SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "set up the AccessGrant controller")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "add health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "add ready check")
		os.Exit(1)
	}
	setupLog.Info("starting manager", "cluster", opts.ClusterName, "allowAnyProject", opts.AllowAnyProject, "resync", opts.ResyncPeriod, "auditLogSubscription", auditSubscription)
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "run manager")
		os.Exit(1)
	}
}

// leaseNamespace is where controller-runtime keeps the leader election Lease: the flag, else the
// pod's namespace, else "default".
func leaseNamespace(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if raw, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(raw) > 0 {
		return strings.TrimSpace(string(raw))
	}
	return "default"
}

func inCluster() bool {
	_, err := rest.InClusterConfig()
	return err == nil
}

// flagOf is the flag each validated setting comes from.
var flagOf = map[string]string{
	"ClusterName": "--cluster-name", "ResyncPeriod": "--resync-period", "StalledRecheck": "--stalled-recheck-period",
	"IAMPropagationDelay": "--iam-propagation-delay", "IAPAgentPropagation": "--iap-agent-propagation-timeout",
	"MaxConcurrentReconciles": "--max-concurrent-reconciles", "AccessPolicy": "--access-policy",
	"RunReadsPerMinute": "--run-reads-per-minute", "RunWritesPerMinute": "--run-writes-per-minute",
	"IAPReadsPerMinute": "--iap-reads-per-minute", "IAPWritesPerMinute": "--iap-writes-per-minute",
}

// validateFlags names the flag whose value makes no sense, before anything starts. The bounds
// are those of Options.Validate and Rates.Validate, never restated here.
func validateFlags(o controllers.Options, r gcp.Rates) error {
	for _, err := range []error{r.Validate(), o.Validate()} {
		var bad *invalid.Option
		if errors.As(err, &bad) {
			return fmt.Errorf("%s=%v: %s", flagOf[bad.Field], bad.Value, bad.Want)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// cacheOnItsOwnConnection gives the cache's watches a connection of their own to the API server.
// Sharing one HTTP/2 connection with every worker's status patches, the watch stream that brings
// users' edits queued behind them: during a burst of 1,000 new objects an edit reached the
// manager's event handler 11 s after the API server had sent it to other watchers. A Dial of our
// own makes client-go build a separate transport (it caches transports only for configs without
// one).
func cacheOnItsOwnConnection(config *rest.Config, opts cache.Options) (cache.Cache, error) {
	own := rest.CopyConfig(config)
	own.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	httpClient, err := rest.HTTPClientFor(own)
	if err != nil {
		return nil, fmt.Errorf("HTTP client for the cache: %w", err)
	}
	opts.HTTPClient = httpClient
	return cache.New(own, opts)
}
