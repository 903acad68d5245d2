package iampolicy

import (
	"errors"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"
)

var (
	admins  = AccessGroup{Name: "admins", Members: []string{"user:alice@example.com", "group:ops@example.com"}}
	devs    = AccessGroup{Name: "devs", Members: []string{"user:bob@example.com"}, Context: Context{PathPrefixes: []string{"/api/"}}}
	devsOld = AccessGroup{Name: "devs", Members: []string{"user:bob@example.com"}, Context: Context{PathPrefixes: []string{"/v1/"}}}

	officeHours = &expr.Expr{Title: "office hours", Expression: `request.time.getHours("Europe/Berlin") < 18`}
)

func TestPlanAccess_AddsOneConditionalBindingPerGroup(t *testing.T) {
	current := pol(bind(viewerRole, nil, "user:zed@example.com"))
	d := Desired{Owner: ownerA, Groups: []AccessGroup{admins, devs}}

	pl := mustPlan(t, current, d)

	want := pol(
		bind(viewerRole, nil, "user:zed@example.com"),
		ours(t, ownerA, admins, "user:alice@example.com", "group:ops@example.com"),
		ours(t, ownerA, devs, "user:bob@example.com"),
	)
	assertPolicyEqual(t, pl.Policy, want)
	wantAdded := []Tuple{
		{AccessorRole, "user:alice@example.com", "runguard:admins"},
		{AccessorRole, "group:ops@example.com", "runguard:admins"},
		{AccessorRole, "user:bob@example.com", "runguard:devs"},
	}
	if !pl.Changed || len(pl.Removed) != 0 || !equalTuples(pl.Added, wantAdded) {
		t.Fatalf("Changed=%v Added=%v Removed=%v", pl.Changed, pl.Added, pl.Removed)
	}
}

func TestPlanAccess_MergeLeavesEverythingOutsideItsMarkedBindingsAlone(t *testing.T) {
	foreignMarked := ours(t, ownerB, admins, "user:eve@example.com")
	tests := []struct {
		name    string
		binding *iampb.Binding
	}{
		{"other role", bind(viewerRole, nil, "user:alice@example.com")},
		{"unmarked unconditional grant of the same member and role", bind(AccessorRole, nil, "user:alice@example.com")},
		{"unmarked conditional binding of the role", bind(AccessorRole, officeHours, "user:carol@example.org")},
		{"binding marked by another owner", foreignMarked},
		{"look-alike title without a marker description", bind(AccessorRole, &expr.Expr{Title: "runguard:admins", Description: "made by hand after reading about runguard", Expression: alwaysTrueExpression}, "user:mallory@example.com")},
		{"our marker on another role", bind(viewerRole, mustCondition(t, ownerA, admins), "user:bob@example.com")},
		{"empty unmarked binding of the role", bind(AccessorRole, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current := pol(tt.binding, ours(t, ownerA, devs, "user:old@example.com"))
			current.AuditConfigs = []*iampb.AuditConfig{{Service: "allServices"}}
			d := Desired{Owner: ownerA, Mode: Merge, Groups: []AccessGroup{admins, devs}}
			before := proto.Clone(current).(*iampb.Policy)

			pl := mustPlan(t, current, d)

			if !proto.Equal(pl.Policy.Bindings[0], tt.binding) {
				t.Fatalf("foreign binding changed: %v", pl.Policy.Bindings[0])
			}
			checkPlan(t, before, current, d, pl, false)
		})
	}
}

func TestPlanAccess_MergeReportsUnconditionalGrantsThatMakeContextMoot(t *testing.T) {
	current := pol(bind(AccessorRole, nil, "user:ALICE@example.com", "user:zed@example.com"))
	d := Desired{Owner: ownerA, Groups: []AccessGroup{admins}}

	pl := mustPlan(t, current, d)

	want := []Tuple{{Role: AccessorRole, Member: "user:ALICE@example.com"}}
	if !equalTuples(pl.Unrestricted, want) {
		t.Fatalf("Unrestricted = %v, want %v", pl.Unrestricted, want)
	}
}

func TestPlanAccess_MergeRemovesWhatThisOwnerNoLongerDeclares(t *testing.T) {
	tests := []struct {
		name        string
		current     *iampb.Policy
		groups      []AccessGroup
		want        *iampb.Policy
		wantRemoved []Tuple
		wantAdded   []Tuple
	}{
		{
			name:        "member removed from a group",
			current:     pol(ours(t, ownerA, admins, "user:alice@example.com", "user:gone@example.com", "group:ops@example.com")),
			groups:      []AccessGroup{admins},
			want:        pol(ours(t, ownerA, admins, "user:alice@example.com", "group:ops@example.com")),
			wantRemoved: []Tuple{{AccessorRole, "user:gone@example.com", "runguard:admins"}},
		},
		{
			name:        "group removed",
			current:     pol(ours(t, ownerA, admins, "user:alice@example.com"), bind(viewerRole, nil, "user:x@example.com")),
			groups:      nil,
			want:        pol(bind(viewerRole, nil, "user:x@example.com")),
			wantRemoved: []Tuple{{AccessorRole, "user:alice@example.com", "runguard:admins"}},
		},
		{
			name:        "group emptied",
			current:     pol(ours(t, ownerA, admins, "user:alice@example.com")),
			groups:      []AccessGroup{{Name: "admins"}},
			want:        pol(),
			wantRemoved: []Tuple{{AccessorRole, "user:alice@example.com", "runguard:admins"}},
		},
		{
			name:        "context changed: old condition out, new in, appended at the end",
			current:     pol(ours(t, ownerA, devsOld, "user:bob@example.com"), bind(viewerRole, nil, "user:x@example.com")),
			groups:      []AccessGroup{devs},
			want:        pol(bind(viewerRole, nil, "user:x@example.com"), ours(t, ownerA, devs, "user:bob@example.com")),
			wantRemoved: []Tuple{{AccessorRole, "user:bob@example.com", "runguard:devs"}},
			wantAdded:   []Tuple{{AccessorRole, "user:bob@example.com", "runguard:devs"}},
		},
		{
			name: "expression edited by hand is replaced; member set follows declared",
			current: pol(bind(AccessorRole, &expr.Expr{
				Title: "runguard:admins", Description: markerDescription(ownerA), Expression: "true",
			}, "user:alice@example.com", "user:extra@example.com")),
			groups: []AccessGroup{admins},
			want:   pol(ours(t, ownerA, admins, "user:alice@example.com", "group:ops@example.com")),
			wantRemoved: []Tuple{
				{AccessorRole, "user:alice@example.com", "runguard:admins"},
				{AccessorRole, "user:extra@example.com", "runguard:admins"},
			},
			wantAdded: []Tuple{
				{AccessorRole, "user:alice@example.com", "runguard:admins"},
				{AccessorRole, "group:ops@example.com", "runguard:admins"},
			},
		},
		{
			name:        "duplicate marked bindings collapse into the first",
			current:     pol(ours(t, ownerA, admins, "user:alice@example.com"), ours(t, ownerA, admins, "group:ops@example.com")),
			groups:      []AccessGroup{admins},
			want:        pol(ours(t, ownerA, admins, "user:alice@example.com", "group:ops@example.com")),
			wantRemoved: []Tuple{{AccessorRole, "group:ops@example.com", "runguard:admins"}},
			wantAdded:   []Tuple{{AccessorRole, "group:ops@example.com", "runguard:admins"}},
		},
		{
			name:      "member added to an existing binding keeps its position",
			current:   pol(ours(t, ownerA, admins, "user:alice@example.com"), bind(viewerRole, nil, "user:x@example.com")),
			groups:    []AccessGroup{admins},
			want:      pol(ours(t, ownerA, admins, "user:alice@example.com", "group:ops@example.com"), bind(viewerRole, nil, "user:x@example.com")),
			wantAdded: []Tuple{{AccessorRole, "group:ops@example.com", "runguard:admins"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Desired{Owner: ownerA, Mode: Merge, Groups: tt.groups}
			before := proto.Clone(tt.current).(*iampb.Policy)

			pl := mustPlan(t, tt.current, d)

			assertPolicyEqual(t, pl.Policy, tt.want)
			if !equalTuples(pl.Removed, tt.wantRemoved) || !equalTuples(pl.Added, tt.wantAdded) {
				t.Fatalf("Removed=%v want %v; Added=%v want %v", pl.Removed, tt.wantRemoved, pl.Added, tt.wantAdded)
			}
			checkPlan(t, before, tt.current, d, pl, false)
		})
	}
}

func TestPlanAccess_ExclusiveRemovesUnmarkedBindingsOfTheRoleOnly(t *testing.T) {
	foreign := ours(t, ownerB, admins, "user:eve@example.com")
	current := pol(
		bind(AccessorRole, nil, "user:alice@example.com", "user:zed@example.com"),
		bind(viewerRole, nil, "user:zed@example.com"),
		bind(AccessorRole, officeHours, "user:carol@example.org"),
		foreign,
	)
	d := Desired{Owner: ownerA, Mode: Exclusive, Groups: []AccessGroup{admins}}
	before := proto.Clone(current).(*iampb.Policy)

	pl := mustPlan(t, current, d)

	want := pol(
		bind(viewerRole, nil, "user:zed@example.com"),
		foreign,
		ours(t, ownerA, admins, "user:alice@example.com", "group:ops@example.com"),
	)
	assertPolicyEqual(t, pl.Policy, want)
	wantRemoved := []Tuple{
		{AccessorRole, "user:alice@example.com", ""},
		{AccessorRole, "user:zed@example.com", ""},
		{AccessorRole, "user:carol@example.org", "office hours"},
	}
	if !equalTuples(pl.Removed, wantRemoved) {
		t.Fatalf("Removed = %v, want %v", pl.Removed, wantRemoved)
	}
	if len(pl.Conflicts) != 1 || pl.Conflicts[0] != (Marker{Owner: ownerB, Group: "admins"}) {
		t.Fatalf("Conflicts = %v", pl.Conflicts)
	}
	checkPlan(t, before, current, d, pl, false)
}

func TestPlanAccess_SameObjectInAnotherClusterIsAnotherOwner(t *testing.T) {
	twin := ours(t, ownerC, admins, "user:eve@example.com")
	current := pol(twin, ours(t, ownerA, admins, "user:alice@example.com"))
	d := Desired{Owner: ownerA, Mode: Exclusive}

	pl := mustPlan(t, current, d)

	assertPolicyEqual(t, pl.Policy, pol(twin))
	if len(pl.Conflicts) != 1 || pl.Conflicts[0].Owner != ownerC {
		t.Fatalf("Conflicts = %v, want the twin in %s", pl.Conflicts, ownerC.Cluster)
	}
}

func TestPlanAccess_ConflictsListOtherOwnersInBothModes(t *testing.T) {
	current := pol(
		ours(t, ownerB, admins, "user:eve@example.com"),
		ours(t, ownerB, devs, "user:eve@example.com"),
		ours(t, ownerB, admins, "user:eve2@example.com"), // same marker twice: listed once
		bind(viewerRole, mustCondition(t, ownerB, admins), "user:x@example.com"),
	)
	want := []Marker{{Owner: ownerB, Group: "admins"}, {Owner: ownerB, Group: "devs"}}
	for _, mode := range []Mode{Merge, Exclusive} {
		t.Run(string(mode), func(t *testing.T) {
			pl := mustPlan(t, current, Desired{Owner: ownerA, Mode: mode, Groups: []AccessGroup{admins}})
			if len(pl.Conflicts) != len(want) || pl.Conflicts[0] != want[0] || pl.Conflicts[1] != want[1] {
				t.Fatalf("Conflicts = %v, want %v", pl.Conflicts, want)
			}
			for _, b := range current.Bindings {
				if !containsBinding(pl.Policy, b) {
					t.Fatalf("another owner's binding was modified: %v", b)
				}
			}
		})
	}
}

func TestPlanAccess_RecasedMembersAreNeverAChange(t *testing.T) {
	tests := []struct {
		name    string
		current *iampb.Policy
		mode    Mode
	}{
		{"google returns lower case", pol(ours(t, ownerA, AccessGroup{Name: "admins", Context: admins.Context}, "user:alice@example.com", "group:ops@example.com")), Merge},
		{"stored upper case", pol(ours(t, ownerA, admins, "USER:ALICE@EXAMPLE.COM", "Group:Ops@Example.com")), Exclusive},
	}
	declared := AccessGroup{Name: "admins", Members: []string{"user:Alice@Example.com", "group:OPS@example.com"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Desired{Owner: ownerA, Mode: tt.mode, Groups: []AccessGroup{declared}}
			pl := mustPlan(t, tt.current, d)
			if pl.Changed {
				t.Fatalf("re-cased members caused a change: %s", pl.Diff())
			}
			assertPolicyEqual(t, pl.Policy, tt.current)
		})
	}
}

func TestPlanAccess_PrincipalIdentifiersCompareExactly(t *testing.T) {
	stored := "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/Alice"
	current := pol(ours(t, ownerA, AccessGroup{Name: "admins"}, stored))
	d := Desired{Owner: ownerA, Groups: []AccessGroup{{Name: "admins", Members: []string{strings.ToLower(stored)}}}}

	pl := mustPlan(t, current, d)

	if len(pl.Removed) != 1 || pl.Removed[0].Member != stored || len(pl.Added) != 1 {
		t.Fatalf("principal:// members must compare exactly; got %s", pl.Diff())
	}
}

func TestPlanAccess_IsIdempotent(t *testing.T) {
	current := pol(bind(AccessorRole, nil, "user:zed@example.com"), ours(t, ownerA, devsOld, "user:bob@example.com"))
	for _, mode := range []Mode{Merge, Exclusive} {
		t.Run(string(mode), func(t *testing.T) {
			d := Desired{Owner: ownerA, Mode: mode, Groups: []AccessGroup{admins, devs, {Name: "empty"}}}
			first := mustPlan(t, current, d)
			second := mustPlan(t, first.Policy, d)
			if !first.Changed || second.Changed {
				t.Fatalf("first.Changed=%v second.Changed=%v (%s)", first.Changed, second.Changed, second.Diff())
			}
		})
	}
}

func TestPlanAccess_VersionAndEtag(t *testing.T) {
	tests := []struct {
		name        string
		current     *iampb.Policy
		groups      []AccessGroup
		wantVersion int32
	}{
		{"version 3 when a conditional binding is added", &iampb.Policy{Version: 1, Etag: []byte("e")}, []AccessGroup{admins}, 3},
		{"unset version becomes 1 without conditions", &iampb.Policy{Etag: []byte("e"), Bindings: []*iampb.Binding{bind(viewerRole, nil, "user:x@example.com")}}, nil, 1},
		{"version 1 kept when the last condition goes", &iampb.Policy{Version: 1, Etag: []byte("e"), Bindings: []*iampb.Binding{ours(t, ownerA, admins, "user:alice@example.com")}}, nil, 1},
		{"version 3 kept when foreign conditions remain", &iampb.Policy{Version: 3, Etag: []byte("e"), Bindings: []*iampb.Binding{bind(AccessorRole, officeHours, "user:x@example.com")}}, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := mustPlan(t, tt.current, Desired{Owner: ownerA, Groups: tt.groups})
			if pl.Policy.Version != tt.wantVersion || string(pl.Policy.Etag) != "e" {
				t.Fatalf("version=%d etag=%q, want %d and %q", pl.Policy.Version, pl.Policy.Etag, tt.wantVersion, "e")
			}
		})
	}
}

func TestPlanAccess_NeverMutatesItsInput(t *testing.T) {
	current := pol(
		ours(t, ownerA, admins, "user:alice@example.com", "user:gone@example.com"),
		bind(AccessorRole, nil, "user:zed@example.com"),
		ours(t, ownerA, devsOld, "user:bob@example.com"),
	)
	before := proto.Clone(current).(*iampb.Policy)
	for _, mode := range []Mode{Merge, Exclusive} {
		d := Desired{Owner: ownerA, Mode: mode, Groups: []AccessGroup{admins, devs}}
		mustPlan(t, current, d)
		if _, err := PlanAccessRemovalOnly(current, d); err != nil {
			t.Fatal(err)
		}
		assertPolicyEqual(t, current, before)
	}
}

func TestPlanAccess_NilPolicyIsEmpty(t *testing.T) {
	pl := mustPlan(t, nil, Desired{Owner: ownerA, Groups: []AccessGroup{admins}})
	assertPolicyEqual(t, pl.Policy, &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{ours(t, ownerA, admins, admins.Members...)}})
}

func TestPlanAccess_RejectsInvalidInput(t *testing.T) {
	tests := []struct {
		name        string
		d           Desired
		wantInvalid bool
	}{
		{"invalid CEL", Desired{Owner: ownerA, Groups: []AccessGroup{{Name: "g", Members: []string{"user:a@x.com"}, Context: Context{Expression: "request.path ==="}}}}, true},
		{"allUsers in a group", Desired{Owner: ownerA, Groups: []AccessGroup{{Name: "g", Members: []string{"allUsers"}}}}, true},
		{"duplicate group names", Desired{Owner: ownerA, Groups: []AccessGroup{admins, admins}}, true},
		{"unknown mode", Desired{Owner: ownerA, Mode: "Replace", Groups: []AccessGroup{admins}}, false},
		{"owner without a name", Desired{Owner: Owner{Cluster: "c", Namespace: "n"}, Groups: []AccessGroup{admins}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PlanAccess(pol(), tt.d)
			if err == nil {
				t.Fatal("want an error")
			}
			var ice *InvalidConditionError
			if got := errors.As(err, &ice); got != tt.wantInvalid {
				t.Fatalf("errors.As(*InvalidConditionError) = %v, want %v (err: %v)", got, tt.wantInvalid, err)
			}
		})
	}
}

func TestPlanAccess_CustomRole(t *testing.T) {
	current := pol(bind(AccessorRole, nil, "user:zed@example.com"))
	d := Desired{Owner: ownerA, Role: "roles/custom.iapUser", Mode: Exclusive, Groups: []AccessGroup{admins}}
	pl := mustPlan(t, current, d)
	if !proto.Equal(pl.Policy.Bindings[0], current.Bindings[0]) || pl.Policy.Bindings[1].Role != "roles/custom.iapUser" {
		t.Fatalf("Exclusive on a custom role touched the accessor role: %s", describePolicy(pl.Policy))
	}
}

func TestPlanAccessRemovalOnly_NeverAdds(t *testing.T) {
	tests := []struct {
		name        string
		current     *iampb.Policy
		d           Desired
		want        *iampb.Policy
		wantRemoved int
	}{
		{
			name:    "new group is not added",
			current: pol(),
			d:       Desired{Owner: ownerA, Groups: []AccessGroup{admins}},
			want:    pol(),
		},
		{
			name:        "missing member not added, undeclared one removed",
			current:     pol(ours(t, ownerA, admins, "user:alice@example.com", "user:gone@example.com")),
			d:           Desired{Owner: ownerA, Groups: []AccessGroup{admins}},
			want:        pol(ours(t, ownerA, admins, "user:alice@example.com")),
			wantRemoved: 1,
		},
		{
			name:        "context change removes the old binding without adding the new one",
			current:     pol(ours(t, ownerA, devsOld, "user:bob@example.com")),
			d:           Desired{Owner: ownerA, Groups: []AccessGroup{devs}},
			want:        pol(),
			wantRemoved: 1,
		},
		{
			name:        "a member IAM would reject does not block the revocation",
			current:     pol(ours(t, ownerA, admins, "user:alice@example.com", "user:gone@example.com")),
			d:           Desired{Owner: ownerA, Groups: []AccessGroup{{Name: "admins", Members: []string{"user:alice@example.com", "allUsers", "user:nonexistent@example.com"}}}},
			want:        pol(ours(t, ownerA, admins, "user:alice@example.com")),
			wantRemoved: 1,
		},
		{
			name:    "a group that no longer compiles keeps its binding, trimmed to declared members",
			current: pol(ours(t, ownerA, devs, "user:bob@example.com", "user:gone@example.com")),
			d: Desired{Owner: ownerA, Groups: []AccessGroup{{
				Name: "devs", Members: []string{"user:bob@example.com"}, Context: Context{Expression: "request.path.startsWith("},
			}}},
			want:        pol(ours(t, ownerA, devs, "user:bob@example.com")),
			wantRemoved: 1,
		},
		{
			name:        "Exclusive removes unmarked grants",
			current:     pol(bind(AccessorRole, nil, "user:zed@example.com"), ours(t, ownerB, admins, "user:eve@example.com")),
			d:           Desired{Owner: ownerA, Mode: Exclusive},
			want:        pol(ours(t, ownerB, admins, "user:eve@example.com")),
			wantRemoved: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := proto.Clone(tt.current).(*iampb.Policy)
			pl, err := PlanAccessRemovalOnly(tt.current, tt.d)
			if err != nil {
				t.Fatal(err)
			}
			assertPolicyEqual(t, pl.Policy, tt.want)
			if len(pl.Added) != 0 || len(pl.Removed) != tt.wantRemoved {
				t.Fatalf("Added=%v Removed=%v, want no additions and %d removals", pl.Added, pl.Removed, tt.wantRemoved)
			}
			checkPlan(t, before, tt.current, tt.d, pl, true)
		})
	}
}

func TestPlanAccessRemovalOnly_IsNeverRejectedForSize(t *testing.T) {
	current := pol(bind(viewerRole, nil, manyMembers("user:u%d@example.com", MaxPrincipals+10)...), ours(t, ownerA, admins, "user:alice@example.com"))
	pl, err := PlanAccessRemovalOnly(current, Desired{Owner: ownerA})
	if err != nil || !pl.Changed {
		t.Fatalf("err=%v changed=%v", err, pl.Changed)
	}
	if _, err := PlanAccess(current, Desired{Owner: ownerA, Groups: []AccessGroup{{Name: "admins", Members: []string{"user:new@example.com"}}}}); err == nil {
		t.Fatal("PlanAccess accepted a policy over the principal limit")
	}
}

func TestPlan_Diff(t *testing.T) {
	tests := []struct {
		name string
		plan Plan
		want string
	}{
		{"unchanged", Plan{}, ""},
		{
			"adds then removes",
			Plan{Changed: true,
				Added:   []Tuple{{AccessorRole, "user:a@x.com", "runguard:admins"}},
				Removed: []Tuple{{AccessorRole, "group:g@x.com", "runguard:old"}, {AccessorRole, "user:z@x.com", ""}}},
			"+user:a@x.com (runguard:admins); -group:g@x.com (runguard:old); -user:z@x.com (unconditional)",
		},
		{
			"other roles are named",
			Plan{Changed: true, Added: []Tuple{{InvokerRole, "serviceAccount:s@x.com", ""}}},
			"+serviceAccount:s@x.com (roles/run.invoker, unconditional)",
		},
		{
			"long diffs are cut",
			Plan{Changed: true, Added: tuplesFor(manyMembers("user:u%d@x.com", 25))},
			"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.plan.Diff()
			if tt.name == "long diffs are cut" {
				if !strings.HasSuffix(got, "; … and 5 more") || strings.Count(got, "+") != maxDiffEntries {
					t.Fatalf("Diff() = %q", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("Diff() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlan_DiffIsDeterministic(t *testing.T) {
	current := pol(ours(t, ownerA, devsOld, "user:bob@example.com"), bind(AccessorRole, nil, "user:zed@example.com"))
	d := Desired{Owner: ownerA, Mode: Exclusive, Groups: []AccessGroup{admins, devs}}
	want := mustPlan(t, current, d).Diff()
	for range 20 {
		if got := mustPlan(t, current, d).Diff(); got != want {
			t.Fatalf("Diff changed between runs: %q vs %q", got, want)
		}
	}
}

func equalTuples(a, b []Tuple) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func containsBinding(p *iampb.Policy, want *iampb.Binding) bool {
	for _, b := range p.GetBindings() {
		if proto.Equal(b, want) {
			return true
		}
	}
	return false
}

func tuplesFor(members []string) []Tuple {
	out := make([]Tuple, len(members))
	for i, m := range members {
		out[i] = Tuple{AccessorRole, m, "runguard:g"}
	}
	return out
}
