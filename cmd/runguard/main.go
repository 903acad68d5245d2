// Command runguard is the adoption tool: `runguard export` writes ProtectedService manifests
// that reproduce what Google Cloud holds today, and `runguard plan` says what applying manifests
// would change there, with no cluster. Installed as kubectl-runguard it is also a kubectl
// plugin: `kubectl runguard export …`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
)

// Exit codes, as terraform plan -detailed-exitcode has them.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is how the user called us: "kubectl runguard" as a plugin, else "runguard".
func command() string {
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-") {
		return "kubectl runguard"
	}
	return "runguard"
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitError
	}
	var err error
	code := exitOK
	switch args[0] {
	case "export":
		err = runExport(ctx, args[1:], stdout, stderr)
	case "plan":
		code, err = runPlan(ctx, args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "%s: unknown command %q\n", command(), args[0])
		usage(stderr)
		return exitError
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s %s: %v\n", command(), args[0], err)
		return exitError
	}
	return code
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `Usage:
  %[1]s export --project P [--location L[,L…]] [--service S] [--namespace NS] [--mode Observe|Enforce]
      Print ProtectedService manifests that reproduce today's IAP access to each Cloud Run service.
  %[1]s plan -f FILE [-f FILE…] [--annotation KEY=VALUE…]
      Print what applying the manifests would change in Google Cloud. Exit code 0: no change,
      2: changes, 1: error. "-f -" reads standard input.

Both read Google Cloud as Application Default Credentials (or --impersonate-service-account)
allow, and write nothing to it. "%[1]s COMMAND -h" lists a command's flags. The adoption path:
docs/adoption.md.
`, command())
}

// googleFlags are the flags of both commands that say how to reach Google: those of the manager,
// so the tools work against the fake Google Cloud too.
type googleFlags struct {
	config      gcp.Config
	impersonate string
	clusterName string
	timeout     time.Duration
}

func (g *googleFlags) register(fs *flag.FlagSet) {
	g.config.Rates = gcp.DefaultRates()
	fs.StringVar(&g.config.RunEndpoint, "run-endpoint", "", "Cloud Run Admin API endpoint (host:port); plaintext without credentials only on loopback.")
	fs.StringVar(&g.config.IAPEndpoint, "iap-endpoint", "", "IAP Admin API endpoint (host:port); plaintext without credentials only on loopback.")
	fs.StringVar(&g.config.ResourceManagerEndpoint, "resourcemanager-endpoint", "", "Resource Manager API endpoint (host:port); plaintext without credentials only on loopback.")
	fs.StringVar(&g.config.IAMCredentialsEndpoint, "iamcredentials-endpoint", "", "IAM Credentials API endpoint (host:port, loopback only) where --impersonate-service-account's tokens are minted.")
	fs.StringVar(&g.impersonate, "impersonate-service-account", "", "Read Google Cloud as this service account (short-lived tokens from IAM Credentials), as gcloud's flag of that name does.")
	fs.StringVar(&g.clusterName, "cluster-name", controllers.DefaultOptions().ClusterName, "The runguard manager's --cluster-name: bindings it marked are recognised as its own.")
	fs.DurationVar(&g.timeout, "timeout", 5*time.Minute, "Give up after this long.")
}

// connect dials Google as the flags say.
func (g *googleFlags) connect(ctx context.Context) (*gcp.Clients, func(), error) {
	if g.clusterName == "" {
		return nil, nil, errors.New("--cluster-name may not be empty")
	}
	clients, err := gcp.New(ctx, g.config)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to Google Cloud (credentials: Application Default Credentials, e.g. `gcloud auth application-default login`): %w", err)
	}
	if g.impersonate == "" {
		return clients, clients.Close, nil
	}
	acting, err := clients.ActingAs(ctx, g.impersonate)
	if err != nil {
		clients.Close()
		return nil, nil, fmt.Errorf("act as %s: %w", g.impersonate, err)
	}
	return acting, clients.Close, nil
}

// caller names whose permissions a denial is about.
func (g *googleFlags) caller() string {
	if g.impersonate != "" {
		return g.impersonate
	}
	return "the caller (Application Default Credentials)"
}

// explain turns a Google failure into what the user must do about it.
func (g *googleFlags) explain(err error) error {
	switch gcp.Classify(err) {
	case gcp.PermissionDenied:
		return fmt.Errorf("%s lacks the permission %s on %s: %w", g.caller(), gcp.Permission(err), gcp.Resource(err), err)
	case gcp.Unauthenticated:
		return fmt.Errorf("no usable Google credentials (run `gcloud auth application-default login`, or pass --impersonate-service-account): %w", err)
	case gcp.APIDisabled:
		return fmt.Errorf("an API runguard needs is disabled in the project (docs/install.md lists them): %w", err)
	}
	return err
}
