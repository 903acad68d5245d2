package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// runGrantAbove grants (or, with --revoke, takes back) a role on a resource above Cloud Run
// services — a project's IAP level (projects/N/iap_web), its region level, the project, a folder
// or the organization — behind runguard's back, through the fake's admin API, as
// `gcloud iap web add-iam-policy-binding` or `gcloud projects add-iam-policy-binding` would. The
// fake logs the change as that resource's SetIamPolicy, so runguard reads the policies above its
// services again at once.
func runGrantAbove(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("grant-above", flag.ExitOnError)
	admin := fs.String("admin", "", "the fake's admin URL, e.g. http://127.0.0.1:8791")
	resource := fs.String("resource", "", "the resource whose allow policy changes, e.g. projects/512345678901/iap_web")
	member := fs.String("member", "", "the member, e.g. user:helpdesk@acme.com")
	role := fs.String("role", accessorRole, "the role")
	revoke := fs.Bool("revoke", false, "take the member out of the role's unconditional binding instead")
	_ = fs.Parse(args)
	if *admin == "" || *resource == "" || *member == "" {
		return fmt.Errorf("usage: localcluster grant-above --admin URL --resource NAME --member MEMBER [--role %s] [--revoke]", accessorRole)
	}
	g := policyEditor{driftProbe: driftProbe{admin: strings.TrimSuffix(*admin, "/"), client: &http.Client{Timeout: 5 * time.Second}}}
	return g.change(context.Background(), *resource, *role, *member, *revoke, out)
}

// policyEditor reads and writes any resource's allow policy through the fake's admin API.
type policyEditor struct{ driftProbe }

func (g policyEditor) change(ctx context.Context, resource, role, member string, revoke bool, out io.Writer) error {
	path := adminapi.ResourcePolicyPathOf(resource)
	var before adminapi.Policy
	if err := g.get(ctx, path, &before); err != nil {
		return err
	}
	after, verb := withMember(before, role, member), "granted"
	if revoke {
		after, verb = withoutMember(before, role, member), "revoked"
	}
	switch held := holds(before, role, member); {
	case held && !revoke:
		return fmt.Errorf("%s already holds %s on %s: nothing to grant", member, role, resource)
	case !held && revoke:
		return fmt.Errorf("%s holds no %s on %s: nothing to revoke", member, role, resource)
	}
	body, err := json.Marshal(after)
	if err != nil {
		return err
	}
	if err := g.do(ctx, http.MethodPut, path, body, nil); err != nil {
		return fmt.Errorf("%s %s on %s out of band: %w", strings.TrimSuffix(verb, "ed"), role, resource, err)
	}
	_, err = fmt.Fprintf(out, "%s %s %s on %s out of band (PUT %s)\n", verb, member, role, resource, path)
	return err
}

// holds reports whether member is in role's unconditional binding.
func holds(p adminapi.Policy, role, member string) bool {
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// withoutMember takes member out of role's unconditional bindings, dropping a binding left with
// no member, and keeps every other binding as it is.
func withoutMember(p adminapi.Policy, role, member string) adminapi.Policy {
	out := adminapi.Policy{Version: p.Version, AuditConfigs: p.AuditConfigs}
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil {
			b.Members = slices.DeleteFunc(slices.Clone(b.Members), func(m string) bool { return m == member })
			if len(b.Members) == 0 {
				continue
			}
		}
		out.Bindings = append(out.Bindings, b)
	}
	return out
}
