package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/export"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/manifest"
)

type exportFlags struct {
	google    googleFlags
	project   string
	locations string
	service   string
	namespace string
	mode      string
	// kube names the cluster whose manager's --cluster-name is read (docs/cli.md).
	kube *genericclioptions.ConfigFlags
}

func newExportCommand() *cobra.Command {
	f := exportFlags{kube: &genericclioptions.ConfigFlags{KubeConfig: new(string), Context: new(string)}}
	cmd := &cobra.Command{
		Use:   "export --project P",
		Short: "Print ProtectedService manifests that reproduce today's IAP access to each Cloud Run service",
		Long: `Print ProtectedService manifests that reproduce today's IAP access to each Cloud Run service of a
project, in mode Observe: applied as they are, they change nothing in Google. Access granted by
hand is shown as comments, with what bindingPolicy Exclusive would remove. The access levels the
services' conditions require follow as AccessLevels in mode Observe, each saying who owns it; the
services keep naming them by full name. Reads only.`,
		Example: fmt.Sprintf(`  %[1]s export --project acme-prod > services.yaml
  %[1]s export --project acme-prod --location europe-west1 --service legacy-wiki -n adoption`, command()),
		Args: noArguments("every option is a flag"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.google.register(fs)
	fs.StringVar(&f.project, "project", "", "Google Cloud project ID whose Cloud Run services are exported (required).")
	fs.StringVar(&f.locations, "location", "", "Cloud Run regions to look in, comma-separated (default: every region Cloud Run runs in; Cloud Run lists one region at a time).")
	fs.StringVar(&f.service, "service", "", "Export only this Cloud Run service.")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "metadata.namespace of the manifests (default: none, so kubectl apply -n decides; services runguard already manages keep their object's namespace).")
	fs.StringVar(&f.mode, "mode", string(iapv1alpha1.ModeObserve), "spec.mode of the manifests: Observe (default: apply, read the plan in status, then switch to Enforce) or Enforce.")
	f.kube.AddFlags(fs)
	_ = cmd.RegisterFlagCompletionFunc("location", cobra.FixedCompletions(gcp.CloudRunRegions, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions([]string{string(iapv1alpha1.ModeObserve), string(iapv1alpha1.ModeEnforce)}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (f *exportFlags) run(ctx context.Context, stdout, stderr io.Writer) error {
	if err := f.validate(); err != nil {
		return err
	}
	f.google.fromCluster(ctx, f.kube, stderr)
	ctx, google, done, err := f.google.connect(ctx)
	if err != nil {
		return err
	}
	defer done()
	if f.locations == "" {
		fmt.Fprintf(stderr, "note: looking in the %d regions Cloud Run listed in 2026-11; name others with --location\n", len(gcp.CloudRunRegions))
	}
	opts := export.Options{Cluster: f.google.clusterName, Namespace: f.namespace, Mode: iapv1alpha1.Mode(f.mode)}
	manifests, failed, err := f.read(ctx, google, opts, stderr)
	if err != nil {
		return f.google.explain(err)
	}
	switch {
	case len(manifests) == 0 && f.service != "":
		return fmt.Errorf("no Cloud Run service %s in project %s (%s)", f.service, f.project, f.where())
	case len(manifests) == 0 && failed == 0:
		fmt.Fprintf(stderr, "no Cloud Run service found in project %s (%s)\n", f.project, f.where())
		return nil
	}
	levels := export.Levels(manifests, f.levelReader(ctx, google), opts)
	var docs []document
	for _, m := range manifests {
		checkTakeOver(&m)
		docs = append(docs, m)
	}
	for _, l := range levels {
		if l.Object == nil {
			fmt.Fprintf(stderr, "note: access level %s is not exported (the export says why)\n", l.FullName)
		}
		docs = append(docs, l)
	}
	if err := writeDocuments(stdout, docs); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d services could not be read (said above); the others are exported", failed)
	}
	return nil
}

// document is one exported manifest: a ProtectedService or an AccessLevel.
type document interface{ YAML() ([]byte, error) }

// writeDocuments writes the documents as one YAML stream, separated by "---".
func writeDocuments(w io.Writer, docs []document) error {
	for i, d := range docs {
		out, err := d.YAML()
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// levelReader reads each access level the exported services require, as the caller. A level it
// cannot read is said in the export, never a failed export.
func (f *exportFlags) levelReader(ctx context.Context, google *gcp.Clients) func(string) export.Read {
	return func(name string) export.Read {
		level, err := google.AccessLevels().Get(ctx, name)
		switch {
		case err == nil:
			return export.Read{Level: level}
		case gcp.Classify(err) == gcp.NotFound:
			return export.Read{Unread: &export.Unread{NotFound: true, Err: err}}
		case gcp.Classify(err) == gcp.PermissionDenied:
			return export.Read{Unread: &export.Unread{Permission: gcp.Permission(err), Caller: f.google.caller(), Err: err}}
		}
		return export.Read{Unread: &export.Unread{Err: f.google.explain(err)}}
	}
}

// checkTakeOver says in the manifest's notes when the commented-out groups, moved into the spec,
// would be refused by the API server (a principal form no ProtectedService accepts).
func checkTakeOver(m *export.Manifest) {
	raw, err := m.TakeOverYAML()
	if err != nil || raw == nil {
		return
	}
	if _, err := manifest.Read(bytes.NewReader(raw), "take-over"); err != nil {
		var status *apierrors.StatusError
		if errors.As(err, &status) {
			err = status
		}
		m.Notes = append(m.Notes, "moving the groups commented out below into spec.accessGroups would be refused: "+err.Error())
	}
}

func (f *exportFlags) validate() error {
	switch {
	case f.project == "":
		return errors.New("--project is required")
	case f.mode != string(iapv1alpha1.ModeObserve) && f.mode != string(iapv1alpha1.ModeEnforce):
		return fmt.Errorf("--mode must be Observe or Enforce, not %q", f.mode)
	}
	if f.namespace != "" {
		if errs := validation.IsDNS1123Label(f.namespace); len(errs) > 0 {
			return fmt.Errorf("--namespace %q is not a namespace name: %s", f.namespace, strings.Join(errs, "; "))
		}
	}
	return nil
}

func (f *exportFlags) regions() []string {
	if f.locations == "" {
		return gcp.CloudRunRegions
	}
	var out []string
	for _, l := range strings.Split(f.locations, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (f *exportFlags) where() string {
	if f.locations == "" {
		return "every Cloud Run region; name others with --location"
	}
	return "in " + f.locations
}

// read lists the services and reads what each needs: the service, its invoker policy and its
// IAP access policy. Nothing is written. A project it cannot read ends the export; a service it
// cannot read is said on stderr and counted in failed, and the others are exported. A service
// deleted between the listing and its reads is skipped.
func (f *exportFlags) read(ctx context.Context, google *gcp.Clients, opts export.Options, stderr io.Writer) (out []export.Manifest, failed int, err error) {
	number, err := google.ProjectNumber(ctx, f.project)
	if err != nil {
		return nil, 0, err
	}
	for _, location := range f.regions() {
		services, err := google.Services().List(ctx, f.project, location)
		if err != nil {
			return nil, 0, err
		}
		sort.Slice(services, func(i, j int) bool { return services[i].GetName() < services[j].GetName() })
		for _, svc := range services {
			name := shortName(svc)
			if f.service != "" && name != f.service {
				continue
			}
			target := gcp.Service{Project: f.project, Number: number, Location: location, Name: name}
			observed := export.Observed{Target: iapv1alpha1.ServiceRef{Project: f.project, Location: location, Name: name},
				Service: svc, IAPAgent: target.IAPServiceAgent()}
			observed.InvokerPolicy, err = google.ServicePolicies().Get(ctx, target)
			if err == nil {
				observed.AccessPolicy, err = google.AccessPolicies().Get(ctx, target)
			}
			switch {
			case err == nil:
				out = append(out, export.Build(observed, opts))
			case gcp.Classify(err) == gcp.NotFound:
				fmt.Fprintf(stderr, "note: %s was deleted while it was read: skipped\n", svc.GetName())
			default:
				failed++
				fmt.Fprintf(stderr, "%s: not exported: %v\n", svc.GetName(), f.google.explain(err))
			}
		}
	}
	return out, failed, nil
}

func shortName(svc *runpb.Service) string {
	return svc.GetName()[strings.LastIndex(svc.GetName(), "/")+1:]
}
