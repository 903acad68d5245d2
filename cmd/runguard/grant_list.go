package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

type grantListFlags struct {
	kube          *genericclioptions.ConfigFlags
	allNamespaces bool
	output        string
}

func newGrantListCommand(kube *genericclioptions.ConfigFlags) *cobra.Command {
	f := grantListFlags{kube: kube}
	cmd := &cobra.Command{
		Use:   "list [SERVICE]",
		Short: "List AccessGrants, with their phase, expiry and approvals",
		Long: `List the AccessGrants of the namespace (-A: of every namespace), or only those of the
ProtectedService SERVICE: who they grant, on which access group, their phase, when they expire
(and in how long), who approved or denied them, and whether they are break-glass.`,
		Example: fmt.Sprintf(`  %[1]s grant list -n finance
  %[1]s grant list -n finance billing-dashboard
  %[1]s grant list -A -o yaml`, command()),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			service := ""
			if len(args) == 1 {
				service = args[0]
			}
			return f.run(cmd.Context(), service, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "List the AccessGrants of every namespace.")
	fs.StringVarP(&f.output, "output", "o", outputTable, "Output format: table, json or yaml (the AccessGrants as the API server holds them).")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (f *grantListFlags) run(ctx context.Context, service string, stdout io.Writer) error {
	if err := validateOutput(f.output); err != nil {
		return err
	}
	s, err := openGrantSession(f.kube)
	if err != nil {
		return err
	}
	var opts []client.ListOption
	where := "namespace " + s.namespace
	if !f.allNamespaces {
		opts = append(opts, client.InNamespace(s.namespace))
	} else {
		where = "any namespace"
	}
	var list iapv1alpha1.AccessGrantList
	if err := s.client.List(ctx, &list, opts...); err != nil {
		return s.kindMissing(err, "AccessGrant")
	}
	grants := list.Items[:0]
	for _, g := range list.Items {
		if service == "" || g.Spec.ProtectedService == service {
			g.APIVersion, g.Kind = iapv1alpha1.GroupVersion.String(), "AccessGrant"
			// As kubectl get -o yaml shows objects: without the server's bookkeeping of who set what.
			g.ManagedFields = nil
			grants = append(grants, g)
		}
	}
	list.Items = grants
	list.APIVersion, list.Kind = iapv1alpha1.GroupVersion.String(), "AccessGrantList"
	return writeOutput(stdout, f.output, &list, func() error {
		if len(grants) == 0 {
			what := "No AccessGrants"
			if service != "" {
				what += " for ProtectedService " + service
			}
			fmt.Fprintf(stdout, "%s in %s.\n", what, where)
			return nil
		}
		return writeGrantTable(stdout, grants, f.allNamespaces, time.Now())
	})
}

func writeGrantTable(w io.Writer, grants []iapv1alpha1.AccessGrant, withNamespace bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "NAME\tSERVICE\tGROUP\tMEMBERS\tPHASE\tEXPIRES\tAPPROVALS\tBREAK-GLASS"
	if withNamespace {
		header = "NAMESPACE\t" + header
	}
	fmt.Fprintln(tw, header)
	for _, g := range grants {
		if withNamespace {
			fmt.Fprintf(tw, "%s\t", g.Namespace)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%t\n", g.Name, g.Spec.ProtectedService, g.Spec.AccessGroup,
			strings.Join(grantMembers(&g), ","), orDash(string(g.Status.Phase)), grantExpiry(g, now), grantApprovals(g), g.Spec.BreakGlass)
	}
	return tw.Flush()
}

// grantExpiry is when access ends, as status says; "-" until runguard has said it.
func grantExpiry(g iapv1alpha1.AccessGrant, now time.Time) string {
	if g.Status.ExpiresAt == nil {
		return "-"
	}
	return relativeTime(g.Status.ExpiresAt.Time, now)
}

// grantApprovals are the decisions the grant counted: "bob@acme.com", "carol@acme.com (Deny)".
func grantApprovals(g iapv1alpha1.AccessGrant) string {
	var out []string
	for _, d := range g.Status.Approvals {
		if d.Decision == iapv1alpha1.DecisionDeny {
			out = append(out, d.By+" (Deny)")
		} else {
			out = append(out, d.By)
		}
	}
	return orDash(strings.Join(out, ","))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
