package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

type grantApproveFlags struct {
	kube    *genericclioptions.ConfigFlags
	deny    bool
	comment string
}

func newGrantApproveCommand(kube *genericclioptions.ConfigFlags) *cobra.Command {
	f := grantApproveFlags{kube: kube}
	cmd := &cobra.Command{
		Use:   "approve GRANT",
		Short: "Approve (or, with --deny, deny) an AccessGrant",
		Long: `Create an AccessGrantApproval of the AccessGrant GRANT in your name (spec.approvedBy is your
Kubernetes username, as the API server knows it). The admission policy refuses an approval by
the grant's requester. One Deny denies the grant, or revokes it once active; approving a
break-glass grant is its review after the fact. The approval is named GRANT-<5 random
characters>; the name is printed.`,
		Example: fmt.Sprintf(`  %[1]s grant approve billing-dashboard-x7k2p -n finance
  %[1]s grant approve billing-dashboard-x7k2p -n finance --deny --comment "use the read-only report instead"`, command()),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd.Context(), args[0], cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&f.deny, "deny", false, "Deny the grant (revoke it, if active) instead of approving it.")
	fs.StringVar(&f.comment, "comment", "", "A note for the requester and other approvers.")
	return cmd
}

func (f *grantApproveFlags) run(ctx context.Context, name string, stdout io.Writer) error {
	s, err := openGrantSession(f.kube)
	if err != nil {
		return err
	}
	approver, err := s.whoAmI(ctx)
	if err != nil {
		return err
	}
	// Read first, so that a mistyped name is said as such and the approver sees what they decide.
	grant, err := s.getGrant(ctx, name)
	if err != nil {
		return err
	}
	decision, verb := iapv1alpha1.DecisionApprove, "approves"
	if f.deny {
		decision, verb = iapv1alpha1.DecisionDeny, "denies"
	}
	approval := &iapv1alpha1.AccessGrantApproval{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, GenerateName: name + "-"},
		Spec:       iapv1alpha1.AccessGrantApprovalSpec{Grant: name, ApprovedBy: approver, Decision: decision, Comment: f.comment},
	}
	if err := s.client.Create(ctx, approval); err != nil {
		return s.kindMissing(err, "AccessGrantApproval")
	}
	fmt.Fprintf(stdout, "accessgrantapproval/%s created in namespace %s: %s %s grant %s (%s, requested by %s: %q)\n",
		approval.Name, approval.Namespace, approver, verb, name, describeGrant(grant), grant.Spec.RequestedBy, grant.Spec.Reason)
	if grant.Status.Phase.Finished() {
		fmt.Fprintf(stdout, "note: the grant is already %s, a phase that does not change any more\n", grant.Status.Phase)
	}
	return nil
}
