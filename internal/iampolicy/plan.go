package iampolicy

import (
	"errors"
	"fmt"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"
)

// PlanAccess computes the policy that grants exactly what d declares, in
// d.Mode, starting from current (read with requestedPolicyVersion 3).
//
// The unit runguard owns is a binding of d.Role whose condition carries
// d.Owner's marker. Such a binding is kept and its members made equal to
// the declared ones when its group is still declared with the same
// compiled expression; otherwise it is removed. Declared groups without a
// binding get a new one, appended at the end. Everything else is copied
// byte-for-byte, in order: other roles, audit configs, bindings marked by
// other owners (listed in Plan.Conflicts) and, in Merge, unmarked bindings
// of d.Role. Exclusive also removes the unmarked bindings of d.Role.
//
// Errors: *InvalidConditionError for groups that cannot compile (see
// ValidateGroups), *PolicyTooLargeError when the result would break an IAM
// limit, and a plain error for an invalid owner or mode.
func PlanAccess(current *iampb.Policy, d Desired) (Plan, error) {
	if err := ValidateOwner(d.Owner); err != nil {
		return Plan{}, err
	}
	expressions, err := compileGroups(d.Groups)
	if err != nil {
		return Plan{}, err
	}
	description := markerDescription(d.Owner)
	groups := make([]*desiredGroup, len(d.Groups))
	for i, g := range d.Groups {
		c := &expr.Expr{Expression: expressions[i], Title: markerTitle(g.Name), Description: description}
		groups[i] = newDesiredGroup(g.Name, g.Members, c)
	}
	pl, err := plan(current, d, groups, false)
	if err != nil {
		return Plan{}, err
	}
	if pl.Changed {
		if err := checkLimits(pl.Policy); err != nil {
			return Plan{}, err
		}
	}
	return pl, nil
}

// PlanAccessRemovalOnly applies only the removals PlanAccess would make and
// never adds a member or a binding, so a member IAM rejects, or a group
// that no longer validates, never blocks a revocation. It is never
// rejected for size: it only shrinks the policy.
//
// A declared group whose condition does not compile keeps its existing
// marked bindings (whatever their expression), trimmed to the declared
// members; the same holds for a name declared twice.
func PlanAccessRemovalOnly(current *iampb.Policy, d Desired) (Plan, error) {
	byName := make(map[string]*desiredGroup, len(d.Groups))
	groups := make([]*desiredGroup, 0, len(d.Groups))
	for _, g := range d.Groups {
		if dg := byName[g.Name]; dg != nil {
			dg.condition = nil
			dg.addMembers(g.Members)
			continue
		}
		var c *expr.Expr
		if expression, _, err := compileExpression(g); err == nil {
			// Only the expression is compared; nothing is written.
			c = &expr.Expr{Expression: expression, Title: markerTitle(g.Name)}
		}
		dg := newDesiredGroup(g.Name, g.Members, c)
		byName[g.Name] = dg
		groups = append(groups, dg)
	}
	return plan(current, d, groups, true)
}

// desiredGroup is one declared group resolved for planning.
type desiredGroup struct {
	name      string
	condition *expr.Expr // nil: unknown (removal-only, did not compile)
	members   []string   // declared order, first spelling of each key
	keys      map[string]bool
	claimed   bool
}

func newDesiredGroup(name string, members []string, c *expr.Expr) *desiredGroup {
	dg := &desiredGroup{name: name, condition: c, keys: make(map[string]bool, len(members))}
	dg.addMembers(members)
	return dg
}

func (dg *desiredGroup) addMembers(members []string) {
	for _, m := range members {
		k := memberKey(m)
		if !dg.keys[k] {
			dg.keys[k] = true
			dg.members = append(dg.members, m)
		}
	}
}

func plan(current *iampb.Policy, d Desired, groups []*desiredGroup, removalOnly bool) (Plan, error) {
	role := d.Role
	if role == "" {
		role = AccessorRole
	}
	mode := d.Mode
	switch mode {
	case "":
		mode = Merge
	case Merge, Exclusive:
	default:
		return Plan{}, fmt.Errorf("unknown mode %q: want %q or %q", d.Mode, Merge, Exclusive)
	}
	if current == nil {
		current = &iampb.Policy{}
	}

	byName := make(map[string]*desiredGroup, len(groups))
	declared := map[string]bool{}
	for _, dg := range groups {
		byName[dg.name] = dg
		for k := range dg.keys {
			declared[k] = true
		}
	}

	p := clonePolicy(current)
	var pl Plan
	seenConflict := map[Marker]bool{}
	out := make([]*iampb.Binding, 0, len(p.Bindings)+len(groups))

	removeAll := func(b *iampb.Binding) {
		for _, m := range b.Members {
			pl.Removed = append(pl.Removed, Tuple{Role: role, Member: m, ConditionTitle: b.GetCondition().GetTitle()})
		}
	}

	for _, b := range p.Bindings {
		if b.GetRole() != role {
			out = append(out, b)
			continue
		}
		marker, marked := ParseMarker(b.GetCondition())
		switch {
		case marked && marker.Owner != d.Owner:
			if !seenConflict[marker] {
				seenConflict[marker] = true
				pl.Conflicts = append(pl.Conflicts, marker)
			}
			out = append(out, b)

		case marked:
			dg := byName[marker.Group]
			if dg == nil || dg.claimed || (dg.condition != nil && dg.condition.GetExpression() != b.GetCondition().GetExpression()) {
				// Undeclared, a duplicate, or its context changed: the old
				// condition goes; a declared group gets a fresh binding below.
				if len(b.Members) == 0 {
					out = append(out, b)
				} else {
					removeAll(b)
				}
				continue
			}
			// A removal-only group with an unknown condition may match
			// several bindings; a compiled one claims exactly one.
			dg.claimed = dg.condition != nil
			if updated := reconcileMembers(b, dg, role, removalOnly, &pl); updated != nil {
				out = append(out, updated)
			}

		case mode == Exclusive:
			if len(b.Members) == 0 {
				out = append(out, b)
			} else {
				removeAll(b)
			}

		default:
			out = append(out, b)
			if b.GetCondition() == nil {
				for _, m := range b.Members {
					if declared[memberKey(m)] {
						pl.Unrestricted = append(pl.Unrestricted, Tuple{Role: role, Member: m})
					}
				}
			}
		}
	}

	if !removalOnly {
		for _, dg := range groups {
			if dg.claimed || len(dg.members) == 0 {
				continue
			}
			nb := &iampb.Binding{
				Role:      role,
				Members:   append([]string(nil), dg.members...),
				Condition: proto.Clone(dg.condition).(*expr.Expr),
			}
			for _, m := range dg.members {
				pl.Added = append(pl.Added, Tuple{Role: role, Member: m, ConditionTitle: dg.condition.GetTitle()})
			}
			out = append(out, nb)
		}
	}

	pl.Changed = len(pl.Added) > 0 || len(pl.Removed) > 0
	if pl.Changed {
		p.Bindings = out
	}
	normalizeVersion(p, current.GetVersion())
	pl.Policy = p
	return pl, nil
}

// reconcileMembers makes b's members equal to dg's declared members: it
// keeps the declared ones in their read order and spelling (a re-cased
// member is not a change), drops the rest and, unless removalOnly, appends
// the missing ones in declared order. It returns nil when b ends up empty.
func reconcileMembers(b *iampb.Binding, dg *desiredGroup, role string, removalOnly bool, pl *Plan) *iampb.Binding {
	title := b.GetCondition().GetTitle()
	present := make(map[string]bool, len(b.Members))
	kept := b.Members[:0:0]
	for _, m := range b.Members {
		k := memberKey(m)
		if !dg.keys[k] {
			pl.Removed = append(pl.Removed, Tuple{Role: role, Member: m, ConditionTitle: title})
			continue
		}
		present[k] = true
		kept = append(kept, m)
	}
	changed := len(kept) != len(b.Members)
	if !removalOnly {
		for _, m := range dg.members {
			if !present[memberKey(m)] {
				kept = append(kept, m)
				pl.Added = append(pl.Added, Tuple{Role: role, Member: m, ConditionTitle: title})
				changed = true
			}
		}
	}
	if !changed {
		return b
	}
	if len(kept) == 0 {
		return nil
	}
	b.Members = kept
	return b
}

// IsInvalidCondition reports whether err (possibly joined) contains an
// *InvalidConditionError.
func IsInvalidCondition(err error) bool {
	var ice *InvalidConditionError
	return errors.As(err, &ice)
}
