package controllers

import (
	"slices"
	"testing"

	"github.com/runguard/runguard/internal/accesslevel"
)

// A cycle elsewhere in the cluster must not hide the one through the level being checked.
func TestReachableFrom_FindsTheCycleThroughThisLevelWhenAnotherSortsFirst(t *testing.T) {
	graph := map[string][]string{"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}, "e": {"a"}}
	if cycle := accesslevel.Cycle(reachableFrom(graph, "c")); !slices.Contains(cycle, "c") {
		t.Errorf("cycle through c = %v", cycle)
	}
	// A level that only requires a cycle is not in one: it waits, as its required levels do.
	if cycle := accesslevel.Cycle(reachableFrom(graph, "e")); slices.Contains(cycle, "e") {
		t.Errorf("e is not in a cycle, got %v", cycle)
	}
}
