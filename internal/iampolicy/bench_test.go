package iampolicy

import (
	"fmt"
	"testing"
)

// BenchmarkPlanAccess plans 20 access groups against a policy that holds
// about 1,000 foreign members: the steady-state reconcile (nothing to do)
// and one with a member added to one group and removed from another.
func BenchmarkPlanAccess(b *testing.B) {
	current := pol(
		bind(viewerRole, nil, manyMembers("user:viewer%d@example.com", 600)...),
		bind(AccessorRole, nil, manyMembers("user:legacy%d@example.com", 250)...),
		bind(AccessorRole, officeHours, manyMembers("group:team%d@example.com", 100)...),
		bind(InvokerRole, nil, manyMembers("serviceAccount:sa%d@proj.iam.gserviceaccount.com", 50)...),
	)
	var groups []AccessGroup
	for i := range 20 {
		groups = append(groups, AccessGroup{
			Name:    fmt.Sprintf("group-%02d", i),
			Members: manyMembers(fmt.Sprintf("user:g%02d-%%d@example.com", i), 10),
			Context: contextPool[i%len(contextPool)],
		})
	}
	d := Desired{Owner: ownerA, Mode: Merge, Groups: groups}
	converged := mustPlan(b, current, d).Policy

	changed := d
	changed.Groups = append([]AccessGroup(nil), groups...)
	changed.Groups[3].Members = append(append([]string(nil), groups[3].Members...), "user:new@example.com")
	changed.Groups[7].Members = groups[7].Members[1:]

	for _, bc := range []struct {
		name string
		d    Desired
	}{{"converged", d}, {"one-added-one-removed", changed}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := PlanAccess(converged, bc.d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
