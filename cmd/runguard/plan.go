package main

import (
	"bytes"
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
	// accessPolicy is the manager's --access-policy, for AccessLevels that name no policy.
	accessPolicy string
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
anything is read from Google. AccessLevels in the manifests are not planned: access groups
requiring them by name resolve against them, as in the cluster. Reads only; needs no cluster.`,
		Example: fmt.Sprintf(`  %[1]s plan -f services.yaml
  %[1]s export --project acme-prod | %[1]s plan -f - --annotation iap.runguard.dev/allowed-projects=acme-prod`, command()),
		Args: noArguments("name files with -f"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.google.register(fs)
	fs.StringArrayVarP(&f.files, "filename", "f", nil, "Manifest file with one or more ProtectedServices and AccessLevels (YAML or JSON); \"-\" is standard input. Repeatable.")
	fs.StringArrayVar(&f.annotations, "annotation", nil, "KEY=VALUE: an annotation the objects' namespace is assumed to have, such as iap.runguard.dev/allowed-projects=acme-prod. Repeatable. Without any, the namespace checks (allowed projects and members) are skipped.")
	fs.StringVar(&f.accessPolicy, "access-policy", "", "The runguard manager's --access-policy (accessPolicies/NUMBER), for AccessLevels that name no policy. Default: read from the manager's Deployment in the kubeconfig's cluster when one answers, else none.")
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
	docs, levels, err := readManifests(f.files, stdin)
	if err != nil {
		return err
	}
	if err := f.defaultNamespaces(docs, levels, stderr); err != nil {
		return err
	}
	view := f.google.fromCluster(ctx, f.kube, stderr)
	p := planner{caller: f.google.caller()}
	p.opts, p.annotationsOf = f.settings(ctx, view, annotations, stderr)
	p.levels = levelsToResolve(levels, nil)
	if needsClusterLevels(docs, levels) {
		p.levels = levelsToResolve(levels, clusterLevels(ctx, view, stderr))
	}
	ctx, google, done, err := f.google.connect(ctx)
	if err != nil {
		return err
	}
	defer done()
	p.google = google
	printNotPlanned(levels, p.opts.AccessPolicy, stdout)
	if code := p.printPlans(ctx, docs, len(levels), stdout); code != exitOK {
		return exitCode(code)
	}
	return nil
}

// defaultNamespaces says which documents are skipped, and puts the objects whose manifest names no
// namespace in the default one. Input with neither a ProtectedService nor an AccessLevel is an
// error.
func (f *planFlags) defaultNamespaces(docs []manifest.Document, levels []manifestLevel, stderr io.Writer) error {
	namespace := "" // the default, read once and only if an object names none
	for _, d := range docs {
		switch {
		case d.Object == nil && !slices.ContainsFunc(levels, func(l manifestLevel) bool { return l.source == d.Source }):
			fmt.Fprintf(stderr, "note: %s: skipped %s (not a ProtectedService)\n", d.Source, d.Skipped)
		case d.Object == nil:
		case d.Object.Namespace == "":
			if namespace == "" {
				var err error
				if namespace, err = f.defaultNamespace(); err != nil {
					return err
				}
			}
			d.Object.Namespace = namespace
		}
	}
	if len(levels) == 0 && !slices.ContainsFunc(docs, func(d manifest.Document) bool { return d.Object != nil }) {
		return fmt.Errorf("no ProtectedService in %s", strings.Join(f.files, ", "))
	}
	return nil
}

// settings are the manager's options the objects are planned with, and where each object's
// namespace annotations come from: --annotation, else the cluster, else none (the namespace
// checks skipped, and said so).
func (f *planFlags) settings(ctx context.Context, view *clusterView, annotations map[string]string, stderr io.Writer) (controllers.Options, func(string) (map[string]string, error)) {
	opts := controllers.DefaultOptions()
	opts.ClusterName = f.google.clusterName
	opts.AccessPolicy = f.accessPolicy
	if view != nil && !f.google.flags.Changed("access-policy") {
		policy, where, err := view.managerSetting(ctx, "access-policy", "")
		if err == nil && policy != "" {
			opts.AccessPolicy = policy
			fmt.Fprintf(stderr, "note: --access-policy %s, as %s runs the manager\n", policy, where)
		}
	}
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
	return opts, annotationsOf
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
func (p planner) blockedMessage(plan controllers.Plan) string {
	switch reason := plan.Blocked.Reason; {
	case reason == iapv1alpha1.ReasonPermissionDenied && len(plan.MissingPermissions) > 0:
		return fmt.Sprintf("%s lacks %s. runguard plan needs only read permissions: resourcemanager.projects.get, %s (docs/adoption.md).",
			p.caller, strings.Join(plan.MissingPermissions, ", "), strings.Join(controllers.PlanPermissions(), ", "))
	case reason == iapv1alpha1.ReasonServiceClaimed:
		return plan.Blocked.Message + " If that owner is the cluster this manifest is for, pass its --cluster-name."
	case reason == iapv1alpha1.ReasonAccessPolicyUnset:
		return plan.Blocked.Message + " For runguard plan: pass --access-policy, the manager's."
	}
	return plan.Blocked.Message
}

// planner plans the objects of one run as the manager would reconcile them.
type planner struct {
	google        *gcp.Clients
	caller        string
	annotationsOf func(namespace string) (map[string]string, error)
	opts          controllers.Options
	// levels are the AccessLevel objects references resolve against.
	levels []iapv1alpha1.AccessLevel
}

// printPlans plans every object and says the exit code: 1 when any could not be planned, 2 when
// any would change Google, else 0. AccessLevels (notPlanned of them) are counted, not planned.
func (p planner) printPlans(ctx context.Context, docs []manifest.Document, notPlanned int, stdout io.Writer) int {
	changes, objects, blocked := 0, 0, 0
	for _, d := range docs {
		if d.Object == nil {
			continue
		}
		n, ok := p.printPlan(ctx, d.Object, stdout)
		switch {
		case !ok:
			blocked++
		case n > 0:
			objects++
			changes += n
		}
	}
	levels := ""
	if notPlanned > 0 {
		levels = fmt.Sprintf("; %s not planned", count(notPlanned, "AccessLevel"))
	}
	fmt.Fprintf(stdout, "Plan: %s to %s; %d could not be planned%s.\n", count(changes, "change"), count(objects, "object"), blocked, levels)
	switch {
	case blocked > 0:
		return exitError
	case changes > 0:
		return exitChanges
	}
	return exitOK
}

// printPlan plans one object and prints the plan: how many changes, and whether it could be
// planned.
func (p planner) printPlan(ctx context.Context, ps *iapv1alpha1.ProtectedService, stdout io.Writer) (int, bool) {
	what := fmt.Sprintf("ProtectedService %s/%s (Cloud Run service %s)", ps.Namespace, ps.Name, ps.Spec.Service)
	annotations, err := p.annotationsOf(ps.Namespace)
	if err != nil {
		fmt.Fprintf(stdout, "%s: cannot be planned: the namespace's annotations cannot be read from the cluster: %v\n", what, err)
		return 0, false
	}
	ns := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: ps.Namespace, Annotations: annotations}}
	plan := controllers.PlanWithoutCluster(ctx, p.google, p.caller, ps, ns, p.opts, p.levels)
	switch {
	case plan.Blocked != nil:
		fmt.Fprintf(stdout, "%s: cannot be planned: %s: %s\n", what, plan.Blocked.Reason, p.blockedMessage(plan))
		for _, c := range plan.Changes {
			fmt.Fprintf(stdout, "  (before that) %s\n", c)
		}
		return len(plan.Changes), false
	case len(plan.Changes) == 0:
		fmt.Fprintf(stdout, "%s: no changes\n", what)
		return 0, true
	}
	fmt.Fprintf(stdout, "%s: %s\n", what, count(len(plan.Changes), "change"))
	for _, c := range plan.Changes {
		fmt.Fprintf(stdout, "  %s\n", c)
	}
	return len(plan.Changes), true
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

// readManifests judges every file before any is planned, and reports every refusal at once. The
// AccessLevels are returned apart (splitLevels).
func readManifests(files []string, stdin io.Reader) ([]manifest.Document, []manifestLevel, error) {
	var docs []manifest.Document
	var levels []manifestLevel
	var errs []error
	for _, name := range files {
		d, l, err := readManifest(name, stdin)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs, levels = append(docs, d...), append(levels, l...)
	}
	return docs, levels, errors.Join(errs...)
}

func readManifest(name string, stdin io.Reader) ([]manifest.Document, []manifestLevel, error) {
	label, r := "<stdin>", stdin
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		defer file.Close()
		label, r = name, file
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", label, err)
	}
	levels, rest, levelErr := splitLevels(data, label)
	docs, err := manifest.Read(bytes.NewReader(rest), label)
	if err = errors.Join(err, levelErr); err != nil {
		return nil, nil, err
	}
	return docs, levels, nil
}
