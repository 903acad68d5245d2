package iampolicy

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/type/expr"
)

func TestParseMarker(t *testing.T) {
	desc := "managed-by=runguard cluster=prod-eu1 namespace=team-a name=api"
	tests := []struct {
		name string
		cond *expr.Expr
		want Marker
		ok   bool
	}{
		{"nil condition", nil, Marker{}, false},
		{"runguard's own", &expr.Expr{Title: "runguard:admins", Description: desc}, Marker{Owner: ownerA, Group: "admins"}, true},
		{"escaped values", &expr.Expr{Title: "runguard:a b", Description: "managed-by=runguard cluster=my%20cluster namespace=ns name=x%3Dy"}, Marker{Owner: Owner{"my cluster", "ns", "x=y"}, Group: "a b"}, true},
		{"foreign description that mentions runguard", &expr.Expr{Title: "runguard:admins", Description: "added by hand, like runguard does: managed-by=runguard"}, Marker{}, false},
		{"marker description with a foreign title", &expr.Expr{Title: "admins", Description: desc}, Marker{}, false},
		{"title prefix without a group", &expr.Expr{Title: "runguard:", Description: desc}, Marker{}, false},
		{"title prefix in another case", &expr.Expr{Title: "Runguard:admins", Description: desc}, Marker{}, false},
		{"fields out of order", &expr.Expr{Title: "runguard:admins", Description: "managed-by=runguard namespace=team-a cluster=prod-eu1 name=api"}, Marker{}, false},
		{"extra field", &expr.Expr{Title: "runguard:admins", Description: desc + " group=admins"}, Marker{}, false},
		{"missing field", &expr.Expr{Title: "runguard:admins", Description: "managed-by=runguard cluster=prod-eu1 namespace=team-a"}, Marker{}, false},
		{"empty value", &expr.Expr{Title: "runguard:admins", Description: "managed-by=runguard cluster= namespace=team-a name=api"}, Marker{}, false},
		{"double space", &expr.Expr{Title: "runguard:admins", Description: "managed-by=runguard  cluster=prod-eu1 namespace=team-a name=api"}, Marker{}, false},
		{"trailing space", &expr.Expr{Title: "runguard:admins", Description: desc + " "}, Marker{}, false},
		{"lower-case escape is not canonical", &expr.Expr{Title: "runguard:admins", Description: "managed-by=runguard cluster=a%2fb namespace=n name=x"}, Marker{}, false},
		{"needless escape is not canonical", &expr.Expr{Title: "runguard:admins", Description: "managed-by=runguard cluster=%61 namespace=n name=x"}, Marker{}, false},
		{"truncated escape", &expr.Expr{Title: "runguard:admins", Description: "managed-by=runguard cluster=a%2 namespace=n name=x"}, Marker{}, false},
		{"raw character that must be escaped", &expr.Expr{Title: "runguard:admins", Description: "managed-by=runguard cluster=a/b namespace=n name=x"}, Marker{}, false},
		{"escape decoding to invalid UTF-8", &expr.Expr{Title: "runguard:admins", Description: "managed-by=runguard cluster=%FF namespace=n name=x"}, Marker{}, false},
		{"another tool's prefix", &expr.Expr{Title: "runguard:admins", Description: "managed-by=terraform cluster=prod-eu1 namespace=team-a name=api"}, Marker{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseMarker(tt.cond)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("ParseMarker = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseMarker_RoundTripsAnyValidOwner(t *testing.T) {
	owners := []Owner{
		ownerA,
		{"gke_proj_europe-west1_prod", "kube-system", "my.service-1"},
		{"cluster with spaces", "ns", "name"},
		{"100%", "a=b", "x y=z"},
		{"ünïcode", "ns", "😀"},
		{"slash/cluster", "ns", "n"},
	}
	for _, o := range owners {
		t.Run(o.String(), func(t *testing.T) {
			c := mustCondition(t, o, AccessGroup{Name: "team a"})
			m, ok := ParseMarker(c)
			if !ok || m.Owner != o || m.Group != "team a" {
				t.Fatalf("round trip of %q gave %+v, %v (description %q)", o, m, ok, c.Description)
			}
		})
	}
}

func TestValidateOwner(t *testing.T) {
	tests := []struct {
		owner Owner
		ok    bool
	}{
		{ownerA, true},
		{Owner{"", "ns", "n"}, false},
		{Owner{"c", "", "n"}, false},
		{Owner{"c", "ns", ""}, false},
		{Owner{"c\xff", "ns", "n"}, false},
		// Escaping triples the length of a cluster name made of spaces.
		{Owner{strings.Repeat(" ", 70), "ns", "n"}, false},
		{Owner{strings.Repeat("a", 63), strings.Repeat("b", 63), strings.Repeat("c", 63)}, true},
	}
	for _, tt := range tests {
		if err := ValidateOwner(tt.owner); (err == nil) != tt.ok {
			t.Errorf("ValidateOwner(%q) = %v, want ok=%v", tt.owner, err, tt.ok)
		}
	}
}

func TestOwner_String(t *testing.T) {
	if got := ownerA.String(); got != "prod-eu1/team-a/api" {
		t.Fatalf("String() = %q", got)
	}
}
