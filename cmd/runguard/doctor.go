package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runguard/runguard/internal/gcp"
)

type doctorFlags struct {
	google            googleFlags
	projects          []string
	locations         []string
	services          []string
	auditSubscription string
	pubsubEndpoint    string
	cluster           clusterFlags
}

func newDoctorCommand() *cobra.Command {
	f := doctorFlags{cluster: newClusterFlags()}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that runguard's Google identity can do its work, and say what to fix",
		Long: `Check, before the first ProtectedService is applied (or when one is Stalled), what runguard's
Google identity needs: each project resolves, the Cloud Run and IAP APIs are enabled, every
permission runguard uses is held on each Cloud Run service and its IAP resource
(TestIamPermissions, as the controller's own preflight asks), and the audit-log subscription
answers. It reads only.

The checks run as the caller's Application Default Credentials, or as
--impersonate-service-account: pass runguard's own service account (the one its Kubernetes
service account is bound to by Workload Identity) to check exactly what the manager holds.

The projects and regions to check are --project and --location, or, with --from-cluster, those
the namespaces' iap.runguard.dev/allowed-projects annotations name; --from-cluster also reports
the manager's Workload Identity binding and reads its --audit-log-subscription.

Exit code 0: nothing to fix; 1: something to fix (each problem is printed with its fix) or an
error.`,
		Example: fmt.Sprintf(`  %[1]s doctor --project acme-prod --location us-central1 --impersonate-service-account runguard@acme-ops.iam.gserviceaccount.com
  %[1]s doctor --from-cluster --context prod`, command()),
		Args: noArguments("name projects with --project"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.google.register(fs)
	fs.StringSliceVar(&f.projects, "project", nil, "Project ID to check; repeatable or comma-separated.")
	fs.StringSliceVar(&f.locations, "location", nil, "Cloud Run region whose services are checked; repeatable or comma-separated.")
	fs.StringSliceVar(&f.services, "service", nil, "Check only these Cloud Run services (short names) in each project and region, without listing them: runguard's own role has no run.services.list. Repeatable or comma-separated.")
	fs.StringVar(&f.auditSubscription, "audit-log-subscription", "", "The manager's --audit-log-subscription (projects/P/subscriptions/S), checked for access.")
	fs.StringVar(&f.pubsubEndpoint, "pubsub-endpoint", "", "Pub/Sub API endpoint (host:port); plaintext without credentials only on loopback.")
	f.cluster.register(fs)
	_ = cmd.RegisterFlagCompletionFunc("location", cobra.FixedCompletions(gcp.CloudRunRegions, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// report collects what doctor found, printed as it goes.
type report struct {
	out      io.Writer
	problems int
}

func (r *report) ok(format string, args ...any) { fmt.Fprintf(r.out, "  ok    "+format+"\n", args...) }

func (r *report) problem(format string, args ...any) {
	r.problems++
	fmt.Fprintf(r.out, "  FIX   "+format+"\n", args...)
}

func (r *report) note(format string, args ...any) {
	fmt.Fprintf(r.out, "  note  "+format+"\n", args...)
}

func (f *doctorFlags) run(ctx context.Context, stdout, stderr io.Writer) error {
	r := &report{out: stdout}
	targets := newTargets(f.projects, f.locations)
	if f.cluster.fromCluster {
		found, err := f.cluster.discover(ctx, r)
		if err != nil {
			return err
		}
		targets.merge(found.targets)
		if f.auditSubscription == "" {
			f.auditSubscription = found.auditSubscription
		}
	}
	if len(targets.projects) == 0 {
		return fmt.Errorf("no project to check: name them with --project (and --location), or read them from the cluster with --from-cluster")
	}
	ctx, google, done, err := f.google.connect(ctx)
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintf(stdout, "Checking as %s.\n", f.google.caller())
	for _, project := range targets.projects {
		f.checkProject(ctx, google, r, project, targets.locations[project])
	}
	if f.auditSubscription != "" {
		f.checkAuditSubscription(ctx, r)
	}
	if r.problems > 0 {
		fmt.Fprintf(stdout, "%d to fix.\n", r.problems)
		return exitCode(exitError)
	}
	fmt.Fprintln(stdout, "Nothing to fix.")
	return nil
}

// checkProject checks one project: it resolves, and every service in each location can be
// managed. A disabled API is said once per project, with the command that enables it.
func (f *doctorFlags) checkProject(ctx context.Context, google *gcp.Clients, r *report, project string, locations []string) {
	fmt.Fprintf(r.out, "project %s\n", project)
	number, err := google.ProjectNumber(ctx, project)
	if err != nil {
		r.problem("%v", f.google.explain(err))
		return
	}
	r.ok("project number %d (resourcemanager.projects.get)", number)
	if len(locations) == 0 {
		r.note("no region to check services in: name them with --location")
		return
	}
	disabled := map[string]bool{}
	for _, location := range locations {
		names, err := f.serviceNames(ctx, google, r, project, location)
		if err != nil {
			f.googleProblem(r, project, err, disabled)
			continue
		}
		for _, name := range names {
			f.checkService(ctx, google, r, gcp.Service{Project: project, Number: number, Location: location, Name: name}, disabled)
		}
	}
}

// serviceNames are the services to check in a project and region: those --service names, else
// every one there. runguard's own role cannot list them, which is said, not counted as a fault.
func (f *doctorFlags) serviceNames(ctx context.Context, google *gcp.Clients, r *report, project, location string) ([]string, error) {
	if len(f.services) > 0 {
		return f.services, nil
	}
	services, err := google.Services().List(ctx, project, location)
	if gcp.Classify(err) == gcp.PermissionDenied {
		r.note("%s: %s may not list services (run.services.list is not in runguard's role): name them with --service", location, f.google.caller())
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(services) == 0 {
		r.note("%s: no Cloud Run service yet", location)
	}
	names := make([]string, len(services))
	for i, svc := range services {
		names[i] = shortName(svc)
	}
	return names, nil
}

// checkService asks which permissions runguard lacks on the service and on its IAP resource.
func (f *doctorFlags) checkService(ctx context.Context, google *gcp.Clients, r *report, svc gcp.Service, disabled map[string]bool) {
	var missing []string
	for _, check := range []struct {
		policies gcp.Policies
		resource string
		want     []string
	}{{google.ServicePolicies(), svc.Path(), gcp.ServicePermissions},
		{google.AccessPolicies(), svc.IAPResource(), slices.Concat(gcp.AccessPermissions, gcp.SettingsPermissions)}} {
		lacks, err := check.policies.MissingPermissions(ctx, svc, check.want)
		if gcp.Classify(err) == gcp.NotFound {
			r.note("%s: no such Cloud Run service, nothing to check", svc.Path())
			return
		}
		if err != nil {
			f.googleProblem(r, svc.Project, err, disabled)
			return
		}
		for _, p := range lacks {
			missing = append(missing, p+" on "+check.resource)
		}
	}
	if len(missing) > 0 {
		r.problem("%s lacks %s: grant the runguard role (docs/install.md)", f.google.caller(), strings.Join(missing, ", "))
		return
	}
	r.ok("%s: every permission runguard uses", svc.Path())
}

// googleProblem reports a failed call: a disabled API once per project, with the command that
// enables it; anything else as explain says it.
func (f *doctorFlags) googleProblem(r *report, project string, err error, disabled map[string]bool) {
	if gcp.Classify(err) != gcp.APIDisabled {
		r.problem("%v", f.google.explain(err))
		return
	}
	api := gcp.DisabledAPI(err)
	if api == "" {
		api = "the API"
	}
	if disabled[api] {
		return
	}
	disabled[api] = true
	r.problem("%s is disabled in project %s: gcloud services enable %s --project=%s", api, project, api, project)
}

// checkAuditSubscription checks that the audit-log subscription exists and may be read.
func (f *doctorFlags) checkAuditSubscription(ctx context.Context, r *report) {
	fmt.Fprintf(r.out, "audit-log subscription %s\n", f.auditSubscription)
	sub, err := gcp.NewAuditSubscription(ctx, f.auditSubscription, f.pubsubEndpoint)
	if err != nil {
		r.problem("%v", err)
		return
	}
	defer sub.Close()
	if err := sub.Check(ctx); err != nil {
		r.problem("%v: grant runguard roles/pubsub.subscriber on it (docs/drift-events.md)", f.google.explain(err))
		return
	}
	r.ok("the subscription exists and may be received from")
}
