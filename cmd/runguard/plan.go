package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/manifest"
)

// listFlag is a flag that may be given many times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type planFlags struct {
	google      googleFlags
	files       listFlag
	annotations listFlag
	namespace   string
}

func runPlan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var f planFlags
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.google.register(fs)
	fs.Var(&f.files, "f", "Manifest file with one or more ProtectedServices (YAML or JSON); \"-\" is standard input. Repeatable.")
	fs.Var(&f.annotations, "annotation", "KEY=VALUE: an annotation the objects' namespace is assumed to have, such as iap.runguard.dev/allowed-projects=acme-prod. Repeatable. Without any, the namespace checks (allowed projects and members) are skipped.")
	fs.StringVar(&f.namespace, "namespace", metav1.NamespaceDefault, "Namespace of objects whose manifest names none (kubectl apply would use the context's).")
	if err := fs.Parse(args); err != nil {
		return exitError, err
	}
	if fs.NArg() > 0 {
		return exitError, fmt.Errorf("unexpected arguments %q: name files with -f", fs.Args())
	}
	if len(f.files) == 0 {
		return exitError, errors.New("no manifest: name one with -f FILE (or -f - for standard input)")
	}
	annotations, err := parseAnnotations(f.annotations)
	if err != nil {
		return exitError, err
	}
	docs, err := readManifests(f.files, stdin)
	if err != nil {
		return exitError, err
	}
	for _, d := range docs {
		switch {
		case d.Object == nil:
			fmt.Fprintf(stderr, "note: %s: skipped %s (not a ProtectedService)\n", d.Source, d.Skipped)
		case d.Object.Namespace == "":
			d.Object.Namespace = f.namespace
		}
	}
	if !slices.ContainsFunc(docs, func(d manifest.Document) bool { return d.Object != nil }) {
		return exitError, fmt.Errorf("no ProtectedService in %s", strings.Join(f.files, ", "))
	}
	opts := controllers.DefaultOptions()
	opts.ClusterName = f.google.clusterName
	if len(annotations) == 0 {
		// No namespace is known: its tenancy checks cannot be judged, and are said to be skipped.
		opts.AllowAnyProject = true
		fmt.Fprintln(stderr, "note: no --annotation given: the namespace's allowed-projects and allowed-members checks are skipped, and allow-public is not assumed; pass the namespace's annotations to include them.")
	}
	ctx, cancel := context.WithTimeout(ctx, f.google.timeout)
	defer cancel()
	google, done, err := f.google.connect(ctx)
	if err != nil {
		return exitError, err
	}
	defer done()
	return printPlans(ctx, google, f.google.caller(), docs, annotations, opts, stdout), nil
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
func printPlans(ctx context.Context, google *gcp.Clients, caller string, docs []manifest.Document, annotations map[string]string, opts controllers.Options, stdout io.Writer) int {
	changes, objects, blocked := 0, 0, 0
	for _, d := range docs {
		if d.Object == nil {
			continue
		}
		ps := d.Object
		ns := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: ps.Namespace, Annotations: annotations}}
		plan := controllers.PlanWithoutCluster(ctx, google, caller, ps, ns, opts)
		what := fmt.Sprintf("ProtectedService %s/%s (Cloud Run service %s)", ns.Name, ps.Name, ps.Spec.Service)
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
