package accesslevel

import (
	"strings"
	"testing"
	"unicode/utf8"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
)

var prodOwner = Owner{Cluster: "prod-eu", Name: "corp-network"}

func levelWithDescription(d string) *accesscontextmanagerpb.AccessLevel {
	return &accesscontextmanagerpb.AccessLevel{Description: d}
}

func TestBuild_EndsTheDescriptionWithAMarkerThatNamesTheOwner(t *testing.T) {
	for _, tc := range []struct{ name, user, want string }{
		{"no user text", "", `managed by runguard: cluster "prod-eu", AccessLevel "corp-network"`},
		{"user text", "Office networks.", "Office networks.\n\n" + `managed by runguard: cluster "prod-eu", AccessLevel "corp-network"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Build(Spec{Description: tc.user, Custom: "true"}, "", prodOwner).GetDescription()
			if got != tc.want {
				t.Errorf("description = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOwnerOf_AcceptsOnlyTheExactMarker(t *testing.T) {
	marker := `managed by runguard: cluster "prod-eu", AccessLevel "corp-network"`
	for _, tc := range []struct {
		name, description string
		owned             bool
	}{
		{"marker alone", marker, true},
		{"user text, blank line, marker", "Office.\n\n" + marker, true},
		{"user text ending in newlines", "Office.\n\n\n\n" + marker, true},
		{"empty description", "", false},
		{"mentions runguard", "This level is managed by runguard.", false},
		{"marker without blank line", "Office.\n" + marker, false},
		{"blank line but no user text", "\n\n" + marker, false},
		{"marker not on the last line", marker + "\n\nedited by hand", false},
		{"trailing space", marker + " ", false},
		{"unquoted values", `managed by runguard: cluster prod-eu, AccessLevel corp-network`, false},
		{"non-canonical escape", `managed by runguard: cluster "prod\x2deu", AccessLevel "corp-network"`, false},
		{"empty cluster", `managed by runguard: cluster "", AccessLevel "corp-network"`, false},
		{"empty name", `managed by runguard: cluster "prod-eu", AccessLevel ""`, false},
		{"raw string quoting", "managed by runguard: cluster `prod-eu`, AccessLevel \"corp-network\"", false},
		{"upper-case prefix", `Managed by runguard: cluster "prod-eu", AccessLevel "corp-network"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, owned := OwnerOf(levelWithDescription(tc.description))
			if owned != tc.owned {
				t.Fatalf("owned = %v, want %v", owned, tc.owned)
			}
			if owned && got != prodOwner {
				t.Errorf("owner = %+v, want %+v", got, prodOwner)
			}
		})
	}
}

func TestOwnerOf_ReadsNoOwnerFromANilLevel(t *testing.T) {
	if _, owned := OwnerOf(nil); owned {
		t.Error("a nil level is owned")
	}
}

func TestOwnerOf_ReadsBackValuesThatLookLikeSeparators(t *testing.T) {
	o := Owner{Cluster: `a", AccessLevel "b`, Name: "line\nbreak"}
	got, owned := OwnerOf(Build(Spec{Description: "x"}, "", o))
	if !owned || got != o {
		t.Errorf("OwnerOf = %+v, %v; want %+v, true", got, owned, o)
	}
}

func TestBuild_ShortensUserTextThatWouldNotFitAndKeepsTheMarker(t *testing.T) {
	user := strings.Repeat("é", MaxDescriptionLength)
	level := Build(Spec{Description: user}, "", prodOwner)
	d := level.GetDescription()
	if len(d) > MaxDescriptionLength {
		t.Errorf("description is %d bytes, more than %d", len(d), MaxDescriptionLength)
	}
	if !utf8.ValidString(d) {
		t.Error("shortening split a rune")
	}
	if got, owned := OwnerOf(level); !owned || got != prodOwner {
		t.Errorf("OwnerOf = %+v, %v; the marker did not survive", got, owned)
	}
	spec, _, _ := FromProto(level)
	if !strings.HasSuffix(spec.Description, "é…") {
		t.Errorf("user text %q does not end with the truncation mark", spec.Description[len(spec.Description)-10:])
	}
}

func TestDescriptionFits_SaysWhetherBuildKeepsTheTextWhole(t *testing.T) {
	room := MaxDescriptionLength - len(markerLine(prodOwner)) - len(markerSeparator)
	long := Owner{Cluster: strings.Repeat("c", MaxDescriptionLength), Name: "n"}
	for _, tc := range []struct {
		name string
		user string
		o    Owner
		want bool
	}{
		{"empty text", "", prodOwner, true},
		{"text exactly filling the budget", strings.Repeat("a", room), prodOwner, true},
		{"one byte over", strings.Repeat("a", room+1), prodOwner, false},
		{"invalid UTF-8", "\xff", prodOwner, false},
		{"an owner whose marker alone is too long", "", long, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DescriptionFits(tc.user, tc.o); got != tc.want {
				t.Fatalf("DescriptionFits = %v, want %v", got, tc.want)
			}
			if tc.want {
				spec, _, _ := FromProto(Build(Spec{Description: tc.user}, "", tc.o))
				if spec.Description != tc.user {
					t.Errorf("Build changed text that fits: %q", spec.Description)
				}
			}
		})
	}
}
