package controllers

import (
	"context"

	"fmt"
	"strings"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
)

// levelsFact is what the access levels the groups require resolved to.
type levelsFact struct {
	// resolved holds each level that resolved, by the reference as written; nil when the pass
	// did not get as far as resolving.
	resolved map[string]resolvedLevel
	// missing is a reference to a level that does not exist; notReady an AccessLevel object
	// that is not Ready yet.
	missing, notReady string
}

// resolvedLevel is one level as found: its full name, title and meaning, and, when the pass
// already holds it (read from Google, or planned from a manifest), its definition.
type resolvedLevel struct {
	name, title, meaning string
	definition           *acmpb.AccessLevel
	// planned: the definition is what a manifest would create, not what Google holds.
	planned bool
}

// resolveAccessLevels resolves every access level the groups require before any IAM write: an
// AccessLevel object must exist and be Ready (otherwise the pass waits for it), a full name must
// exist in Access Context Manager (otherwise AccessLevelNotFound). IAM accepts a condition naming a level
// that does not exist, and it then holds for nobody: that silent lock-out is what this prevents.
// A group whose level is gone gets no access (its binding is removed with the other removals);
// the lockdown runs as after every stall.
func (r *ProtectedServiceReconciler) resolveAccessLevels(ctx context.Context, s *scope) *outcome {
	refs := levelRefs(s.ps)
	s.facts.levels = levelsFact{resolved: map[string]resolvedLevel{}}
	var missing, pending *outcome
	for _, ref := range refs {
		level, out := r.resolveLevel(ctx, ref)
		switch {
		case out == nil:
			s.facts.levels.resolved[ref] = level
		case out.reason == iapv1alpha1.ReasonAccessLevelNotFound:
			if missing == nil {
				s.facts.levels.missing, missing = ref, out
			}
		default:
			if out.reason == iapv1alpha1.ReasonAccessLevelNotReady && s.facts.levels.notReady == "" {
				s.facts.levels.notReady = ref
			}
			pending = worst(pending, out)
		}
	}
	// While another level merely waits or a read failed, nothing is removed: a group whose level
	// is only on its way must not lose its binding for a neighbour's typo.
	if pending != nil {
		return pending
	}
	if missing != nil {
		return r.revokeThenStall(ctx, s, missing)
	}
	return nil
}

// resolveLevel finds one level. Levels belong to the organization, not to a tenant: they are
// read as runguard itself, whatever identity the namespace's calls use.
func (r *ProtectedServiceReconciler) resolveLevel(ctx context.Context, ref string) (resolvedLevel, *outcome) {
	if !isFullLevelName(ref) && r.planOnly {
		return r.plannedLevel(ref)
	}
	if !isFullLevelName(ref) {
		al, out := readyLevel(ctx, r.Client, ref)
		if out != nil {
			return resolvedLevel{}, out
		}
		title := al.Spec.Title
		if title == "" {
			title = al.Name
		}
		return resolvedLevel{name: al.Status.Name, title: title, meaning: al.Status.Meaning}, nil
	}
	level, err := r.Google.AccessLevels().Get(ctx, ref)
	switch {
	case isNotFound(err):
		return resolvedLevel{}, stall(iapv1alpha1.ReasonAccessLevelNotFound, err)
	case err != nil:
		return resolvedLevel{}, googleFailure(err)
	}
	return resolvedLevel{name: ref, title: level.GetTitle(), meaning: accesslevel.Describe(level), definition: level}, nil
}

// plannedLevel resolves an AccessLevel object for runguard plan from the objects it was given: as
// it is when Ready, as it would be created otherwise. One it was not given is missing: the
// change would wait for a level nobody defines.
func (r *ProtectedServiceReconciler) plannedLevel(ref string) (resolvedLevel, *outcome) {
	al, ok := r.planLevels[ref]
	if !ok {
		return resolvedLevel{}, stall(iapv1alpha1.ReasonAccessLevelNotFound, fmt.Errorf("AccessLevel %s is neither in the manifests nor in the cluster", ref))
	}
	title := al.Spec.Title
	if title == "" {
		title = al.Name
	}
	if levelReady(al) {
		return resolvedLevel{name: al.Status.Name, title: title, meaning: al.Status.Meaning}, nil
	}
	levels := &AccessLevelReconciler{Options: r.Options}
	s := &levelScope{al: al}
	if out := levels.resolveLevelName(context.Background(), s); out != nil {
		return resolvedLevel{}, out
	}
	level := accesslevel.Build(levelSpec(al), s.name, levels.owner(al))
	return resolvedLevel{name: s.name, title: title, meaning: accesslevel.Describe(level), definition: level, planned: true}, nil
}

// levelName is the full name a reference resolved to; ok is false for one that did not resolve.
func (f levelsFact) levelName(ref string) (string, bool) {
	if l, ok := f.resolved[ref]; ok {
		return l.name, true
	}
	return "", false
}

// groupLevels says, per access group that requires levels, what they mean (status.accessLevels).
func groupLevels(ps *iapv1alpha1.ProtectedService, f levelsFact) []iapv1alpha1.GroupAccessLevels {
	var out []iapv1alpha1.GroupAccessLevels
	for _, g := range ps.Spec.AccessGroups {
		if g.Context == nil || len(g.Context.AccessLevels) == 0 {
			continue
		}
		gl := iapv1alpha1.GroupAccessLevels{Group: g.Name}
		var parts []string
		for _, ref := range g.Context.AccessLevels {
			l, ok := f.resolved[string(ref)]
			if !ok {
				parts = append(parts, string(ref)+" (not resolved)")
				continue
			}
			gl.Levels = append(gl.Levels, iapv1alpha1.ResolvedAccessLevel{Ref: string(ref), Name: l.name, Title: l.title, Meaning: l.meaning})
			parts = append(parts, fmt.Sprintf("%s (%s)", ref, l.meaning))
		}
		gl.Summary = fmt.Sprintf("%s: %s from %s", g.Name, countMembers(len(g.Members)), strings.Join(parts, " and "))
		out = append(out, gl)
	}
	return out
}

func countMembers(n int) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}

// objectsRequiringLevel maps a changed AccessLevel to the ProtectedServices that require it, by
// its name or by its level's full name.
func (r *ProtectedServiceReconciler) objectsRequiringLevel(ctx context.Context, o client.Object) []reconcile.Request {
	al := o.(*iapv1alpha1.AccessLevel)
	var out []reconcile.Request
	for _, ref := range []string{al.Name, al.Status.Name} {
		out = append(out, r.objectsRequiringRef(ctx, ref)...)
	}
	return out
}

// objectsRequiringRef lists the ProtectedServices that require the level ref, as written.
func (r *ProtectedServiceReconciler) objectsRequiringRef(ctx context.Context, ref string) []reconcile.Request {
	if ref == "" {
		return nil
	}
	var list iapv1alpha1.ProtectedServiceList
	if err := r.Client.List(ctx, &list, client.MatchingFields{levelRefIndex: ref}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, ps := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ps.Namespace, Name: ps.Name}})
	}
	return out
}

// levelUsable lets through the AccessLevel changes its users care about: it became Ready or not,
// or its name or meaning changed. Its other status writes wake nobody.
func levelUsable() func(event.UpdateEvent) bool {
	return func(e event.UpdateEvent) bool {
		before, after := e.ObjectOld.(*iapv1alpha1.AccessLevel), e.ObjectNew.(*iapv1alpha1.AccessLevel)
		return levelReady(before) != levelReady(after) || before.Status.Name != after.Status.Name ||
			before.Status.Meaning != after.Status.Meaning
	}
}
