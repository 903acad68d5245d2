package manifest

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// inFieldOrder orders the errors of one validation pass as the API server reports them when it
// happens to visit each object's fields in alphabetical order. The validators walk objects in Go
// map order, so the server's order of errors at sibling fields changes from one request to the
// next; this is the one order that does not, so `runguard plan` prints the same text each time,
// text the API server also gives. Errors at one field keep the validator's order, and errors at
// an object come before those inside it, as the validators report them.
//
// requiredLast is for the OpenAPI pass: kube-openapi reports a missing required field after
// the fields the object has.
func inFieldOrder(errs field.ErrorList, requiredLast bool) field.ErrorList {
	keys := make(map[*field.Error][]pathElement, len(errs))
	for _, e := range errs {
		key := parsePath(e.Field)
		if requiredLast && e.Type == field.ErrorTypeRequired && len(key) > 0 {
			key = append(key[:len(key)-1], pathElement{afterFields: true})
		}
		keys[e] = key
	}
	slices.SortStableFunc(errs, func(a, b *field.Error) int { return comparePaths(keys[a], keys[b]) })
	return errs
}

// pathElement is one step of a field path: a field name, a list index, or the place after every
// field of an object.
type pathElement struct {
	name        string
	index       int
	isIndex     bool
	afterFields bool
}

// parsePath splits a field.Path string, "spec.accessGroups[0].members[1]", into its steps.
func parsePath(p string) []pathElement {
	var steps []pathElement
	for p != "" {
		switch p[0] {
		case '.':
			p = p[1:]
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				end = len(p)
			}
			inside := p[1:end]
			if n, err := strconv.Atoi(inside); err == nil {
				steps = append(steps, pathElement{index: n, isIndex: true})
			} else {
				steps = append(steps, pathElement{name: inside})
			}
			p = p[min(end+1, len(p)):]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			steps = append(steps, pathElement{name: p[:end]})
			p = p[end:]
		}
	}
	return steps
}

// comparePaths orders paths depth first: a path before the paths inside it, list items by index,
// fields by name, and the place after every field last.
func comparePaths(a, b []pathElement) int {
	for i := range min(len(a), len(b)) {
		if c := compareElements(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func compareElements(a, b pathElement) int {
	switch {
	case a.afterFields || b.afterFields:
		if a.afterFields && b.afterFields {
			return 0
		}
		if a.afterFields {
			return 1
		}
		return -1
	case a.isIndex && b.isIndex:
		return cmp.Compare(a.index, b.index)
	case a.isIndex != b.isIndex:
		if a.isIndex {
			return -1
		}
		return 1
	}
	return strings.Compare(a.name, b.name)
}
