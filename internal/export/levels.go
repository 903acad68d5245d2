package export

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
)

// Read is what reading one access level gave: the level, or why it could not be read.
type Read struct {
	Level  *accesscontextmanagerpb.AccessLevel
	Unread *Unread
}

// Unread says why a level could not be read.
type Unread struct {
	// NotFound: Access Context Manager has no level of that name.
	NotFound bool
	// Permission is the permission Caller lacks, when that is why.
	Permission, Caller string
	// Err is the failure as the read returned it.
	Err error
}

// LevelManifest is one access level the exported services require: an AccessLevel in Observe
// mode, or, when the level could not be read, only the notes saying why.
type LevelManifest struct {
	// FullName is accessPolicies/N/accessLevels/SHORT.
	FullName string
	// RequiredBy are the exported objects and groups that require it, for the header.
	RequiredBy []string
	// Object is nil when the level could not be read.
	Object *iapv1alpha1.AccessLevel
	Notes  []string
}

// maxLevelDescription is the CRD's limit on spec.description, in characters: the rest of ACM's
// description is kept for runguard's mark.
const maxLevelDescription = 700

// levelObjectName is the CRD's rule for an AccessLevel's name that is also its level's.
var levelObjectName = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,48}[a-z0-9])?$`)

// Levels exports the access levels the services' groups require — declared groups and the
// commented-out ones — each read once with read, in the order of their full names. The services
// keep naming the levels by full name, so they mean exactly what Google holds whether or not the
// AccessLevel manifests are applied. A service requiring a level that does not exist gets a note.
func Levels(services []Manifest, read func(fullName string) Read, opts Options) []LevelManifest {
	required := requiredLevels(services)
	taken := map[string]bool{}
	var out []LevelManifest
	for _, name := range slices.Sorted(maps.Keys(required)) {
		r := read(name)
		req := required[name]
		lm := LevelManifest{FullName: name, RequiredBy: req.by}
		if r.Unread == nil {
			lm.Object, lm.Notes = levelObject(name, r.Level, opts, taken)
			out = append(out, lm)
			continue
		}
		lm.Notes = unreadNotes(r.Unread)
		if r.Unread.NotFound {
			noteMissing(services, name, req)
		}
		out = append(out, lm)
	}
	return out
}

// noteMissing tells each service requiring a level that does not exist what that means for it.
func noteMissing(services []Manifest, name string, req *requirement) {
	for _, i := range slices.Sorted(maps.Keys(req.services)) {
		consequence := "a commented-out group requiring it, moved into the spec, would stall the object with AccessLevelNotFound"
		if req.services[i] {
			consequence = "runguard plan and the object's status say AccessLevelNotFound until the level exists or no group requires it"
		}
		services[i].note("the access level %s does not exist in Access Context Manager: a grant requiring it admits nobody today; %s.", name, consequence)
	}
}

// requirement is who requires one level: "ProtectedService ns/name (group g)", and the indexes
// of those services, true when a declared group (not only a commented-out one) requires it.
type requirement struct {
	by       []string
	services map[int]bool
}

// requiredLevels are the full names the services' groups require, with who requires each.
func requiredLevels(services []Manifest) map[string]*requirement {
	out := map[string]*requirement{}
	add := func(i int, g iapv1alpha1.AccessGroup, declared bool) {
		if g.Context == nil {
			return
		}
		o := services[i].Object
		group := g.Name
		if !declared {
			group += ", commented out"
		}
		who := fmt.Sprintf("ProtectedService %s (group %s)", strings.TrimPrefix(o.Namespace+"/"+o.Name, "/"), group)
		for _, l := range g.Context.AccessLevels {
			r, ok := out[string(l)]
			if !ok {
				r = &requirement{services: map[int]bool{}}
				out[string(l)] = r
			}
			if !slices.Contains(r.by, who) {
				r.by = append(r.by, who)
			}
			r.services[i] = r.services[i] || declared
		}
	}
	for i, m := range services {
		for _, g := range m.Object.Spec.AccessGroups {
			add(i, g, true)
		}
		for _, g := range m.Foreign {
			add(i, g, false)
		}
	}
	return out
}

func unreadNotes(u *Unread) []string {
	switch {
	case u.NotFound:
		return []string{"it does not exist in Access Context Manager, so nothing is exported for it: a condition naming it admits nobody."}
	case u.Permission != "":
		return []string{fmt.Sprintf("not exported: %s lacks the permission %s on it (roles/accesscontextmanager.policyReader on the access policy holds it).", u.Caller, u.Permission)}
	}
	return []string{fmt.Sprintf("not exported: it could not be read: %v", u.Err)}
}

// levelObject is the AccessLevel that reproduces level, in Observe mode, and the notes on it.
// taken holds the object names already given, so each level gets its own.
func levelObject(fullName string, level *accesscontextmanagerpb.AccessLevel, opts Options, taken map[string]bool) (*iapv1alpha1.AccessLevel, []string) {
	policy, short, _ := strings.Cut(fullName, "/accessLevels/")
	spec, owner, owned := accesslevel.FromProto(level)
	var notes []string
	name := strings.ToLower(strings.ReplaceAll(short, "_", "-"))
	switch {
	case owned && owner.Cluster == opts.Cluster:
		notes = append(notes, fmt.Sprintf("runguard of this cluster (%s) manages this level as AccessLevel %s: it is exported under that name, so applying it updates that object — including mode Observe; keep the object's own mode if it differs. What Google does not hold (deletionPolicy, annotations) comes from the defaults: compare with the object before applying.", owner.Cluster, owner.Name))
		name = owner.Name
	case owned:
		notes = append(notes, fmt.Sprintf("runguard of cluster %s manages this level as AccessLevel %s: runguard of another cluster never edits or adopts it, and an AccessLevel for it there is Stalled with AccessLevelNotOwned (Google unchanged). If that cluster is the one you export for, run again with --cluster-name %s.", owner.Cluster, owner.Name, owner.Cluster))
		name = owner.Name
	default:
		notes = append(notes, fmt.Sprintf("no runguard owns this level (its description has no runguard mark): runguard will not edit it. Applied as it is, nothing changes in Google and the object is Stalled with AccessLevelNotOwned. To have runguard manage it, set mode: Enforce AND annotate it %s: \"true\" (docs/access-levels.md).", iapv1alpha1.AnnotationAdoptLevel))
	}
	if !levelObjectName.MatchString(name) || taken[name] {
		derived := name
		sum := sha256.Sum256([]byte(fullName))
		name = "level-" + hex.EncodeToString(sum[:])[:12]
		notes = append(notes, fmt.Sprintf("%q cannot name this object (an AccessLevel's name is at most 50 lowercase letters, digits and '-', starting with a letter, and unique): it is named %s, from a hash of the level's full name; spec.levelName names the level.", derived, name))
	}
	taken[name] = true
	notes = append(notes, "the ProtectedServices name this level by its full name: they mean the same whether or not this object is applied.")
	if err := accesslevel.Validate(spec); err != nil {
		notes = append(notes, fmt.Sprintf("Google holds a level runguard would refuse to write (%v): applied, this object is Stalled until the spec is one runguard accepts.", err))
	}
	if n := utf8.RuneCountInString(spec.Description); n > maxLevelDescription {
		notes = append(notes, fmt.Sprintf("the description has %d characters; an AccessLevel holds %d (runguard keeps the rest of ACM's room for its mark), so the API server refuses this object until spec.description is shortened.", n, maxLevelDescription))
	}
	return &iapv1alpha1.AccessLevel{
		TypeMeta:   metav1.TypeMeta{APIVersion: iapv1alpha1.GroupVersion.String(), Kind: "AccessLevel"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       levelSpec(spec, policy, short),
	}, notes
}

// levelSpec is the API's form of a level's plain spec, in Observe mode.
func levelSpec(s accesslevel.Spec, policy, short string) iapv1alpha1.AccessLevelSpec {
	out := iapv1alpha1.AccessLevelSpec{AccessPolicy: policy, LevelName: short, Title: s.Title,
		Description: s.Description, Mode: iapv1alpha1.ModeObserve}
	if s.Basic == nil {
		out.Custom = &iapv1alpha1.CustomLevel{Expression: s.Custom}
		return out
	}
	out.Basic = &iapv1alpha1.BasicLevel{CombiningFunction: iapv1alpha1.CombiningFunction(s.Basic.CombiningFunction)}
	for _, c := range s.Basic.Conditions {
		out.Basic.Conditions = append(out.Basic.Conditions, iapv1alpha1.LevelCondition{
			IPSubnetworks:        typed[iapv1alpha1.IPSubnetwork](c.IPSubnetworks),
			Regions:              typed[iapv1alpha1.RegionCode](c.Regions),
			Members:              typed[iapv1alpha1.LevelMember](c.Members),
			DevicePolicy:         devicePolicy(c.DevicePolicy),
			RequiredAccessLevels: typed[iapv1alpha1.AccessLevelRef](c.RequiredAccessLevels),
			Negate:               c.Negate,
		})
	}
	return out
}

func devicePolicy(p *accesslevel.DevicePolicy) *iapv1alpha1.DevicePolicy {
	if p == nil {
		return nil
	}
	out := &iapv1alpha1.DevicePolicy{
		RequireScreenLock: p.RequireScreenLock, RequireCorpOwned: p.RequireCorpOwned, RequireAdminApproval: p.RequireAdminApproval,
		AllowedEncryptionStatuses:     typed[iapv1alpha1.EncryptionStatus](p.AllowedEncryptionStatuses),
		AllowedDeviceManagementLevels: typed[iapv1alpha1.DeviceManagementLevel](p.AllowedDeviceManagementLevels),
	}
	for _, o := range p.OSConstraints {
		out.OSConstraints = append(out.OSConstraints, iapv1alpha1.OSConstraint{
			OSType: o.OSType, MinimumVersion: o.MinimumVersion, RequireVerifiedChromeOS: o.RequireVerifiedChromeOS})
	}
	return out
}

// typed converts plain strings to a string type of the API; nil stays nil.
func typed[T ~string](in []string) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i, s := range in {
		out[i] = T(s)
	}
	return out
}
