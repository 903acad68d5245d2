package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
)

const (
	// levelNameIndex indexes AccessLevels by the full name of their level in Google.
	levelNameIndex = "status.name"
	// levelRefIndex indexes ProtectedServices by every access level their groups require, as
	// written: AccessLevel object names and full names.
	levelRefIndex = "spec.accessGroups.context.accessLevels"
)

// registerLevelIndexes adds the indexes that tie ProtectedServices to the levels they require.
func registerLevelIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &iapv1alpha1.AccessLevel{}, levelNameIndex, func(o client.Object) []string {
		if name := o.(*iapv1alpha1.AccessLevel).Status.Name; name != "" {
			return []string{name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index AccessLevels by level name: %w", err)
	}
	if err := indexer.IndexField(ctx, &iapv1alpha1.ProtectedService{}, levelRefIndex, func(o client.Object) []string {
		return levelRefs(o.(*iapv1alpha1.ProtectedService))
	}); err != nil {
		return fmt.Errorf("index ProtectedServices by access level: %w", err)
	}
	return nil
}

// levelRefs are the access levels an object's groups require, as written, each once.
func levelRefs(ps *iapv1alpha1.ProtectedService) []string {
	var refs []string
	for _, g := range ps.Spec.AccessGroups {
		if g.Context == nil {
			continue
		}
		for _, l := range g.Context.AccessLevels {
			if !slices.Contains(refs, string(l)) {
				refs = append(refs, string(l))
			}
		}
	}
	return refs
}

// isFullLevelName tells a full Access Context Manager name from an AccessLevel object's name
// (the CRD admits only these two forms).
func isFullLevelName(ref string) bool { return strings.HasPrefix(ref, "accessPolicies/") }

// policyOf is the policy part of a full level name; "" for anything else.
func policyOf(fullName string) string {
	policy, _, ok := strings.Cut(fullName, "/accessLevels/")
	if !ok {
		return ""
	}
	return policy
}

// readyLevel is the AccessLevel object named object, once it is Ready. One that does not exist
// yet is waited for like one not Ready, as a Cloud Run service not deployed yet is: GitOps tools
// apply a ProtectedService and the AccessLevel it requires in any order, and the AccessLevel's
// creation and readiness wake the objects that require it.
func readyLevel(ctx context.Context, c client.Client, object string) (*iapv1alpha1.AccessLevel, *outcome) {
	var al iapv1alpha1.AccessLevel
	if err := c.Get(ctx, types.NamespacedName{Name: object}, &al); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, wait(iapv1alpha1.ReasonAccessLevelNotReady, 0)
		}
		return nil, transient(err)
	}
	if !levelReady(&al) {
		return nil, wait(iapv1alpha1.ReasonAccessLevelNotReady, 0)
	}
	return &al, nil
}

// levelReady: the object's level exists in Google as declared for its current generation.
func levelReady(al *iapv1alpha1.AccessLevel) bool {
	c := meta.FindStatusCondition(al.Status.Conditions, iapv1alpha1.ConditionReady)
	return c != nil && c.Status == "True" && c.ObservedGeneration == al.Generation && al.Status.Name != ""
}

// requiredObjects are the AccessLevel objects a level requires by name.
func requiredObjects(al *iapv1alpha1.AccessLevel) []string {
	if al.Spec.Basic == nil {
		return nil
	}
	var out []string
	for _, c := range al.Spec.Basic.Conditions {
		for _, ref := range c.RequiredAccessLevels {
			if !isFullLevelName(string(ref)) {
				out = append(out, string(ref))
			}
		}
	}
	return out
}

// levelUsers are the ProtectedServices (namespace/name) that require the object's level, by the
// object's name or by the level's full name.
func (r *AccessLevelReconciler) levelUsers(ctx context.Context, al *iapv1alpha1.AccessLevel) ([]string, error) {
	var users []string
	for _, ref := range []string{al.Name, al.Status.Name} {
		if ref == "" {
			continue
		}
		var list iapv1alpha1.ProtectedServiceList
		if err := r.Client.List(ctx, &list, client.MatchingFields{levelRefIndex: ref}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for _, ps := range list.Items {
			if key := ps.Namespace + "/" + ps.Name; !slices.Contains(users, key) {
				users = append(users, key)
			}
		}
	}
	slices.Sort(users)
	return users, nil
}

// levelsRequiring maps a changed AccessLevel to the levels that require it.
func (r *AccessLevelReconciler) levelsRequiring(ctx context.Context, o client.Object) []reconcile.Request {
	changed := o.(*iapv1alpha1.AccessLevel)
	var list iapv1alpha1.AccessLevelList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, al := range list.Items {
		if slices.Contains(requiredObjects(&al), changed.Name) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: al.Name}})
		}
	}
	return out
}

// levelsReferencedBy maps a changed ProtectedService to the deleted AccessLevels it names, so a
// level waiting for its last user goes as soon as that user lets go.
func (r *AccessLevelReconciler) levelsReferencedBy(ctx context.Context, o client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, ref := range levelRefs(o.(*iapv1alpha1.ProtectedService)) {
		var list iapv1alpha1.AccessLevelList
		var err error
		if isFullLevelName(ref) {
			err = r.Client.List(ctx, &list, client.MatchingFields{levelNameIndex: ref}, client.UnsafeDisableDeepCopy)
		} else {
			var al iapv1alpha1.AccessLevel
			if err = r.Client.Get(ctx, types.NamespacedName{Name: ref}, &al); err == nil {
				list.Items = append(list.Items, al)
			}
		}
		if err != nil {
			continue
		}
		for _, al := range list.Items {
			if !al.DeletionTimestamp.IsZero() {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: al.Name}})
			}
		}
	}
	return out
}

// levelSpec converts the API's AccessLevel into the plain values internal/accesslevel decides
// on. Required levels stay as written; the pass resolves them.
func levelSpec(al *iapv1alpha1.AccessLevel) accesslevel.Spec {
	title := al.Spec.Title
	if title == "" {
		title = al.Name
	}
	out := accesslevel.Spec{Title: title, Description: al.Spec.Description}
	if al.Spec.Custom != nil {
		out.Custom = al.Spec.Custom.Expression
	}
	if b := al.Spec.Basic; b != nil {
		out.Basic = &accesslevel.Basic{CombiningFunction: string(b.CombiningFunction)}
		for _, c := range b.Conditions {
			out.Basic.Conditions = append(out.Basic.Conditions, levelCondition(c))
		}
	}
	return out
}

func levelCondition(c iapv1alpha1.LevelCondition) accesslevel.Condition {
	out := accesslevel.Condition{
		IPSubnetworks: strs(c.IPSubnetworks), Regions: strs(c.Regions), Members: strs(c.Members),
		RequiredAccessLevels: strs(c.RequiredAccessLevels), Negate: c.Negate,
	}
	if d := c.DevicePolicy; d != nil {
		out.DevicePolicy = &accesslevel.DevicePolicy{
			RequireScreenLock: d.RequireScreenLock, RequireCorpOwned: d.RequireCorpOwned,
			RequireAdminApproval:          d.RequireAdminApproval,
			AllowedEncryptionStatuses:     strs(d.AllowedEncryptionStatuses),
			AllowedDeviceManagementLevels: strs(d.AllowedDeviceManagementLevels),
		}
		for _, os := range d.OSConstraints {
			out.DevicePolicy.OSConstraints = append(out.DevicePolicy.OSConstraints, accesslevel.OSConstraint{
				OSType: os.OSType, MinimumVersion: os.MinimumVersion, RequireVerifiedChromeOS: os.RequireVerifiedChromeOS,
			})
		}
	}
	return out
}

// strs converts a list of a string type to plain strings.
func strs[S ~string](in []S) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}
