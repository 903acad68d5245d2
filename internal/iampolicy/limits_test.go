package iampolicy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
)

func manyMembers(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

func TestPlanAccess_RejectsResultsOverIAMLimits(t *testing.T) {
	// 21 groups with the same member but different contexts.
	var manyContexts []AccessGroup
	for i := range MaxConditionsPerRoleAndMember + 1 {
		manyContexts = append(manyContexts, AccessGroup{
			Name:    fmt.Sprintf("g%d", i),
			Members: []string{"user:alice@example.com"},
			Context: Context{PathPrefixes: []string{fmt.Sprintf("/p%d/", i)}},
		})
	}
	tests := []struct {
		name       string
		current    *iampb.Policy
		groups     []AccessGroup
		wantReason string // "" means accepted
	}{
		{
			name:    "exactly 1,500 principals including foreign ones is accepted",
			current: pol(bind(viewerRole, nil, manyMembers("user:u%d@example.com", MaxPrincipals-1)...)),
			groups:  []AccessGroup{{Name: "g", Members: []string{"user:alice@example.com"}}},
		},
		{
			name:       "1,501 principals counting foreign members",
			current:    pol(bind(viewerRole, nil, manyMembers("user:u%d@example.com", MaxPrincipals)...)),
			groups:     []AccessGroup{{Name: "g", Members: []string{"user:alice@example.com"}}},
			wantReason: "1501 principal entries",
		},
		{
			name:       "each occurrence counts",
			current:    pol(bind(viewerRole, nil, manyMembers("user:u%d@example.com", 1000)...), bind(InvokerRole, nil, manyMembers("user:u%d@example.com", 500)...)),
			groups:     []AccessGroup{{Name: "g", Members: []string{"user:u1@example.com"}}},
			wantReason: "1501 principal entries",
		},
		{
			name:       "251 groups",
			current:    pol(bind(viewerRole, nil, manyMembers("group:g%d@example.com", MaxGroupPrincipals)...)),
			groups:     []AccessGroup{{Name: "g", Members: []string{"group:new@example.com"}}},
			wantReason: "251 group: entries",
		},
		{
			name:    "250 groups is accepted",
			current: pol(bind(viewerRole, nil, manyMembers("group:g%d@example.com", MaxGroupPrincipals-1)...)),
			groups:  []AccessGroup{{Name: "g", Members: []string{"GROUP:new@example.com"}}},
		},
		{
			name:       "21 conditions for the same role and member",
			current:    pol(),
			groups:     manyContexts,
			wantReason: "user:alice@example.com has roles/iap.httpsResourceAccessor under 21 different conditions",
		},
		{
			name:    "20 conditions for the same role and member is accepted",
			current: pol(),
			groups:  manyContexts[:MaxConditionsPerRoleAndMember],
		},
		{
			name:       "foreign conditional bindings count toward the 20",
			current:    pol(bind(AccessorRole, officeHours, "user:ALICE@example.com")),
			groups:     manyContexts[:MaxConditionsPerRoleAndMember],
			wantReason: "under 21 different conditions",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PlanAccess(tt.current, Desired{Owner: ownerA, Groups: tt.groups})
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var tooLarge *PolicyTooLargeError
			if !errors.As(err, &tooLarge) {
				t.Fatalf("want *PolicyTooLargeError, got %v", err)
			}
			if !strings.Contains(tooLarge.Error(), tt.wantReason) {
				t.Fatalf("error %q does not mention %q", tooLarge.Error(), tt.wantReason)
			}
		})
	}
}

func TestPlanAccess_UnchangedPolicyIsNotRejectedForSize(t *testing.T) {
	current := pol(bind(viewerRole, nil, manyMembers("user:u%d@example.com", MaxPrincipals+1)...))
	pl, err := PlanAccess(current, Desired{Owner: ownerA})
	if err != nil || pl.Changed {
		t.Fatalf("err=%v changed=%v: nothing to write, nothing to reject", err, pl.Changed)
	}
}
