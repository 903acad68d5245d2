package iampolicy

import (
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/proto"
)

func TestSameMember(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"user:Alice@Example.com", "user:alice@example.com", true},
		{"group:OPS@example.com", "group:ops@example.com", true},
		{"serviceAccount:CI@proj.iam.gserviceaccount.com", "serviceAccount:ci@proj.iam.gserviceaccount.com", true},
		{"domain:Example.COM", "domain:example.com", true},
		{"User:alice@example.com", "user:alice@example.com", true},
		{"user:alice@example.com", "group:alice@example.com", false},
		{"principal://iam.googleapis.com/locations/global/workforcePools/p/subject/Alice", "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/alice", false},
		{"principalSet://iam.googleapis.com/x/group/Eng", "principalSet://iam.googleapis.com/x/group/eng", false},
		{"deleted:user:Alice@example.com?uid=1", "deleted:user:alice@example.com?uid=1", false},
		{"allUsers", "allusers", false},
		{"allUsers", "allUsers", true},
	}
	for _, tt := range tests {
		if got := SameMember(tt.a, tt.b); got != tt.same {
			t.Errorf("SameMember(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}

func TestHasMember(t *testing.T) {
	p := pol(
		bind(InvokerRole, nil, "serviceAccount:service-123@gcp-sa-iap.iam.gserviceaccount.com"),
		bind(AccessorRole, officeHours, "user:alice@example.com"),
	)
	tests := []struct {
		role, member string
		want         bool
	}{
		{InvokerRole, "serviceAccount:Service-123@gcp-sa-iap.iam.gserviceaccount.com", true},
		{AccessorRole, "user:ALICE@example.com", true}, // conditional bindings count
		{AccessorRole, "serviceAccount:service-123@gcp-sa-iap.iam.gserviceaccount.com", false},
		{viewerRole, "user:alice@example.com", false},
	}
	for _, tt := range tests {
		if got := HasMember(p, tt.role, tt.member); got != tt.want {
			t.Errorf("HasMember(%s, %s) = %v, want %v", tt.role, tt.member, got, tt.want)
		}
	}
	if HasMember(nil, InvokerRole, "user:a@x.com") {
		t.Error("HasMember(nil) = true")
	}
}

func TestGrantMember(t *testing.T) {
	agent := "serviceAccount:service-123@gcp-sa-iap.iam.gserviceaccount.com"
	tests := []struct {
		name        string
		current     *iampb.Policy
		want        *iampb.Policy
		wantChanged bool
	}{
		{
			name:        "empty policy gets a new binding",
			current:     &iampb.Policy{Etag: []byte("e")},
			want:        &iampb.Policy{Version: 1, Etag: []byte("e"), Bindings: []*iampb.Binding{bind(InvokerRole, nil, agent)}},
			wantChanged: true,
		},
		{
			name:        "joins the existing unconditional binding",
			current:     &iampb.Policy{Version: 1, Bindings: []*iampb.Binding{bind(viewerRole, nil, "user:x@example.com"), bind(InvokerRole, nil, "user:a@example.com")}},
			want:        &iampb.Policy{Version: 1, Bindings: []*iampb.Binding{bind(viewerRole, nil, "user:x@example.com"), bind(InvokerRole, nil, "user:a@example.com", agent)}},
			wantChanged: true,
		},
		{
			name:    "already granted in another case",
			current: &iampb.Policy{Version: 1, Bindings: []*iampb.Binding{bind(InvokerRole, nil, "serviceAccount:SERVICE-123@gcp-sa-iap.iam.gserviceaccount.com")}},
			want:    &iampb.Policy{Version: 1, Bindings: []*iampb.Binding{bind(InvokerRole, nil, "serviceAccount:SERVICE-123@gcp-sa-iap.iam.gserviceaccount.com")}},
		},
		{
			name:        "a conditional grant is not enough",
			current:     &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{bind(InvokerRole, officeHours, agent)}},
			want:        &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{bind(InvokerRole, officeHours, agent), bind(InvokerRole, nil, agent)}},
			wantChanged: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := proto.Clone(tt.current)
			got, changed := GrantMember(tt.current, InvokerRole, agent)
			if changed != tt.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tt.wantChanged)
			}
			assertPolicyEqual(t, got, tt.want)
			if !proto.Equal(before, tt.current) {
				t.Fatal("input mutated")
			}
		})
	}
}

func TestRevokeMembers(t *testing.T) {
	current := pol(
		bind(InvokerRole, nil, "allUsers", "user:a@example.com"),
		bind(InvokerRole, officeHours, "allAuthenticatedUsers"),
		bind(viewerRole, nil, "allUsers"),
		bind(InvokerRole, nil),
	)
	before := proto.Clone(current)

	got, removed := RevokeMembers(current, InvokerRole, "allUsers", "allAuthenticatedUsers", "user:nobody@example.com")

	want := pol(
		bind(InvokerRole, nil, "user:a@example.com"),
		bind(viewerRole, nil, "allUsers"),
		bind(InvokerRole, nil),
	)
	assertPolicyEqual(t, got, want)
	wantRemoved := []Tuple{{InvokerRole, "allUsers", ""}, {InvokerRole, "allAuthenticatedUsers", "office hours"}}
	if !equalTuples(removed, wantRemoved) {
		t.Fatalf("removed = %v, want %v", removed, wantRemoved)
	}
	if !proto.Equal(before, current) {
		t.Fatal("input mutated")
	}
}

func TestRevokeMembers_ComparesEmailsCaseInsensitively(t *testing.T) {
	got, removed := RevokeMembers(pol(bind(InvokerRole, nil, "user:Alice@Example.com")), InvokerRole, "user:alice@example.com")
	if len(got.Bindings) != 0 || len(removed) != 1 || removed[0].Member != "user:Alice@Example.com" {
		t.Fatalf("got %s, removed %v", describePolicy(got), removed)
	}
}
