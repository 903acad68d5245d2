package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	acmpb "cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
)

// convergeLevel makes the level in Google what the object declares: it resolves the policy and
// every required level, reads the level, refuses one runguard does not own, and creates it or
// writes only the fields that differ (Observe: records them).
func (r *AccessLevelReconciler) convergeLevel(ctx context.Context, s *levelScope) *outcome {
	for _, step := range []func(context.Context, *levelScope) *outcome{
		r.resolveLevelName, r.checkPolicy, r.buildDesiredLevel, r.readLevel, r.writeLevel,
	} {
		if out := step(ctx, s); out != nil {
			return out
		}
	}
	return nil
}

// resolveLevelName decides the level's full name: its policy (the object's, or the one it was
// created in, or --access-policy) and its short name.
func (r *AccessLevelReconciler) resolveLevelName(_ context.Context, s *levelScope) *outcome {
	policy := s.al.Spec.AccessPolicy
	if policy == "" {
		policy = policyOf(s.al.Status.Name)
	}
	if policy == "" {
		policy = r.AccessPolicy
	}
	if policy == "" {
		return stall(iapv1alpha1.ReasonAccessPolicyUnset, nil)
	}
	short := s.al.Spec.LevelName
	if short == "" {
		short = accesslevel.ShortName(s.al.Name)
	}
	s.name = policy + "/accessLevels/" + short
	return nil
}

// checkPolicy refuses a policy that does not exist or is scoped to a folder or project: IAP
// honours only the levels of the organization's policy.
func (r *AccessLevelReconciler) checkPolicy(ctx context.Context, s *levelScope) *outcome {
	policy := policyOf(s.name)
	if _, ok := r.checkedPolicies.Load(policy); ok {
		return nil
	}
	p, err := r.Google.AccessLevels().Policy(ctx, policy)
	switch {
	case isNotFound(err):
		return stall(iapv1alpha1.ReasonAccessPolicyNotFound, err)
	case err != nil:
		return googleFailure(err)
	case len(p.GetScopes()) > 0:
		return stall(iapv1alpha1.ReasonScopedAccessPolicy, errors.New(p.GetScopes()[0]))
	}
	r.checkedPolicies.Store(policy, true)
	return nil
}

// buildDesiredLevel resolves the required levels, checks the expression and cycles, and builds
// the level to hold in Google.
func (r *AccessLevelReconciler) buildDesiredLevel(ctx context.Context, s *levelScope) *outcome {
	spec := levelSpec(s.al)
	if spec.Custom != "" {
		if err := accesslevel.ValidateCustom(spec.Custom); err != nil {
			return stall(iapv1alpha1.ReasonInvalidExpression, err)
		}
	}
	if spec.Basic != nil {
		if out := r.checkCycle(ctx, s); out != nil {
			return out
		}
		for i := range spec.Basic.Conditions {
			c := &spec.Basic.Conditions[i]
			for j, ref := range c.RequiredAccessLevels {
				name, out := r.resolveRequired(ctx, s, ref)
				if out != nil {
					return out
				}
				c.RequiredAccessLevels[j] = name
			}
		}
	}
	// What the schema cannot check (ACM's limits, resolved names) is checked before anything is sent.
	if err := accesslevel.Validate(spec); err != nil {
		return stall(iapv1alpha1.ReasonInvalidCondition, err)
	}
	if !accesslevel.DescriptionFits(spec.Description, r.owner(s.al)) {
		return stall(iapv1alpha1.ReasonInvalidCondition, fmt.Errorf("spec.description with runguard's mark for AccessLevel %s exceeds %d bytes: shorten it", s.al.Name, accesslevel.MaxDescriptionLength))
	}
	s.desired = accesslevel.Build(spec, s.name, r.owner(s.al))
	return nil
}

// resolveRequired turns a reference into a full level name: an AccessLevel object must be Ready,
// a full name must exist in Google.
func (r *AccessLevelReconciler) resolveRequired(ctx context.Context, s *levelScope, ref string) (string, *outcome) {
	if isFullLevelName(ref) {
		_, err := r.Google.AccessLevels().Get(ctx, ref)
		if isNotFound(err) {
			s.facts.missing = ref
			return "", stall(iapv1alpha1.ReasonAccessLevelNotFound, err)
		}
		if err != nil {
			return "", googleFailure(err)
		}
		return ref, nil
	}
	al, out := readyLevel(ctx, r.Client, ref)
	if out != nil {
		s.facts.notReady = ref
		return "", out
	}
	return al.Status.Name, nil
}

// checkCycle refuses a level that requires itself through AccessLevel objects.
func (r *AccessLevelReconciler) checkCycle(ctx context.Context, s *levelScope) *outcome {
	var list iapv1alpha1.AccessLevelList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return transient(err)
	}
	graph := map[string][]string{}
	for _, al := range list.Items {
		graph[al.Name] = requiredObjects(&al)
	}
	graph[s.al.Name] = requiredObjects(s.al)
	// Only what this level reaches: a cycle elsewhere must not hide one through this level.
	if cycle := accesslevel.Cycle(reachableFrom(graph, s.al.Name)); slices.Contains(cycle, s.al.Name) {
		s.facts.cycle = cycle
		return stall(iapv1alpha1.ReasonReferenceCycle, nil)
	}
	return nil
}

// readLevel reads the level and refuses one runguard did not create, unless told to adopt it.
func (r *AccessLevelReconciler) readLevel(ctx context.Context, s *levelScope) *outcome {
	actual, err := r.Google.AccessLevels().Get(ctx, s.name)
	if err != nil && !isNotFound(err) {
		return googleFailure(err)
	}
	s.actual = actual
	if actual == nil {
		return nil
	}
	owner, marked := accesslevel.OwnerOf(actual)
	switch {
	case marked && owner == r.owner(s.al):
		return nil
	case !marked && s.al.Annotations[iapv1alpha1.AnnotationAdoptLevel] == "true":
		return nil
	case marked:
		s.facts.otherOwner = &owner
	}
	if s.al.Spec.Mode == iapv1alpha1.ModeObserve {
		// Observing writes nothing, so a level of another's is only looked at: runguard export
		// offers such levels as Observe objects, which must not read as failures.
		s.facts.notOwned = true
		return nil
	}
	return stall(iapv1alpha1.ReasonAccessLevelNotOwned, nil)
}

// writeLevel creates the level or writes the fields that differ; in Observe mode it only records
// them.
func (r *AccessLevelReconciler) writeLevel(ctx context.Context, s *levelScope) *outcome {
	if s.actual == nil {
		s.facts.mask = []string{"create"}
	} else {
		s.facts.mask = accesslevel.Mask(s.desired, s.actual)
	}
	if len(s.facts.mask) == 0 {
		return nil
	}
	if s.al.Spec.Mode == iapv1alpha1.ModeObserve {
		if s.actual == nil {
			// Nothing to require yet: ProtectedServices must not bind a level that does not exist.
			return wait(iapv1alpha1.ReasonChangesPending, r.ResyncPeriod)
		}
		return nil
	}
	var written *acmpb.AccessLevel
	var err error
	if s.actual == nil {
		written, err = r.Google.AccessLevels().Create(ctx, s.desired)
		s.facts.created = err == nil
	} else {
		written, err = r.Google.AccessLevels().Update(ctx, s.desired, s.facts.mask)
		s.facts.updated = err == nil
	}
	if err != nil {
		return googleFailure(err)
	}
	s.actual = written
	return nil
}

// cleanUpLevel deletes the level runguard made (deletionPolicy Delete, Enforce) once no
// ProtectedService requires it; a level it does not own, or one abandoned, stays in Google.
func (r *AccessLevelReconciler) cleanUpLevel(ctx context.Context, s *levelScope) *outcome {
	s.name = s.al.Status.Name
	if s.al.Spec.DeletionPolicy == iapv1alpha1.DeletionPolicyAbandon || s.al.Spec.Mode == iapv1alpha1.ModeObserve || s.name == "" {
		s.facts.deleted = true
		return nil
	}
	users, err := r.levelUsers(ctx, s.al)
	if err != nil {
		return transient(err)
	}
	if len(users) > 0 {
		s.facts.usedBy = users
		return wait(iapv1alpha1.ReasonInUse, r.ResyncPeriod)
	}
	actual, err := r.Google.AccessLevels().Get(ctx, s.name)
	if err != nil && !isNotFound(err) {
		return googleFailure(err)
	}
	if owner, marked := accesslevel.OwnerOf(actual); actual != nil && marked && owner == r.owner(s.al) {
		if err := r.Google.AccessLevels().Delete(ctx, s.name); err != nil && !isNotFound(err) {
			return googleFailure(err)
		}
	}
	s.facts.deleted = true
	return nil
}

func (r *AccessLevelReconciler) owner(al *iapv1alpha1.AccessLevel) accesslevel.Owner {
	return accesslevel.Owner{Cluster: r.ClusterName, Name: al.Name}
}

// reachableFrom is the part of graph reachable from start.
func reachableFrom(graph map[string][]string, start string) map[string][]string {
	out := map[string][]string{}
	queue := []string{start}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, seen := out[name]; seen {
			continue
		}
		out[name] = graph[name]
		queue = append(queue, graph[name]...)
	}
	return out
}
