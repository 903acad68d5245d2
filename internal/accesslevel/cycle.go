package accesslevel

import (
	"maps"
	"slices"
)

// Cycle looks for a cycle among required levels: levels maps each level's
// full name to the full names it requires. It returns one cycle as a path
// that ends where it started (["a", "b", "a"]; a level requiring itself is
// ["a", "a"]), or nil. The search visits levels and their requirements in
// sorted order, so the same map always yields the same cycle.
func Cycle(levels map[string][]string) []string {
	const (
		unvisited = iota
		onPath
		done
	)
	state := make(map[string]int, len(levels))
	var path []string
	var visit func(level string) []string
	visit = func(level string) []string {
		state[level] = onPath
		path = append(path, level)
		for _, next := range sortUnique(slices.Clone(levels[level])) {
			switch state[next] {
			case onPath:
				start := slices.Index(path, next)
				return append(slices.Clone(path[start:]), next)
			case unvisited:
				if cycle := visit(next); cycle != nil {
					return cycle
				}
			}
		}
		path = path[:len(path)-1]
		state[level] = done
		return nil
	}
	for _, level := range slices.Sorted(maps.Keys(levels)) {
		if state[level] == unvisited {
			if cycle := visit(level); cycle != nil {
				return cycle
			}
		}
	}
	return nil
}
