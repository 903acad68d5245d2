// Command runguard is the adoption tool: `runguard export` writes ProtectedService manifests
// that reproduce what Google Cloud holds today, and `runguard plan` says what applying manifests
// would change there, with no cluster; `runguard who-can` and `runguard can` say who gets through
// IAP to a service, and whether one request would; `runguard grant` requests, approves and lists
// temporary access (AccessGrants) in the cluster. Installed as kubectl-runguard it is also a
// kubectl plugin: `kubectl runguard export …`. The commands and flags: docs/cli.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/version"
)

// Exit codes, as terraform plan -detailed-exitcode has them; can's are in can.go.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
)

// exitCode ends a command with that exit code and nothing more to say on standard error: plan's
// 2 (changes) and its 1 when an object could not be planned, both told on standard output.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit code %d", int(c)) }

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

// run is the whole CLI over its arguments and streams; it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if len(args) == 0 {
		// With no command the help goes to standard error and the exit code is 1: a script that lost
		// its command fails.
		root.SetOut(stderr)
		root.SetArgs([]string{"--help"})
		_ = root.Execute()
		return exitError
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	return exitError
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "runguard",
		Short: "Adopt existing Cloud Run services into runguard",
		Long: fmt.Sprintf(`Adopt existing Cloud Run services into runguard: "%[1]s export" prints the ProtectedService
manifests that reproduce today's IAP access to each service of a project, and "%[1]s plan" says
what applying manifests would change in Google Cloud. "%[1]s who-can" lists who gets through IAP
to a service, and "%[1]s can" says whether one request would.

They read Google Cloud as Application Default Credentials (or --impersonate-service-account)
allow, and write nothing to it or to a cluster. "%[1]s grant" requests, approves and lists
temporary access (AccessGrants): it writes to the cluster, as you, and never calls Google.
The adoption path: docs/adoption.md; every command and flag: docs/cli.md.`, command()),
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: command()},
		Version:       version.String(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	// --version without cobra's -v: under kubectl, -v is the log level.
	root.Flags().Bool("version", false, "Print the version, commit and Go version runguard was built from.")
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (%s --help lists the flags)", err, cmd.CommandPath())
	})
	root.AddCommand(newExportCommand(), newPlanCommand(), newDoctorCommand(), newWhoCanCommand(), newCanCommand(), newGrantCommand(), newVersionCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version runguard was built from",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version.String())
		},
	}
}

// noArguments refuses positional arguments, saying how the command takes its input instead.
func noArguments(instead string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unexpected arguments %q: %s", args, instead)
		}
		return nil
	}
}

// googleFlags are the flags that say how the commands reach Google: those of the manager, so the
// tools work against the fake Google Cloud too.
type googleFlags struct {
	flags       *pflag.FlagSet
	config      gcp.Config
	impersonate string
	clusterName string
	timeout     time.Duration
}

func (g *googleFlags) register(fs *pflag.FlagSet) {
	g.registerConnection(fs)
	fs.StringVar(&g.clusterName, "cluster-name", controllers.DefaultOptions().ClusterName, "The runguard manager's --cluster-name: bindings it marked are recognised as its own. Default: read from the manager's Deployment in the kubeconfig's cluster when one answers, else \"default\".")
}

// registerConnection registers the flags that say how to reach Google alone: for the commands
// that only read and report what Google holds, whichever cluster marked it.
func (g *googleFlags) registerConnection(fs *pflag.FlagSet) {
	g.flags = fs
	g.config.Rates = gcp.DefaultRates()
	fs.StringVar(&g.config.RunEndpoint, "run-endpoint", "", "Cloud Run Admin API endpoint (host:port); plaintext without credentials only on loopback.")
	fs.StringVar(&g.config.IAPEndpoint, "iap-endpoint", "", "IAP Admin API endpoint (host:port); plaintext without credentials only on loopback.")
	fs.StringVar(&g.config.ResourceManagerEndpoint, "resourcemanager-endpoint", "", "Resource Manager API endpoint (host:port); plaintext without credentials only on loopback.")
	fs.StringVar(&g.config.ACMEndpoint, "acm-endpoint", "", "Access Context Manager API endpoint (host:port); plaintext without credentials only on loopback.")
	fs.StringVar(&g.config.IAMEndpoint, "iam-endpoint", "", "IAM Admin API endpoint (host:port), where custom roles are read; plaintext without credentials only on loopback.")
	fs.StringVar(&g.config.IAMCredentialsEndpoint, "iamcredentials-endpoint", "", "IAM Credentials API endpoint (host:port, loopback only) where --impersonate-service-account's tokens are minted.")
	fs.StringVar(&g.impersonate, "impersonate-service-account", "", "Read Google Cloud as this service account (short-lived tokens from IAM Credentials), as gcloud's flag of that name does.")
	fs.DurationVar(&g.timeout, "timeout", 5*time.Minute, "Give up after this long.")
}

// connect dials Google as the flags say, within --timeout: the returned context carries the
// deadline, and done releases the clients and the context.
func (g *googleFlags) connect(ctx context.Context) (context.Context, *gcp.Clients, func(), error) {
	if g.flags.Lookup("cluster-name") != nil && g.clusterName == "" {
		return nil, nil, nil, errors.New("--cluster-name may not be empty")
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	clients, err := gcp.New(ctx, g.config)
	if err != nil {
		cancel()
		return nil, nil, nil, fmt.Errorf("connect to Google Cloud (credentials: Application Default Credentials, e.g. `gcloud auth application-default login`): %w", err)
	}
	if g.impersonate == "" {
		return ctx, clients, func() { clients.Close(); cancel() }, nil
	}
	acting, err := clients.ActingAs(ctx, g.impersonate)
	if err != nil {
		clients.Close()
		cancel()
		return nil, nil, nil, fmt.Errorf("act as %s: %w", g.impersonate, err)
	}
	return ctx, acting, func() { clients.Close(); cancel() }, nil
}

// fromCluster opens the kubeconfig's cluster, when it names one, and takes the manager's
// --cluster-name from its Deployment unless --cluster-name was given, so that out of the box
// runguard's own bindings read as its own. It says on stderr what it took, or why it could not;
// nil when no cluster is read.
func (g *googleFlags) fromCluster(ctx context.Context, kube *genericclioptions.ConfigFlags, stderr io.Writer) *clusterView {
	view, err := openCluster(kube)
	if err != nil {
		fmt.Fprintf(stderr, "note: the kubeconfig's cluster cannot be read (%v): nothing is read from a cluster\n", err)
		return nil
	}
	if view == nil || g.flags.Changed("cluster-name") {
		return view
	}
	name, where, err := view.managerClusterName(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "note: the manager's --cluster-name could not be read from the cluster (%v): using %q; pass --cluster-name\n", err, g.clusterName)
		return nil
	}
	g.clusterName = name
	fmt.Fprintf(stderr, "note: --cluster-name %s, as %s runs the manager\n", name, where)
	return view
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
