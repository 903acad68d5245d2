package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

const (
	invokerRole  = "roles/run.invoker"
	accessorRole = "roles/iap.httpsResourceAccessor"
	clusterName  = "scale"
)

// verifyGoogle checks that Google holds exactly what was declared for every service: IAP on,
// the IAP service agent may invoke, nobody public may, every declared group bound with
// runguard's marker and exactly its members, no other runguard binding, and a binding granted
// by hand still there. members maps an object to its members by group, edits included.
func verifyGoogle(st adminapi.State, objects []declared, members func(declared) map[string][]string) []string {
	numbers := map[string]int64{}
	for _, p := range st.Projects {
		numbers[p.ID] = p.Number
	}
	byName := map[string]adminapi.ServiceState{}
	for _, s := range st.Services {
		byName[s.Name] = s
	}
	var problems []string
	for _, d := range objects {
		svc, ok := byName[d.fullName()]
		if !ok {
			problems = append(problems, d.fullName()+": missing")
			continue
		}
		for _, p := range checkService(svc, d, numbers[d.project], members(d)) {
			problems = append(problems, d.fullName()+": "+p)
		}
	}
	return problems
}

func checkService(svc adminapi.ServiceState, d declared, number int64, want map[string][]string) []string {
	var problems []string
	if !svc.IAPEnabled {
		problems = append(problems, "IAP is off")
	}
	if svc.InvokerIAMDisabled {
		problems = append(problems, "invoker IAM is disabled")
	}
	agent := fmt.Sprintf("serviceAccount:service-%d@gcp-sa-iap.iam.gserviceaccount.com", number)
	var agentInvokes bool
	for _, b := range svc.ServicePolicy.Bindings {
		if b.Role != invokerRole {
			continue
		}
		for _, m := range b.Members {
			if m == "allUsers" || m == "allAuthenticatedUsers" {
				problems = append(problems, m+" may still invoke")
			}
			agentInvokes = agentInvokes || m == agent && b.Condition == nil
		}
	}
	if !agentInvokes {
		problems = append(problems, "the IAP service agent may not invoke")
	}
	description := fmt.Sprintf("managed-by=runguard cluster=%s namespace=%s name=%s", clusterName, d.namespace, d.name)
	found := map[string]bool{}
	var handKept bool
	for _, b := range svc.IAPPolicy.Bindings {
		if b.Condition == nil {
			handKept = handKept || b.Role == accessorRole && slices.Contains(b.Members, handGranted)
			continue
		}
		group, ours := strings.CutPrefix(b.Condition.Title, "runguard:")
		if !ours {
			continue
		}
		members, declared := want[group]
		switch {
		case b.Role != accessorRole || b.Condition.Description != description || !declared:
			problems = append(problems, fmt.Sprintf("a runguard binding nobody declared: %s %q %q", b.Role, b.Condition.Title, b.Condition.Description))
		case found[group]:
			problems = append(problems, "group "+group+" bound twice")
		case !sameMembers(b.Members, members):
			problems = append(problems, fmt.Sprintf("group %s holds %v, declared %v", group, b.Members, members))
		}
		found[group] = true
	}
	for group := range want {
		if !found[group] {
			problems = append(problems, "group "+group+" is not bound")
		}
	}
	if d.handGranted && !handKept {
		problems = append(problems, "the accessor binding granted by hand is gone")
	}
	return problems
}

func sameMembers(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
