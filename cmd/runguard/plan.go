package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/manifest"
)

type planFlags struct {
	google      googleFlags
	kube        *genericclioptions.ConfigFlags
	files       []string
	annotations []string
}

func newPlanCommand() *cobra.Command {
	f := planFlags{
		// Only the flags that pick a kubeconfig context and a namespace: plan reads the namespace
		// from the kubeconfig file, and nothing from the cluster.
		kube: &genericclioptions.ConfigFlags{KubeConfig: new(string), Context: new(string), Namespace: new(string)},
	}
	cmd := &cobra.Command{
		Use:   "plan -f FILE",
		Short: "Print what applying ProtectedService manifests would change in Google Cloud",
		Long: `Print what applying ProtectedService manifests would change in Google Cloud, object by object,
as Enforce would write it. Exit code 0: no change, 2: changes, 1: an object could not be planned
or an error. Manifests are judged as the API server would (schema and validation rules) before
anything is read from Google. Reads only; needs no cluster.`,
		Example: fmt.Sprintf(`  %[1]s plan -f services.yaml
  %[1]s export --project acme-prod | %[1]s plan -f - --annotation iap.runguard.dev/allowed-projects=acme-prod`, command()),
		Args: noArguments("name files with -f"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.google.register(fs)
	fs.StringArrayVarP(&f.files, "filename", "f", nil, "Manifest file with one or more ProtectedServices (YAML or JSON); \"-\" is standard input. Repeatable.")
	fs.StringArrayVar(&f.annotations, "annotation", nil, "KEY=VALUE: an annotation the objects' namespace is assumed to have, such as iap.runguard.dev/allowed-projects=acme-prod. Repeatable. Without any, the namespace checks (allowed projects and members) are skipped.")
	f.kube.AddFlags(fs)
	fs.Lookup("namespace").Usage = "Namespace of objects whose manifest names none; default: the kubeconfig context's, as kubectl apply has it, else \"default\"."
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	_ = cmd.RegisterFlagCompletionFunc("context", f.completeContexts)
	return cmd
}

func (f *planFlags) run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(f.files) == 0 {
		return errors.New("no manifest: name one with -f FILE (or -f - for standard input)")
	}
	annotations, err := parseAnnotations(f.annotations)
	if err != nil {
		return err
	}
	docs, err := readManifests(f.files, stdin)
	if err != nil {
		return err
	}
	namespace := "" // the default, read once and only if an object names none
	for _, d := range docs {
		switch {
		case d.Object == nil:
			fmt.Fprintf(stderr, "note: %s: skipped %s (not a ProtectedService)\n", d.Source, d.Skipped)
		case d.Object.Namespace == "":
			if namespace == "" {
				if namespace, err = f.defaultNamespace(); err != nil {
					return err
				}
			}
			d.Object.Namespace = namespace
		}
	}
	if !slices.ContainsFunc(docs, func(d manifest.Document) bool { return d.Object != nil }) {
		return fmt.Errorf("no ProtectedService in %s", strings.Join(f.files, ", "))
	}
	view := f.google.fromCluster(ctx, f.kube, stderr)
	opts := controllers.DefaultOptions()
	opts.ClusterName = f.google.clusterName
	annotationsOf := func(string) (map[string]string, error) { return annotations, nil }
	switch {
	case len(annotations) == 0 && view != nil:
		// The namespaces are in the cluster: their own annotations decide, as they will there.
		annotationsOf = func(ns string) (map[string]string, error) { return view.namespaceAnnotations(ctx, ns) }
		fmt.Fprintf(stderr, "note: each object's namespace annotations are read from the cluster at %s\n", view.host)
	case len(annotations) == 0:
		// No namespace is known: its tenancy checks cannot be judged, and are said to be skipped.
		opts.AllowAnyProject = true
		fmt.Fprintln(stderr, "note: no --annotation given: the namespace's allowed-projects and allowed-members checks are skipped, and allow-public is not assumed; pass the namespace's annotations to include them.")
	}
	ctx, google, done, err := f.google.connect(ctx)
	if err != nil {
		return err
	}
	defer done()
	if code := printPlans(ctx, google, f.google.caller(), docs, annotationsOf, opts, stdout); code != exitOK {
		return exitCode(code)
	}
	return nil
}

// defaultNamespace is the namespace kubectl apply gives an object whose manifest names none: -n,
// else the kubeconfig context's, else "default". An explicit -n needs no kubeconfig at all.
func (f *planFlags) defaultNamespace() (string, error) {
	if *f.kube.Namespace != "" {
		return *f.kube.Namespace, nil
	}
	namespace, _, err := f.kube.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("the namespace of objects whose manifest names none, from the kubeconfig (or name it with -n): %w", err)
	}
	return namespace, nil
}

// completeContexts offers the kubeconfig's contexts to --context.
func (f *planFlags) completeContexts(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	config, err := f.kube.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return slices.Sorted(maps.Keys(config.Contexts)), cobra.ShellCompDirectiveNoFileComp
}

// blockedMessage is the status message, except where it would speak of runguard's identity and
// role: plan runs as its caller and needs only read permissions.
func blockedMessage(plan controllers.Plan, caller string) string {
	switch {
	case plan.Blocked.Reason == iapv1alpha1.ReasonPermissionDenied && len(plan.MissingPermissions) > 0:
		return fmt.Sprintf("%s lacks %s. runguard plan needs only read permissions: resourcemanager.projects.get, %s (docs/adoption.md).",
			caller, strings.Join(plan.MissingPermissions, ", "), strings.Join(controllers.PlanPermissions(), ", "))
	case plan.Blocked.Reason == iapv1alpha1.ReasonServiceClaimed:
		return plan.Blocked.Message + " If that owner is the cluster this manifest is for, pass its --cluster-name."
	}
	return plan.Blocked.Message
}

// printPlans plans every object and says the exit code: 1 when any could not be planned, 2 when
// any would change Google, else 0.
func printPlans(ctx context.Context, google *gcp.Clients, caller string, docs []manifest.Document, annotationsOf func(namespace string) (map[string]string, error), opts controllers.Options, stdout io.Writer) int {
	changes, objects, blocked := 0, 0, 0
	for _, d := range docs {
		if d.Object == nil {
			continue
		}
		ps := d.Object
		what := fmt.Sprintf("ProtectedService %s/%s (Cloud Run service %s)", ps.Namespace, ps.Name, ps.Spec.Service)
		annotations, err := annotationsOf(ps.Namespace)
		if err != nil {
			blocked++
			fmt.Fprintf(stdout, "%s: cannot be planned: the namespace's annotations cannot be read from the cluster: %v\n", what, err)
			continue
		}
		ns := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: ps.Namespace, Annotations: annotations}}
		plan := controllers.PlanWithoutCluster(ctx, google, caller, ps, ns, opts, nil)
		switch {
		case plan.Blocked != nil:
			blocked++
			fmt.Fprintf(stdout, "%s: cannot be planned: %s: %s\n", what, plan.Blocked.Reason, blockedMessage(plan, caller))
			for _, c := range plan.Changes {
				fmt.Fprintf(stdout, "  (before that) %s\n", c)
			}
		case len(plan.Changes) == 0:
			fmt.Fprintf(stdout, "%s: no changes\n", what)
		default:
			objects++
			changes += len(plan.Changes)
			fmt.Fprintf(stdout, "%s: %s\n", what, count(len(plan.Changes), "change"))
			for _, c := range plan.Changes {
				fmt.Fprintf(stdout, "  %s\n", c)
			}
		}
	}
	fmt.Fprintf(stdout, "Plan: %s to %s; %d could not be planned.\n", count(changes, "change"), count(objects, "object"), blocked)
	switch {
	case blocked > 0:
		return exitError
	case changes > 0:
		return exitChanges
	}
	return exitOK
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func parseAnnotations(in []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range in {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--annotation %q: want KEY=VALUE", a)
		}
		out[k] = v
	}
	return out, nil
}

// readManifests judges every file before any is planned, and reports every refusal at once.
func readManifests(files []string, stdin io.Reader) ([]manifest.Document, error) {
	var out []manifest.Document
	var errs []error
	for _, name := range files {
		docs, err := readManifest(name, stdin)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, docs...)
	}
	return out, errors.Join(errs...)
}

func readManifest(name string, stdin io.Reader) ([]manifest.Document, error) {
	if name == "-" {
		return manifest.Read(stdin, "<stdin>")
	}
	file, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return manifest.Read(file, name)
}
