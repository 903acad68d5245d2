package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type whoCanFlags struct {
	google googleFlags
	output string
}

func newWhoCanCommand() *cobra.Command {
	f := whoCanFlags{}
	cmd := &cobra.Command{
		Use:   "who-can PROJECT/REGION/SERVICE",
		Short: "List every principal that can pass IAP to a Cloud Run service, and when",
		Long: `List every principal that can pass IAP to a Cloud Run service: the bindings of roles that include
iap.webServiceVersions.accessViaIAP on the service's own IAP policy (declared by runguard, naming
the ProtectedService and access group; granted for a while by an AccessGrant, naming it and when
it ends; or granted by hand) and on every policy above it (the region's and the project's IAP
levels, the project, its folders and organization), each with its condition in words. Groups are
listed as groups, not expanded into their members. An AccessGrant's binding whose end has passed
is listed apart: still bound, it admits no one.

Exit code 0: the list is complete; 1: an error, or a policy or role the caller may not read
(the list is then incomplete, and says what it lacks). Reads only.`,
		Example: fmt.Sprintf(`  %[1]s who-can acme-prod/us-central1/billing-dashboard
  %[1]s who-can acme-prod/us-central1/billing-dashboard -o json`, command()),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd.Context(), args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.google.registerConnection(fs)
	fs.StringVarP(&f.output, "output", "o", outputTable, "Output format: table, json or yaml.")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// whoCanRow is one principal and the grant that lets it through.
type whoCanRow struct {
	Member string `json:"member"`
	grantView
}

// whoCanReport is who-can's answer.
type whoCanReport struct {
	Service     string `json:"service"`
	IAPResource string `json:"iapResource"`
	// IAPEnabled is absent when the caller may not read the service.
	IAPEnabled *bool       `json:"iapEnabled,omitempty"`
	Grants     []whoCanRow `json:"grants"`
	// Expired are the members of AccessGrants' bindings whose condition has ended: still in the
	// policy, but Google admits no one by them.
	Expired []whoCanRow `json:"expiredGrants,omitempty"`
	// Unread are the policies and roles the caller may not read: the list is incomplete.
	Unread []unread `json:"unread,omitempty"`
	Notes  []string `json:"notes,omitempty"`
}

func (f *whoCanFlags) run(ctx context.Context, arg string, stdout, stderr io.Writer) error {
	access, err := f.google.readAccess(ctx, arg, f.output, false)
	if err != nil {
		return err
	}
	report := whoCan(access, time.Now())
	if err := writeOutput(stdout, f.output, report, func() error { return writeWhoCanTable(stdout, report) }); err != nil {
		return err
	}
	if len(report.Unread) > 0 {
		fmt.Fprintf(stderr, "%s who-can: the list is incomplete: %s may not read %d of the policies and roles that apply (said in the output)\n",
			command(), f.google.caller(), len(report.Unread))
		return exitCode(exitError)
	}
	return nil
}

// whoCan lists, innermost first, each member of each binding whose role carries the permission
// IAP checks; those of an AccessGrant that has expired by now apart.
func whoCan(a *serviceAccess, now time.Time) whoCanReport {
	t := a.target
	r := whoCanReport{Service: t.Project + "/" + t.Location + "/" + t.Name, IAPResource: t.IAPResource(), IAPEnabled: a.iapOn,
		Grants: []whoCanRow{}, Unread: a.unread, Notes: a.notes}
	carries := a.carries()
	for _, g := range a.grants {
		if !carries(g.binding.Role) {
			continue
		}
		v := viewOf(g, now)
		for _, m := range g.binding.Members {
			if v.AccessGrant != nil && v.AccessGrant.Expired {
				r.Expired = append(r.Expired, whoCanRow{Member: m, grantView: v})
			} else {
				r.Grants = append(r.Grants, whoCanRow{Member: m, grantView: v})
			}
		}
	}
	return r
}

func writeWhoCanTable(w io.Writer, r whoCanReport) error {
	if len(r.Grants) == 0 {
		fmt.Fprintf(w, "Nobody can pass IAP to %s through the policies read.\n", r.Service)
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tROLE\tLEVEL\tGRANTED\tWHEN")
		for _, g := range r.Grants {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Member, g.Role, g.Level, g.grantedBy(), g.Condition)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, g := range r.Expired {
		fmt.Fprintf(w, "expired, still bound: %s by %s: its condition admits no one\n", g.Member, g.grantedBy())
	}
	for _, u := range r.Unread {
		fmt.Fprintf(w, "not listed: %s: the caller lacks %s\n", u.unknown(), u.Permission)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}
