package export_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/export"
)

const (
	corpNet  = "accessPolicies/123/accessLevels/corp_net"
	devices  = "accessPolicies/123/accessLevels/Managed_Devices"
	partners = "accessPolicies/123/accessLevels/partners"
)

// requiring is an exported service whose declared group requires declared, and whose
// commented-out group requires foreign.
func requiring(name string, declared, foreign []string) export.Manifest {
	refs := func(names []string) *iapv1alpha1.AccessContext {
		c := &iapv1alpha1.AccessContext{}
		for _, n := range names {
			c.AccessLevels = append(c.AccessLevels, iapv1alpha1.AccessLevelRef(n))
		}
		return c
	}
	return export.Manifest{
		Object: &iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: iapv1alpha1.ProtectedServiceSpec{AccessGroups: []iapv1alpha1.AccessGroup{
			{Name: "staff", Members: []iapv1alpha1.Member{"group:staff@acme.com"}, Context: refs(declared)}}}},
		Foreign: []iapv1alpha1.AccessGroup{{Name: "by-hand", Members: []iapv1alpha1.Member{"user:a@acme.com"}, Context: refs(foreign)}},
	}
}

// google is Access Context Manager as the export reads it: levels by full name, and the reads made.
type google struct {
	levels map[string]*accesscontextmanagerpb.AccessLevel
	reads  []string
}

func (g *google) read(name string) export.Read {
	g.reads = append(g.reads, name)
	if l, ok := g.levels[name]; ok {
		return export.Read{Level: l}
	}
	return export.Read{Unread: &export.Unread{NotFound: true, Err: errors.New("not found")}}
}

// basicLevel is a level of two conditions, combined with OR, as Google holds it; owned by owner
// when it is not zero.
func basicLevel(name, title, description string, owner accesslevel.Owner) *accesscontextmanagerpb.AccessLevel {
	spec := accesslevel.Spec{Title: title, Description: description, Basic: &accesslevel.Basic{CombiningFunction: "OR", Conditions: []accesslevel.Condition{
		{IPSubnetworks: []string{"203.0.113.0/24", "2001:db8::/32"}, Regions: []string{"DE", "US"}},
		{Members: []string{"user:cfo@acme.com"}, RequiredAccessLevels: []string{partners}, Negate: true, DevicePolicy: &accesslevel.DevicePolicy{
			RequireScreenLock: true, AllowedEncryptionStatuses: []string{"ENCRYPTED"}, AllowedDeviceManagementLevels: []string{"COMPLETE"},
			OSConstraints: []accesslevel.OSConstraint{{OSType: "DESKTOP_MAC", MinimumVersion: "14.1"}}}},
	}}}
	level := accesslevel.Build(spec, name, owner)
	if owner == (accesslevel.Owner{}) {
		level.Description = description
	}
	return level
}

func TestLevels_EachRequiredLevelIsReadOnceAndExportedInObserveModeThatReadsBackAsGoogleHoldsIt(t *testing.T) {
	custom := accesslevel.Build(accesslevel.Spec{Title: "Managed devices", Custom: `device.is_corp_owned_device`}, devices, accesslevel.Owner{})
	custom.Description = "" // made with another tool: no runguard mark
	g := &google{levels: map[string]*accesscontextmanagerpb.AccessLevel{
		corpNet: basicLevel(corpNet, "Corp network", "Offices and VPN.", accesslevel.Owner{}),
		devices: custom,
	}}
	services := []export.Manifest{requiring("a", []string{corpNet, devices}, nil), requiring("b", nil, []string{corpNet})}

	levels := export.Levels(services, g.read, options())
	if want := []string{devices, corpNet}; !slices.Equal(g.reads, want) {
		t.Errorf("read %v, want each level once, by full name: %v", g.reads, want)
	}
	if len(levels) != 2 || levels[1].FullName != corpNet {
		t.Fatalf("exported %d levels, want 2 in the order of their names", len(levels))
	}
	if want := []string{"ProtectedService a (group staff)", "ProtectedService b (group by-hand, commented out)"}; !slices.Equal(levels[1].RequiredBy, want) {
		t.Errorf("corp_net required by %q, want %q", levels[1].RequiredBy, want)
	}
	for _, l := range levels {
		out, err := l.YAML()
		if err != nil {
			t.Fatal(err)
		}
		var back iapv1alpha1.AccessLevel
		if err := yaml.UnmarshalStrict(out, &back); err != nil {
			t.Fatalf("the AccessLevel does not read back: %v\n%s", err, out)
		}
		if back.Kind != "AccessLevel" || back.APIVersion != "iap.runguard.dev/v1alpha1" || back.Spec.Mode != iapv1alpha1.ModeObserve {
			t.Errorf("read back %s %s in mode %q, want an iap.runguard.dev/v1alpha1 AccessLevel in Observe:\n%s", back.APIVersion, back.Kind, back.Spec.Mode, out)
		}
		policy, short, _ := strings.Cut(l.FullName, "/accessLevels/")
		if back.Spec.AccessPolicy != policy || back.Spec.LevelName != short {
			t.Errorf("accessPolicy %q and levelName %q, want %q and %q", back.Spec.AccessPolicy, back.Spec.LevelName, policy, short)
		}
		// Declared as it reads back, the level runguard would write is the one Google holds.
		want := g.levels[l.FullName]
		if mask := accesslevel.Mask(accesslevel.Build(specOf(back), l.FullName, accesslevel.Owner{}), want); len(mask) != 1 || mask[0] != "description" {
			t.Errorf("the exported %s differs from Google's in %v, want only in the description runguard marks:\n%s", l.FullName, mask, out)
		}
		if spec, _, _ := accesslevel.FromProto(want); back.Spec.Description != spec.Description || back.Spec.Title != spec.Title {
			t.Errorf("title %q and description %q, want Google's %q and %q", back.Spec.Title, back.Spec.Description, spec.Title, spec.Description)
		}
	}
	if levels[0].Object.Name != "managed-devices" || levels[1].Object.Name != "corp-net" {
		t.Errorf("objects named %s and %s, want managed-devices and corp-net", levels[0].Object.Name, levels[1].Object.Name)
	}
}

func TestLevels_OwnershipIsSaidAboveEachLevel(t *testing.T) {
	g := &google{levels: map[string]*accesscontextmanagerpb.AccessLevel{
		corpNet:  basicLevel(corpNet, "Corp network", "Offices.", accesslevel.Owner{Cluster: "demo", Name: "office-network"}),
		devices:  basicLevel(devices, "Devices", "", accesslevel.Owner{Cluster: "prod-eu", Name: "devices"}),
		partners: basicLevel(partners, "Partners", "Made in the console.", accesslevel.Owner{}),
	}}
	levels := export.Levels([]export.Manifest{requiring("a", []string{corpNet, devices, partners}, nil)}, g.read, options())
	for _, tc := range []struct {
		level, object string
		says          []string
	}{
		{devices, "devices", []string{"runguard of cluster prod-eu manages this level as AccessLevel devices", "--cluster-name prod-eu"}},
		{corpNet, "office-network", []string{"runguard of this cluster (demo) manages this level as AccessLevel office-network", "updates that object"}},
		{partners, "partners", []string{"no runguard owns this level", "runguard will not edit it", `set mode: Enforce AND annotate it iap.runguard.dev/adopt: "true"`, "docs/access-levels.md"}},
	} {
		i := slices.IndexFunc(levels, func(l export.LevelManifest) bool { return l.FullName == tc.level })
		if i < 0 || levels[i].Object == nil {
			t.Fatalf("%s is not exported", tc.level)
		}
		out, err := levels[i].YAML()
		if err != nil {
			t.Fatal(err)
		}
		comments := strings.ReplaceAll(string(out), "\n#   ", " ")
		for _, want := range tc.says {
			if !strings.Contains(comments, want) {
				t.Errorf("the export of %s does not say %q:\n%s", tc.level, want, out)
			}
		}
		if levels[i].Object.Name != tc.object || strings.Contains(levels[i].Object.Spec.Description, "managed by runguard") {
			t.Errorf("%s exported as %s with description %q, want %s and the user's text without runguard's mark", tc.level, levels[i].Object.Name, levels[i].Object.Spec.Description, tc.object)
		}
	}
}

func TestLevels_UnreadableLevelIsACommentNamingItAndThePermissionNeverAFailure(t *testing.T) {
	read := func(name string) export.Read {
		if name == corpNet {
			return export.Read{Unread: &export.Unread{NotFound: true, Err: errors.New("not found")}}
		}
		return export.Read{Unread: &export.Unread{Permission: "accesscontextmanager.accessLevels.get", Caller: "ci@acme-ops.iam.gserviceaccount.com", Err: errors.New("denied")}}
	}
	services := []export.Manifest{requiring("a", []string{corpNet}, nil), requiring("b", nil, []string{devices})}
	levels := export.Levels(services, read, options())
	for _, l := range levels {
		out, err := l.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if l.Object != nil || strings.TrimSpace(string(withoutComments(out))) != "" || !strings.Contains(string(out), l.FullName) {
			t.Errorf("an unreadable level is not a comment naming it:\n%s", out)
		}
	}
	if out, _ := levels[0].YAML(); !strings.Contains(strings.ReplaceAll(string(out), "\n#   ", " "), "ci@acme-ops.iam.gserviceaccount.com lacks the permission accesscontextmanager.accessLevels.get") {
		t.Errorf("the denied level does not name who lacks which permission:\n%s", out)
	}
	if !mentions(services[0].Notes, corpNet, "does not exist", "AccessLevelNotFound") || len(services[1].Notes) != 0 {
		t.Errorf("notes %q and %q, want the service requiring the missing level told, the other not", services[0].Notes, services[1].Notes)
	}
}

// Every short name ACM accepts starts with a letter and has at most 50 characters; one that ends
// with '_', or one that another exported level's name already took, cannot name the object.
func TestLevels_ObjectNameFallsBackToAHashWhenTheShortNameCannotNameAnObject(t *testing.T) {
	trailing := "accessPolicies/123/accessLevels/corp_"
	twin := "accessPolicies/456/accessLevels/corp_net"
	g := &google{levels: map[string]*accesscontextmanagerpb.AccessLevel{}}
	for _, n := range []string{corpNet, twin, trailing} {
		g.levels[n] = basicLevel(n, n, "", accesslevel.Owner{})
	}
	levels := export.Levels([]export.Manifest{requiring("a", []string{corpNet, twin, trailing}, nil)}, g.read, options())
	names := map[string]string{}
	for _, l := range levels {
		names[l.FullName] = l.Object.Name
	}
	if names[corpNet] != "corp-net" {
		t.Errorf("corp_net named %q, want corp-net", names[corpNet])
	}
	again := export.Levels([]export.Manifest{requiring("a", []string{corpNet, twin, trailing}, nil)}, g.read, options())
	for i, n := range []string{twin, trailing} {
		if !strings.HasPrefix(names[n], "level-") || len(names[n]) != len("level-")+12 {
			t.Errorf("%s named %q, want level- and a hash", n, names[n])
		}
		if l := again[slices.IndexFunc(again, func(l export.LevelManifest) bool { return l.FullName == n })]; l.Object.Name != names[n] || !mentions(l.Notes, "from a hash of the level's full name") {
			t.Errorf("%d: %s named %q, then %q, with notes %q: want the same name each time, and said", i, n, names[n], l.Object.Name, l.Notes)
		}
	}
}

// Google's strings wherever the export puts them — the object, the notes (an owner named in a
// marker) — stay inside the object or the comments, and the object reads back exactly.
func TestLevels_AwkwardCharactersStayCommentsAndReadBackExactly(t *testing.T) {
	for _, c := range awkward {
		t.Run(strings.Trim(strconv.Quote(c), `"`), func(t *testing.T) {
			level := accesslevel.Build(accesslevel.Spec{Title: "t" + c, Description: "d" + c + "e", Custom: `origin.region_code == "` + c + `"`}, corpNet,
				accesslevel.Owner{Cluster: "other" + c, Name: "x" + c})
			levels := export.Levels([]export.Manifest{requiring("a", []string{corpNet}, nil)},
				func(string) export.Read { return export.Read{Level: level} }, options())
			out, err := levels[0].YAML()
			if err != nil {
				t.Fatal(err)
			}
			var with, without iapv1alpha1.AccessLevel
			if err := yaml.UnmarshalStrict(out, &with); err != nil {
				t.Fatalf("the export does not read: %v\n%s", err, out)
			}
			if err := yaml.UnmarshalStrict(withoutComments(out), &without); err != nil {
				t.Fatalf("the export without its comments does not read: %v\n%s", err, out)
			}
			if diff := cmp.Diff(without, with); diff != "" {
				t.Fatalf("the comments change the object (-without +with):\n%s\n%s", diff, out)
			}
			if diff := cmp.Diff(levels[0].Object.Spec, with.Spec); diff != "" {
				t.Errorf("the object reads back changed (-exported +read):\n%s\n%s", diff, out)
			}
		})
	}
}

// specOf is the plain spec of an AccessLevel, as the controller converts it.
func specOf(al iapv1alpha1.AccessLevel) accesslevel.Spec {
	s := accesslevel.Spec{Title: al.Spec.Title, Description: al.Spec.Description}
	if al.Spec.Custom != nil {
		s.Custom = al.Spec.Custom.Expression
	}
	b := al.Spec.Basic
	if b == nil {
		return s
	}
	s.Basic = &accesslevel.Basic{CombiningFunction: string(b.CombiningFunction)}
	for _, c := range b.Conditions {
		lc := accesslevel.Condition{IPSubnetworks: strs(c.IPSubnetworks), Regions: strs(c.Regions), Members: strs(c.Members),
			RequiredAccessLevels: strs(c.RequiredAccessLevels), Negate: c.Negate}
		if d := c.DevicePolicy; d != nil {
			lc.DevicePolicy = &accesslevel.DevicePolicy{RequireScreenLock: d.RequireScreenLock, RequireCorpOwned: d.RequireCorpOwned,
				RequireAdminApproval: d.RequireAdminApproval, AllowedEncryptionStatuses: strs(d.AllowedEncryptionStatuses),
				AllowedDeviceManagementLevels: strs(d.AllowedDeviceManagementLevels)}
			for _, o := range d.OSConstraints {
				lc.DevicePolicy.OSConstraints = append(lc.DevicePolicy.OSConstraints, accesslevel.OSConstraint{
					OSType: o.OSType, MinimumVersion: o.MinimumVersion, RequireVerifiedChromeOS: o.RequireVerifiedChromeOS})
			}
		}
		s.Basic.Conditions = append(s.Basic.Conditions, lc)
	}
	return s
}

func strs[S ~string](in []S) []string {
	var out []string
	for _, s := range in {
		out = append(out, string(s))
	}
	return out
}
