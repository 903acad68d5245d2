package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"github.com/spf13/cobra"

	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/reach"
)

// Exit codes of can, besides exitOK (ALLOW) and exitError.
const (
	exitDeny    = 3
	exitDepends = 4
)

type canFlags struct {
	google  googleFlags
	request requestFlags
	output  string
}

func newCanCommand() *cobra.Command {
	f := canFlags{}
	cmd := &cobra.Command{
		Use:   "can MEMBER PROJECT/REGION/SERVICE",
		Short: "Say whether a member, from a context, gets through IAP to a Cloud Run service",
		Long: `Say whether MEMBER (user:EMAIL, serviceAccount:EMAIL or principal://…), making a request with the
context the flags give, gets through IAP to a Cloud Run service: ALLOW with the binding that lets
it in, DENY with the closest binding and the clause that failed, or DEPENDS with what the answer
turns on ("user:alice@acme.com is in group:finance@acme.com", "the device has a screen lock").
It reads the bindings who-can lists and the access levels their conditions name, and evaluates
them as docs/effective-access.md describes. Facts not given are unknown, never assumed; a policy,
role or level the caller may not read makes an answer that is not ALLOW a DEPENDS.

Exit code 0: ALLOW; 3: DENY; 4: DEPENDS; 1: an error. Reads only.`,
		Example: fmt.Sprintf(`  %[1]s can user:alice@acme.com acme-prod/us-central1/billing-dashboard --path /reports/q3 --ip 203.0.113.7
  %[1]s can user:alice@acme.com acme-prod/us-central1/billing-dashboard --group group:finance@acme.com --groups-known
  %[1]s can user:bob@acme.com acme-prod/us-central1/billing-dashboard --device screen_lock=true --device encryption=ENCRYPTED -o json`, command()),
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd.Context(), args[0], args[1], cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	f.google.registerConnection(fs)
	f.request.register(fs)
	fs.StringVarP(&f.output, "output", "o", outputTable, "Output format: table (the answer in words), json or yaml.")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// canAnswer is can's answer.
type canAnswer struct {
	Member  string        `json:"member"`
	Service string        `json:"service"`
	Verdict reach.Verdict `json:"verdict"`
	// Binding is, for ALLOW, the binding that lets the request in; for DEPENDS, the first that
	// might; for DENY, the closest (its member matched, its condition failed), or none.
	Binding *answerBinding `json:"binding,omitempty"`
	Failed  string         `json:"failed,omitempty"`
	Depends []string       `json:"depends,omitempty"`
	// FromWhatWasRead is the verdict of the policies read alone, when what the caller may not
	// read turned it into DEPENDS.
	FromWhatWasRead reach.Verdict `json:"fromWhatWasRead,omitempty"`
	Assumptions     []string      `json:"assumptions,omitempty"`
	Unread          []unread      `json:"unread,omitempty"`
	Notes           []string      `json:"notes,omitempty"`
}

// answerBinding is the binding an answer names, with its members.
type answerBinding struct {
	grantView
	Members []string `json:"members"`
}

func (f *canFlags) run(ctx context.Context, member, targetArg string, stdout io.Writer) error {
	req, err := f.request.request(member, time.Now())
	if err != nil {
		return err
	}
	access, err := f.google.readAccess(ctx, targetArg, f.output, true)
	if err != nil {
		return err
	}
	answer := decide(access, req)
	if err := writeOutput(stdout, f.output, answer, func() error { writeAnswer(stdout, answer); return nil }); err != nil {
		return err
	}
	switch answer.Verdict {
	case reach.Allow:
		return nil
	case reach.Deny:
		return exitCode(exitDeny)
	}
	return exitCode(exitDepends)
}

// levelName finds the full names of access levels in a condition: a condition can only test a
// level by naming it in a string.
var levelName = regexp.MustCompile(`accessPolicies/[A-Za-z0-9_-]+/accessLevels/[A-Za-z0-9_]+`)

// siblingLevel finds the levels a custom level's expression requires (levels.NAME, in its policy).
var siblingLevel = regexp.MustCompile(`\blevels\.([A-Za-z0-9_]+)`)

// readLevels reads, by full name and as the caller, the access levels the conditions of the
// bindings that may carry the permission name, and the levels those require.
func (a *serviceAccess) readLevels(ctx context.Context, google *gcp.Clients) error {
	a.levels = map[string]*acmpb.AccessLevel{}
	carries := a.carries()
	var queue []string
	for _, g := range a.grants {
		if role := g.binding.Role; carries(role) || a.roleUnread(role) {
			queue = append(queue, levelName.FindAllString(g.binding.Condition, -1)...)
		}
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		level, err := google.AccessLevels().Get(ctx, name)
		switch {
		case err == nil:
			a.levels[name] = level
			queue = append(queue, requiredLevels(level)...)
		case gcp.Classify(err) == gcp.NotFound:
			a.notes = append(a.notes, fmt.Sprintf("the access level %s does not exist: a condition requiring it admits nobody", name))
		default:
			if err := a.refused(err, unreadLevel); err != nil {
				return err
			}
		}
	}
	return nil
}

// requiredLevels are the levels a level requires, by full name.
func requiredLevels(level *acmpb.AccessLevel) []string {
	var out []string
	for _, c := range level.GetBasic().GetConditions() {
		out = append(out, c.GetRequiredAccessLevels()...)
	}
	policy := level.GetName()[:strings.LastIndex(level.GetName(), "/")+1]
	for _, m := range siblingLevel.FindAllStringSubmatch(level.GetCustom().GetExpr().GetExpression(), -1) {
		out = append(out, policy+m[1])
	}
	return out
}

// roleUnread says whether role is a custom role the caller may not read.
func (a *serviceAccess) roleUnread(role string) bool {
	_, read := a.customRoles[role]
	return !read && !strings.HasPrefix(role, "roles/")
}

// decide evaluates the request against what was read. Whatever the caller may not read could
// grant what the rest denies: then only ALLOW stands, and anything else is DEPENDS on it.
func decide(a *serviceAccess, req reach.Request) canAnswer {
	t := a.target
	ans := reach.Evaluate(a.bindings(), a.carries(), a.levels, req)
	out := canAnswer{Member: req.Member, Service: t.Project + "/" + t.Location + "/" + t.Name, Verdict: ans.Verdict,
		Failed: ans.Failed, Depends: ans.Depends, Assumptions: ans.Assumptions, Unread: a.unread, Notes: a.notes}
	if g, ok := a.grantOf(ans.Binding); ok {
		out.Binding = &answerBinding{grantView: viewOf(g, time.Now()), Members: g.binding.Members}
	}
	if ans.Verdict != reach.Allow && len(a.unread) > 0 {
		out.FromWhatWasRead, out.Verdict = ans.Verdict, reach.Depends
		for _, u := range a.unread {
			out.Depends = append(out.Depends, fmt.Sprintf("%s: the caller lacks %s", u.unknown(), u.Permission))
		}
	}
	return out
}

// writeAnswer says the answer in words.
func writeAnswer(w io.Writer, a canAnswer) {
	switch a.Verdict {
	case reach.Allow:
		fmt.Fprintf(w, "ALLOW: %s gets through IAP to %s\n", a.Member, a.Service)
	case reach.Deny:
		fmt.Fprintf(w, "DENY: %s does not get through IAP to %s\n", a.Member, a.Service)
	default:
		fmt.Fprintf(w, "DEPENDS: whether %s gets through IAP to %s depends on facts runguard does not have\n", a.Member, a.Service)
	}
	line := func(label, text string) { fmt.Fprintf(w, "  %-12s %s\n", label, text) }
	if b := a.Binding; b != nil {
		label := map[reach.Verdict]string{reach.Allow: "granted by", reach.Deny: "closest", reach.Depends: "might by"}[a.Verdict]
		if a.FromWhatWasRead == reach.Deny {
			label = "closest"
		}
		line(label, fmt.Sprintf("%s on %s (%s), %s", b.Role, b.Resource, b.Level, b.grantedBy()))
		line("members", strings.Join(b.Members, ", "))
		line("condition", b.Condition)
	}
	switch {
	case a.FromWhatWasRead == reach.Deny:
		line("as read", "DENY from what the caller could read: "+a.Failed)
	case a.FromWhatWasRead != "":
		line("as read", "DEPENDS from what the caller could read, on what follows")
	case a.Failed != "":
		line("failed", a.Failed)
	}
	for _, d := range a.Depends {
		line("depends on", d)
	}
	for _, s := range a.Assumptions {
		line("assumed", s)
	}
	for _, n := range a.Notes {
		line("note", n)
	}
}
