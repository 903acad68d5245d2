package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
}

func runPlan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var f planFlags
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.google.register(fs)
	fs.Var(&f.files, "f", "Manifest file with one or more ProtectedServices (YAML or JSON); \"-\" is standard input. Repeatable.")
	fs.Var(&f.annotations, "annotation", "KEY=VALUE: an annotation the objects' namespace is assumed to have, such as iap.runguard.dev/allowed-projects=acme-prod. Repeatable. Without any, the namespace checks (allowed projects and members) are skipped.")
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
	opts := controllers.DefaultOptions()
	opts.ClusterName = f.google.clusterName
	if len(annotations) == 0 {
		// No namespace is known: its tenancy checks cannot be judged, and are said to be skipped.
		opts.AllowAnyProject = true
		fmt.Fprintln(stderr, "note: no --annotation given: the namespace checks (iap.runguard.dev/allowed-projects, allowed-members, allow-public) are skipped; pass the namespace's annotations to include them.")
	}
	ctx, cancel := context.WithTimeout(ctx, f.google.timeout)
	defer cancel()
	google, done, err := f.google.connect(ctx)
	if err != nil {
		return exitError, err
	}
	defer done()
	return printPlans(ctx, google, docs, annotations, opts, stdout, stderr), nil
}

// printPlans plans every object and says the exit code: 1 when any could not be planned, 2 when
// any would change Google, else 0.
func printPlans(ctx context.Context, google *gcp.Clients, docs []manifest.Document, annotations map[string]string, opts controllers.Options, stdout, stderr io.Writer) int {
	changes, objects, blocked := 0, 0, 0
	for _, d := range docs {
		if d.Object == nil {
			fmt.Fprintf(stderr, "note: %s: skipped %s (not a ProtectedService)\n", d.Source, d.Skipped)
			continue
		}
		ps := d.Object
		ps.Namespace = namespaceOf(ps.Namespace)
		ns := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: ps.Namespace, Annotations: annotations}}
		plan := controllers.PlanWithoutCluster(ctx, google, ps, ns, opts)
		what := fmt.Sprintf("ProtectedService %s/%s (Cloud Run service %s)", ns.Name, ps.Name, ps.Spec.Service)
		switch {
		case plan.Blocked != nil:
			blocked++
			fmt.Fprintf(stdout, "%s: cannot be planned: %s: %s\n", what, plan.Blocked.Reason, plan.Blocked.Message)
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

// namespaceOf is where kubectl apply would put an object without metadata.namespace.
func namespaceOf(ns string) string {
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
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

func readManifests(files []string, stdin io.Reader) ([]manifest.Document, error) {
	var out []manifest.Document
	for _, name := range files {
		r, label := stdin, "<stdin>"
		if name != "-" {
			file, err := os.Open(name)
			if err != nil {
				return nil, err
			}
			defer file.Close()
			r, label = file, name
		}
		docs, err := manifest.Read(r, label)
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}
