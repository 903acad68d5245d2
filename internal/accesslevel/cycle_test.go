package accesslevel

import (
	"slices"
	"testing"
)

func TestCycle_ReturnsOneCycleAsAPathBackToItsStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		levels map[string][]string
		want   []string
	}{
		{"no levels", nil, nil},
		{"no requirements", map[string][]string{"a": nil, "b": {}}, nil},
		{"a chain", map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}, nil},
		{"a diamond", map[string][]string{"a": {"b", "c"}, "b": {"d"}, "c": {"d"}}, nil},
		{"requirements outside the map", map[string][]string{"a": {"elsewhere"}}, nil},
		{"a level requiring itself", map[string][]string{"a": {"a"}}, []string{"a", "a"}},
		{"two levels", map[string][]string{"a": {"b"}, "b": {"a"}}, []string{"a", "b", "a"}},
		{"a cycle below the start", map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"d"}, "d": {"b"}}, []string{"b", "c", "d", "b"}},
		{"repeated requirements", map[string][]string{"a": {"b", "b"}, "b": {"a", "a"}}, []string{"a", "b", "a"}},
		{"two cycles, the first in sorted order wins", map[string][]string{
			"z": {"y"}, "y": {"z"}, "m": {"n"}, "n": {"m"},
		}, []string{"m", "n", "m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 { // map iteration order varies; the answer must not
				if got := Cycle(tc.levels); !slices.Equal(got, tc.want) {
					t.Fatalf("Cycle = %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func TestCycle_DoesNotChangeItsArgument(t *testing.T) {
	levels := map[string][]string{"a": {"c", "b"}, "b": {"a"}}
	Cycle(levels)
	if !slices.Equal(levels["a"], []string{"c", "b"}) {
		t.Errorf("Cycle sorted the caller's slice: %q", levels["a"])
	}
}
