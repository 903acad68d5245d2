package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

const (
	invokerRole  = "roles/run.invoker"
	accessorRole = "roles/iap.httpsResourceAccessor"
	// runguard gives a group without context this always-true condition, to carry its marker.
	alwaysTrue = `request.time >= timestamp("1970-01-01T00:00:00Z")`
)

func runGoogleState(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("google-state", flag.ExitOnError)
	admin := fs.String("admin", "", "the fake's admin URL, e.g. http://127.0.0.1:8791")
	_ = fs.Parse(args)
	if *admin == "" {
		return fmt.Errorf("usage: localcluster google-state --admin http://127.0.0.1:PORT")
	}
	var st adminapi.State
	if err := getJSON(*admin, adminapi.StatePath, &st); err != nil {
		return err
	}
	var calls []adminapi.Call
	if err := getJSON(*admin, adminapi.CallsPath, &calls); err != nil {
		return err
	}
	_, err := io.WriteString(out, formatState(st, calls))
	return err
}

// getJSON reads one of the fake's admin endpoints.
func getJSON(admin, path string, v any) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(strings.TrimSuffix(admin, "/") + path)
	if err != nil {
		return fmt.Errorf("read the fake's %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// writers counts, per Google identity, the successful writes on a service or its IAP resource.
func writers(calls []adminapi.Call, resources ...string) string {
	count := map[string]int{}
	for _, c := range calls {
		if c.Write && c.Code == "OK" && c.Caller != "" && slices.Contains(resources, c.Resource) {
			count[c.Caller]++
		}
	}
	var parts []string
	for caller, n := range count {
		parts = append(parts, fmt.Sprintf("%s (%d)", caller, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// formatState renders what a reader of the demo wants to know per Cloud Run service: is IAP on,
// who may invoke it, is it public, and who may pass IAP under which condition; then the access
// levels those conditions can require.
func formatState(st adminapi.State, calls []adminapi.Call) string {
	var b strings.Builder
	numbers := map[string]int64{}
	for _, p := range st.Projects {
		numbers[p.ID] = p.Number
	}
	services := st.Services
	sort.SliceStable(services, func(i, j int) bool {
		pi, _, si := splitServiceName(services[i].Name)
		pj, _, sj := splitServiceName(services[j].Name)
		if pi != pj {
			return pi < pj
		}
		return si < sj
	})
	lastProject := ""
	for _, svc := range services {
		project, location, name := splitServiceName(svc.Name)
		if project != lastProject {
			if lastProject != "" {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "project %s (number %d)\n", project, numbers[project])
			lastProject = project
		}
		fmt.Fprintf(&b, "\n  %s  (%s)  %s\n", name, location, svc.URI)
		iap := "off"
		if svc.IAPEnabled {
			iap = "on"
		}
		if svc.Reconciling {
			iap += " (rollout in progress)"
		}
		fmt.Fprintf(&b, "    %-14s %s\n", "IAP", iap)
		if w := writers(calls, svc.Name, svc.IAPResource); w != "" {
			fmt.Fprintf(&b, "    %-14s %s\n", "written by", w)
		}

		invokers, others := splitRole(svc.ServicePolicy, invokerRole)
		agent := fmt.Sprintf("serviceAccount:service-%d@gcp-sa-iap.iam.gserviceaccount.com", numbers[project])
		label := "may invoke"
		if len(invokers) == 0 {
			fmt.Fprintf(&b, "    %-14s %s\n", label, "nobody (no roles/run.invoker grant)")
		}
		for _, bd := range invokers {
			for _, m := range bd.Members {
				note := ""
				switch {
				case m == agent:
					note = "  <- IAP's service agent"
				case m == "allUsers" || m == "allAuthenticatedUsers":
					note = "  <- anyone on the internet"
				}
				if bd.Condition != nil {
					note += fmt.Sprintf("  (when %s)", bd.Condition.Expression)
				}
				fmt.Fprintf(&b, "    %-14s %s%s\n", label, m, note)
				label = ""
			}
		}
		fmt.Fprintf(&b, "    %-14s %s\n", "public", publicAccess(svc.InvokerIAMDisabled, invokers))
		for _, bd := range others {
			fmt.Fprintf(&b, "    %-14s %s: %s\n", "other roles", bd.Role, strings.Join(bd.Members, ", "))
		}

		fmt.Fprintf(&b, "    %-14s %s\n", "IAP access", svc.IAPResource)
		accessors, otherIAP := splitRole(svc.IAPPolicy, accessorRole)
		if len(accessors) == 0 {
			fmt.Fprintf(&b, "      %s\n", "nobody may pass IAP (no roles/iap.httpsResourceAccessor bindings)")
		}
		for _, bd := range accessors {
			writeAccessor(&b, bd)
		}
		for _, bd := range otherIAP {
			fmt.Fprintf(&b, "      other role %s: %s\n", bd.Role, strings.Join(bd.Members, ", "))
		}
	}
	if len(services) == 0 {
		b.WriteString("the fake holds no Cloud Run services\n")
	}
	b.WriteString(formatAccessPolicies(st.AccessPolicies, calls))
	return b.String()
}

func writeAccessor(b *strings.Builder, bd adminapi.Binding) {
	c := bd.Condition
	switch {
	case c == nil:
		fmt.Fprintf(b, "      [other]    unconditional binding (not runguard's)\n")
	case strings.HasPrefix(c.Description, "managed-by=runguard "):
		fmt.Fprintf(b, "      [runguard] %s  (%s)\n", c.Title, strings.TrimPrefix(c.Description, "managed-by=runguard "))
	default:
		fmt.Fprintf(b, "      [other]    %q (not runguard's)\n", c.Title)
	}
	fmt.Fprintf(b, "        members  %s\n", strings.Join(bd.Members, ", "))
	if c != nil {
		when := c.Expression
		if when == alwaysTrue {
			when = "always (" + alwaysTrue + ")"
		}
		fmt.Fprintf(b, "        when     %s\n", strings.ReplaceAll(when, "\n", "\n                 "))
	}
}

func publicAccess(invokerIAMDisabled bool, invokers []adminapi.Binding) string {
	var public []string
	if invokerIAMDisabled {
		public = append(public, "invoker IAM check off (invoker_iam_disabled)")
	}
	for _, bd := range invokers {
		for _, m := range bd.Members {
			if m == "allUsers" || m == "allAuthenticatedUsers" {
				public = append(public, m+" may invoke")
			}
		}
	}
	if len(public) == 0 {
		return "no"
	}
	return "YES: " + strings.Join(public, "; ")
}

// splitRole separates a policy's bindings of one role from the rest.
func splitRole(p adminapi.Policy, role string) (of, others []adminapi.Binding) {
	for _, bd := range p.Bindings {
		if bd.Role == role {
			of = append(of, bd)
		} else {
			others = append(others, bd)
		}
	}
	return of, others
}

// splitServiceName splits projects/P/locations/L/services/S.
func splitServiceName(name string) (project, location, service string) {
	parts := strings.Split(name, "/")
	if len(parts) == 6 {
		return parts[1], parts[3], parts[5]
	}
	return "?", "?", name
}
