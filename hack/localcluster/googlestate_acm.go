package main

import (
	"fmt"
	"strings"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// formatAccessPolicies renders Access Context Manager's side: each access policy and its levels,
// what each level admits, and whose it is — runguard's (the mark at the end of its description,
// read the way runguard reads it) or another tool's.
func formatAccessPolicies(policies []adminapi.AccessPolicyState, calls []adminapi.Call) string {
	var b strings.Builder
	for _, ps := range policies {
		p := &accesscontextmanagerpb.AccessPolicy{}
		if err := protojson.Unmarshal(ps.Policy, p); err != nil {
			fmt.Fprintf(&b, "\naccess policy (unreadable: %v)\n", err)
			continue
		}
		where := p.GetParent()
		if len(p.GetScopes()) > 0 {
			where += "; scoped to " + strings.Join(p.GetScopes(), ", ") + ": IAP ignores its levels"
		}
		fmt.Fprintf(&b, "\naccess policy %s %q (%s)\n", p.GetName(), p.GetTitle(), where)
		if len(ps.AccessLevels) == 0 {
			b.WriteString("  no access levels\n")
		}
		for _, raw := range ps.AccessLevels {
			l := &accesscontextmanagerpb.AccessLevel{}
			if err := protojson.Unmarshal(raw, l); err != nil {
				fmt.Fprintf(&b, "  (unreadable access level: %v)\n", err)
				continue
			}
			writeAccessLevel(&b, l, calls)
		}
	}
	return b.String()
}

func writeAccessLevel(b *strings.Builder, l *accesscontextmanagerpb.AccessLevel, calls []adminapi.Call) {
	short := l.GetName()[strings.LastIndex(l.GetName(), "/")+1:]
	if o, ok := accesslevel.OwnerOf(l); ok {
		fmt.Fprintf(b, "  [runguard] %s %q  (cluster=%s AccessLevel=%s)\n", short, l.GetTitle(), o.Cluster, o.Name)
	} else {
		fmt.Fprintf(b, "  [other]    %s %q (not runguard's)\n", short, l.GetTitle())
	}
	fmt.Fprintf(b, "    %-14s %s\n", "admits", accesslevel.Describe(l))
	if w := writers(calls, l.GetName()); w != "" {
		fmt.Fprintf(b, "    %-14s %s\n", "written by", w)
	}
}
