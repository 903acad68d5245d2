package reach

import (
	"slices"
	"strings"
)

// truth is Kleene's three-valued logic, ordered so that AND is the minimum
// and OR the maximum.
type truth uint8

const (
	isFalse truth = iota
	isUnknown
	isTrue
)

func (t truth) not() truth { return isTrue - t }

// judgement is a truth with its reasons: what would decide it when it is
// unknown, why it does not hold when it is false, and what was taken as
// given to reach it.
type judgement struct {
	truth   truth
	depends []string
	failed  string
	assumed []string
}

func certain(ok bool, failed string) judgement {
	if ok {
		return judgement{truth: isTrue}
	}
	return judgement{truth: isFalse, failed: failed}
}

func undecided(depends ...string) judgement {
	return judgement{truth: isUnknown, depends: depends}
}

// allOf is the AND of parts; an empty AND holds. The reasons kept are the
// ones that explain the result: the first failure, or what decides the
// undecided parts.
func allOf(parts []judgement) judgement {
	out := judgement{truth: isTrue}
	for _, p := range parts {
		out.truth = min(out.truth, p.truth)
		out.assumed = appendNew(out.assumed, p.assumed...)
	}
	for _, p := range parts {
		switch {
		case out.truth == isFalse && p.truth == isFalse && out.failed == "":
			out.failed = p.failed
		case out.truth == isUnknown && p.truth == isUnknown:
			out.depends = appendNew(out.depends, p.depends...)
		}
	}
	return out
}

// anyOf is the OR of parts; an empty OR does not hold. When it fails, every
// part failed, and the reason says each.
func anyOf(parts []judgement) judgement {
	out := judgement{truth: isFalse}
	var failures []string
	for _, p := range parts {
		out.truth = max(out.truth, p.truth)
		out.assumed = appendNew(out.assumed, p.assumed...)
		if p.truth == isFalse && p.failed != "" {
			failures = appendNew(failures, p.failed)
		}
	}
	switch out.truth {
	case isFalse:
		out.failed = strings.Join(failures, "; and ")
	case isUnknown:
		for _, p := range parts {
			if p.truth == isUnknown {
				out.depends = appendNew(out.depends, p.depends...)
			}
		}
	}
	return out
}

// negated is NOT j; failed says what held that must not.
func negated(j judgement, heldWhat string) judgement {
	out := judgement{truth: j.truth.not(), depends: j.depends, assumed: j.assumed}
	if out.truth == isFalse {
		out.failed = heldWhat
	}
	return out
}

// appendNew appends the values not already in list, keeping order.
func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		if v != "" && !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}
