package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/encoding/protojson"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/iampolicy"
)

// The access policies of these tests: runguard's own identity may read levels in levelPolicy
// only; nobody may read deniedPolicy. Their organizations are their own, so the demo seed's
// policy (if it has one) is left alone.
const (
	levelPolicy  = "accessPolicies/777000777"
	deniedPolicy = "accessPolicies/888000888"
	corpNet      = levelPolicy + "/accessLevels/corp_net"
	office       = levelPolicy + "/accessLevels/office"
	remote       = levelPolicy + "/accessLevels/remote"
	missing      = levelPolicy + "/accessLevels/typo_in_the_name"
	secret       = deniedPolicy + "/accessLevels/secret"
)

// startFakeWithLevels is the demo's fake with two access policies: in levelPolicy corp_net (made
// with another tool), office (this cluster's runguard's, AccessLevel office-network) and remote
// (another cluster's); in deniedPolicy, secret. runguard's own identity may also list services
// in acme-prod, so that export and plan can run as it, without impersonating.
func startFakeWithLevels(t *testing.T) *gcpfake.Server {
	t.Helper()
	seed, err := gcpfake.LoadSeed(filepath.Join("..", "..", "hack", "demo", "seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range seed.Projects {
		if seed.Projects[i].ID == "acme-prod" {
			seed.Projects[i].Grants[runguardSA] = append(seed.Projects[i].Grants[runguardSA], "organizations/100200300400/roles/runguardExporter")
		}
	}
	ip := func(description string) accesslevel.Spec {
		return accesslevel.Spec{Description: description, Basic: &accesslevel.Basic{Conditions: []accesslevel.Condition{{IPSubnetworks: []string{"203.0.113.0/24"}}}}}
	}
	seed.AccessPolicies = append(seed.AccessPolicies,
		gcpfake.AccessPolicy{Name: levelPolicy, Parent: "organizations/700000000007", Title: "cli tests",
			Grants: map[string][]string{runguardSA: {"roles/accesscontextmanager.policyReader"}},
			AccessLevels: []json.RawMessage{
				levelJSON(t, corpNet, "Corp network", ip("Made in the console."), nil),
				levelJSON(t, office, "Office", ip("Offices."), &accesslevel.Owner{Cluster: "demo", Name: "office-network"}),
				levelJSON(t, remote, "Remote", ip(""), &accesslevel.Owner{Cluster: "prod-eu", Name: "remote"}),
			}},
		gcpfake.AccessPolicy{Name: deniedPolicy, Parent: "organizations/800000000008", Title: "not ours",
			AccessLevels: []json.RawMessage{levelJSON(t, secret, "Secret", ip(""), nil)}})
	fake, err := gcpfake.Start(gcpfake.Options{Seed: seed, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	return fake
}

// unwrapped is an export with its comments' lines joined where they were wrapped.
func unwrapped(export string) string {
	return strings.ReplaceAll(strings.ReplaceAll(export, "\n#   ", " "), "\n# ", " ")
}

const runguardSA = "serviceAccount:runguard@acme-ops.iam.gserviceaccount.com"

// levelJSON is a level as the seed takes it; marked for owner when one is given.
func levelJSON(t *testing.T, name, title string, spec accesslevel.Spec, owner *accesslevel.Owner) json.RawMessage {
	t.Helper()
	spec.Title = title
	var level *accesscontextmanagerpb.AccessLevel
	if owner != nil {
		level = accesslevel.Build(spec, name, *owner)
	} else {
		level = accesslevel.Build(spec, name, accesslevel.Owner{})
		level.Description = spec.Description // made with another tool: no runguard mark
	}
	raw, err := protojson.Marshal(level)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// wikiRequiringLevels gives legacy-wiki, in Google, runguard's binding for ProtectedService
// adoption/legacy-wiki (group staff) requiring corp_net and office, and a grant by hand
// requiring remote, secret and a level that does not exist.
func wikiRequiringLevels(t *testing.T, fake *gcpfake.Server) {
	t.Helper()
	owned, err := iampolicy.CompileCondition(iampolicy.Owner{Cluster: "demo", Namespace: "adoption", Name: "legacy-wiki"},
		iampolicy.AccessGroup{Name: "staff", Members: []string{"group:wiki-editors@acme.com"}, Context: iampolicy.Context{AccessLevels: []string{corpNet, office}}})
	if err != nil {
		t.Fatal(err)
	}
	grantByHand(t, fake, "projects/acme-prod/locations/europe-west1/services/legacy-wiki",
		&iampb.Binding{Role: iampolicy.AccessorRole, Members: []string{"group:wiki-editors@acme.com"}, Condition: owned},
		&iampb.Binding{Role: iampolicy.AccessorRole, Members: []string{"user:contractor@acme.com"}, Condition: &expr.Expr{Title: "remote contractors",
			Expression: `"` + remote + `" in request.auth.access_levels && "` + secret + `" in request.auth.access_levels && "` + missing + `" in request.auth.access_levels`}})
}

func exportWiki(t *testing.T, fake *gcpfake.Server, args ...string) result {
	t.Helper()
	return runguard(t, fake, "", append([]string{"export", "--project", "acme-prod", "--location", "europe-west1", "--service", "legacy-wiki"}, args...)...)
}

// The levels an exported service requires come with it, as AccessLevels in Observe mode that the
// API server accepts, each saying who owns it; and the export, planned, changes nothing.
func TestExportThenPlan_RequiredLevelsAreExportedAsObserveAccessLevelsAndPlanNoChange(t *testing.T) {
	fake := startFakeWithLevels(t)
	wikiRequiringLevels(t, fake)
	before := writes(fake)
	exported := exportWiki(t, fake)
	if exported.code != exitOK {
		t.Fatalf("export exited %d, want %d even though two levels cannot be read:\n%s%s", exported.code, exitOK, exported.stdout, exported.stderr)
	}
	comments := unwrapped(exported.stdout)
	for _, want := range []string{
		"kind: AccessLevel\nmetadata:\n  name: corp-net\nspec:\n  accessPolicy: " + levelPolicy + "\n  basic:",
		"levelName: corp_net\n  mode: Observe\n  title: Corp network",
		"description: Made in the console.",
		"name: office-network",
		"runguard of this cluster (demo) manages this level as AccessLevel office-network",
		"runguard of cluster prod-eu manages this level as AccessLevel remote",
		`no runguard owns this level (its description has no runguard mark): runguard will not edit it.`,
		`set mode: Enforce AND annotate it iap.runguard.dev/adopt: "true"`,
		"Access level " + secret + ", required by ProtectedService adoption/legacy-wiki (group remote-contractors, commented out):",
		"the caller (Application Default Credentials) lacks the permission accesscontextmanager.accessLevels.get on it",
		"Access level " + missing + ", required by",
		"it does not exist in Access Context Manager",
		"- " + corpNet + "\n      - " + office, // the service keeps the full names
	} {
		if !strings.Contains(comments, want) {
			t.Errorf("the export lacks %q:\n%s", want, exported.stdout)
		}
	}
	if strings.Count(exported.stdout, "kind: AccessLevel") != 3 || strings.Contains(exported.stdout, "managed by runguard") {
		t.Errorf("want 3 AccessLevels (secret and the missing level only commented), none with runguard's mark in its description:\n%s", exported.stdout)
	}
	createDryRun(t, exported.stdout)

	planned := runguard(t, fake, exported.stdout, "plan", "-f", "-")
	if planned.code != exitOK || !strings.Contains(planned.stdout, "adoption/legacy-wiki (Cloud Run service acme-prod/europe-west1/legacy-wiki): no changes") {
		t.Errorf("plan of the export exited %d, want %d and no changes:\n%s%s", planned.code, exitOK, planned.stdout, planned.stderr)
	}
	for _, want := range []string{
		"AccessLevel corp-net (" + corpNet + "): not planned: the AccessLevel controller applies it",
		"AccessLevel office-network (" + office + "): not planned",
		"Plan: 0 changes to 0 objects; 0 could not be planned; 3 AccessLevels not planned.",
	} {
		if !strings.Contains(planned.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, planned.stdout)
		}
	}
	if strings.Contains(planned.stderr, "(not a ProtectedService)") {
		t.Errorf("plan says it skipped the AccessLevels:\n%s", planned.stderr)
	}
	if n := writes(fake) - before; n != 0 {
		t.Errorf("export and plan made %d Google writes, want 0", n)
	}
}

// Through --impersonate-service-account access levels are read as that account, with its own
// token: what it may read is exported and resolves in plan, what it may not is said naming it.
func TestExportAndPlan_ImpersonatingReadTheLevelsAsTheAccount(t *testing.T) {
	fake := startFakeWithLevels(t)
	wikiRequiringLevels(t, fake)
	r := runguard(t, fake, wikiWithObjectReference, "plan", "-f", "-", "--impersonate-service-account", adoption)
	if r.code != exitError || !strings.Contains(r.stdout, "legacy-wiki): cannot be planned: PermissionDenied: "+adoption+" lacks permission accesscontextmanager.accessLevels.get on "+office) {
		t.Errorf("plan as %s, which may not read %s yet, exited %d, want %d and the permission named:\n%s%s", adoption, office, r.code, exitError, r.stdout, r.stderr)
	}
	if err := fake.Grant(levelPolicy, "serviceAccount:"+adoption, "roles/accesscontextmanager.policyReader"); err != nil {
		t.Fatal(err)
	}
	r = exportWiki(t, fake, "--impersonate-service-account", adoption)
	comments := unwrapped(r.stdout)
	if r.code != exitOK || strings.Count(r.stdout, "kind: AccessLevel") != 3 || !strings.Contains(r.stdout, "kind: ProtectedService") ||
		!strings.Contains(comments, adoption+" lacks the permission accesscontextmanager.accessLevels.get on it") {
		t.Errorf("export as %s exited %d, want %d, the service, 3 AccessLevels and secret said unreadable by %s:\n%s%s", adoption, r.code, exitOK, adoption, r.stdout, r.stderr)
	}
	if strings.Contains(comments, "not read through") {
		t.Errorf("export still says levels are not read through impersonation:\n%s", r.stdout)
	}
	for _, c := range fake.Calls() {
		if c.Method == "acm.GetAccessLevel" && c.Caller != "serviceAccount:"+adoption {
			t.Errorf("GetAccessLevel of %s made by %s, want %s", c.Resource, c.Caller, adoption)
		}
	}
	r = runguard(t, fake, wikiWithObjectReference, "plan", "-f", "-", "--impersonate-service-account", adoption)
	if r.code != exitOK || !strings.Contains(r.stdout, "legacy-wiki): no changes") {
		t.Errorf("plan as %s of an object requiring %s exited %d, want %d and no changes:\n%s%s", adoption, office, r.code, exitOK, r.stdout, r.stderr)
	}
}

const wikiWithObjectReference = `apiVersion: iap.runguard.dev/v1alpha1
kind: AccessLevel
metadata:
  name: corp
spec:
  accessPolicy: ` + levelPolicy + `
  levelName: corp_net
  title: Corp network
  basic:
    conditions:
    - ipSubnetworks: [203.0.113.0/24]
---
apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata:
  name: legacy-wiki
  namespace: adoption
spec:
  service: {project: acme-prod, location: europe-west1, name: legacy-wiki}
  mode: Observe
  publicAccess: Allow
  accessGroups:
  - name: staff
    members: [group:wiki-editors@acme.com]
    context:
      accessLevels: [corp, ` + office + `]
`

// An AccessLevel object a ProtectedService requires resolves, as in the cluster, to its level's
// full name: declared in the same file, the object stands for corp_net, and the binding Google
// holds is the one planned.
func TestPlan_ObjectReferenceResolvesAgainstTheAccessLevelInTheSameFile(t *testing.T) {
	fake := startFakeWithLevels(t)
	wikiRequiringLevels(t, fake)
	r := runguard(t, fake, wikiWithObjectReference, "plan", "-f", "-")
	if r.code != exitOK || !strings.Contains(r.stdout, "legacy-wiki): no changes") ||
		!strings.Contains(r.stdout, "AccessLevel corp ("+corpNet+"): not planned") {
		t.Errorf("plan exited %d, want %d, no changes, and the AccessLevel not planned:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	// The same object naming another level: the plan rewrites the binding.
	other := strings.Replace(wikiWithObjectReference, "levelName: corp_net", "levelName: remote", 1)
	r = runguard(t, fake, other, "plan", "-f", "-")
	if r.code != exitChanges || !strings.Contains(r.stdout, "grant roles/iap.httpsResourceAccessor to group:wiki-editors@acme.com (runguard:staff)") {
		t.Errorf("plan of the group requiring remote exited %d, want %d and the binding granted again:\n%s%s", r.code, exitChanges, r.stdout, r.stderr)
	}
}

func TestPlan_LevelDefinedNowhereOrMissingInGoogleIsBlockedAccessLevelNotFound(t *testing.T) {
	fake := startFakeWithLevels(t)
	for _, tc := range []struct{ name, manifest, says string }{
		{"an object in no manifest and no cluster", strings.Replace(wikiWithObjectReference, "name: corp\n", "name: corporate\n", 1),
			"AccessLevel corp is neither in the manifests"},
		{"a full name Google does not have", strings.Replace(wikiWithObjectReference, "[corp, ", "["+missing+", ", 1), missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runguard(t, fake, tc.manifest, "plan", "-f", "-")
			if r.code != exitError || !strings.Contains(r.stdout, "legacy-wiki): cannot be planned: AccessLevelNotFound") || !strings.Contains(r.stdout, tc.says) {
				t.Errorf("plan exited %d, want %d and AccessLevelNotFound naming %q:\n%s%s", r.code, exitError, tc.says, r.stdout, r.stderr)
			}
		})
	}
}

// A file of AccessLevels only plans nothing and says so; the documents after an AccessLevel keep
// their numbers in plan's messages, and an AccessLevel in a List is read too.
func TestPlan_AccessLevelsAreNotPlannedAndKeepTheOtherDocumentsNumbers(t *testing.T) {
	fake := startFakeWithLevels(t)
	level, _, _ := strings.Cut(wikiWithObjectReference, "---\n")
	r := runguard(t, fake, level, "plan", "-f", "-")
	if r.code != exitOK || !strings.Contains(r.stdout, "AccessLevel corp ("+corpNet+"): not planned") ||
		!strings.Contains(r.stdout, "Plan: 0 changes to 0 objects; 0 could not be planned; 1 AccessLevel not planned.") {
		t.Errorf("plan of an AccessLevel exited %d, want %d and it listed as not planned:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	invalid := level + "---\napiVersion: iap.runguard.dev/v1alpha1\nkind: ProtectedService\nmetadata: {name: wiki}\nspec: {bindingPolicy: Sometimes}\n"
	if r := runguard(t, fake, invalid, "plan", "-f", "-"); r.code != exitError || !strings.Contains(r.stderr, `<stdin>#2: ProtectedService.iap.runguard.dev "wiki" is invalid`) {
		t.Errorf("plan of an invalid second document exited %d, want %d and it named <stdin>#2:\n%s", r.code, exitError, r.stderr)
	}
	list := `{"apiVersion": "v1", "kind": "List", "items": [` + mustYAMLToJSON(t, level) + `, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}]}`
	r = runguard(t, fake, list, "plan", "-f", "-")
	if r.code != exitOK || !strings.Contains(r.stdout, "AccessLevel corp (") || !strings.Contains(r.stderr, "<stdin>#1.items[1]: skipped v1 ConfigMap cm") ||
		strings.Contains(r.stderr, "items[0]") {
		t.Errorf("plan of a List exited %d, want %d, its AccessLevel read and only the ConfigMap skipped:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
	}
	if r := runguard(t, fake, strings.Replace(level, "  title:", "  color: blue\n  title:", 1), "plan", "-f", "-"); r.code != exitError ||
		!strings.Contains(r.stderr, `<stdin>#1: AccessLevel "corp"`) || !strings.Contains(r.stderr, "color") {
		t.Errorf("plan of an AccessLevel with an unknown field exited %d, want %d and the field named:\n%s", r.code, exitError, r.stderr)
	}
}

func TestLevelsToResolve_TheManifestsObjectWinsOverTheClusters(t *testing.T) {
	level := func(name, short string) iapv1alpha1.AccessLevel {
		al := iapv1alpha1.AccessLevel{}
		al.Name, al.Spec.LevelName = name, short
		return al
	}
	got := levelsToResolve([]manifestLevel{{source: "a#1", level: level("corp", "from_manifest")}},
		[]iapv1alpha1.AccessLevel{level("corp", "from_cluster"), level("vpn", "vpn")})
	names := func(levels []iapv1alpha1.AccessLevel) (out []string) {
		for _, l := range levels {
			out = append(out, l.Name+"="+l.Spec.LevelName)
		}
		return out
	}
	if want := []string{"corp=from_manifest", "vpn=vpn"}; !slices.Equal(names(got), want) {
		t.Errorf("resolved against %v, want %v", names(got), want)
	}
}
