package manifest_test

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/manifest"
)

const minimal = `
apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: billing, namespace: finance}
spec:
  service: {project: acme-prod, location: us-central1, name: billing-dashboard}
`

func read(t *testing.T, stream string) []manifest.Document {
	t.Helper()
	docs, err := manifest.Read(strings.NewReader(stream), "app.yaml")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return docs
}

func readErr(t *testing.T, stream string) error {
	t.Helper()
	docs, err := manifest.Read(strings.NewReader(stream), "app.yaml")
	if err == nil {
		t.Fatalf("Read accepted the stream: %+v", docs)
	}
	if docs != nil {
		t.Errorf("Read returned documents with its error: %+v", docs)
	}
	return err
}

func TestRead_NumbersTheObjectsOfAStreamIgnoringEmptyDocuments(t *testing.T) {
	stream := `# a header comment
---
` + minimal + `
---
---
# only a comment
---
apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: reports}
spec:
  service: {project: acme-prod, location: europe-west4, name: reports}
`
	docs := read(t, stream)
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2: %+v", len(docs), docs)
	}
	for i, want := range []struct{ source, name, location string }{
		{"app.yaml#1", "billing", "us-central1"},
		{"app.yaml#2", "reports", "europe-west4"},
	} {
		d := docs[i]
		if d.Source != want.source || d.Object == nil || d.Skipped != "" {
			t.Fatalf("document %d = %+v, want %s holding a ProtectedService", i, d, want.source)
		}
		if d.Object.Name != want.name || d.Object.Spec.Service.Location != want.location {
			t.Errorf("%s: got %s in %s, want %s in %s", d.Source, d.Object.Name, d.Object.Spec.Service.Location, want.name, want.location)
		}
	}
	if docs[0].Object.Namespace != "finance" || docs[1].Object.Namespace != "" {
		t.Errorf("namespaces %q and %q, want the manifests' (finance and none)", docs[0].Object.Namespace, docs[1].Object.Namespace)
	}
}

func TestRead_SkipsObjectsOfOtherAPIs(t *testing.T) {
	stream := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {whatever: [1, 2]}
---
apiVersion: v1
kind: ConfigMap
metadata: {generateName: settings-}
---` + minimal
	docs := read(t, stream)
	want := []manifest.Document{
		{Source: "app.yaml#1", Skipped: "apps/v1 Deployment web"},
		{Source: "app.yaml#2", Skipped: "v1 ConfigMap"},
	}
	if len(docs) != 3 {
		t.Fatalf("got %d documents, want 3: %+v", len(docs), docs)
	}
	for i, w := range want {
		if docs[i] != w {
			t.Errorf("document %d = %+v, want %+v", i, docs[i], w)
		}
	}
	if docs[2].Source != "app.yaml#3" || docs[2].Object == nil {
		t.Errorf("document 3 = %+v, want the ProtectedService", docs[2])
	}
}

func TestRead_ReadsJSON(t *testing.T) {
	obj := `{"apiVersion": "iap.runguard.dev/v1alpha1", "kind": "ProtectedService",
  "metadata": {"name": "from-json"},
  "spec": {"service": {"project": "acme-prod", "location": "us-central1", "name": "svc"}, "mode": "Observe"}}`
	for name, stream := range map[string]string{
		"one object":                    obj,
		"a stream of objects":           obj + "\n" + obj,
		"objects separated by ---":      obj + "\n---\n" + obj,
		"an object, then a YAML object": obj + "\n---\n" + strings.ReplaceAll(minimal, "billing,", "from-json,"),
	} {
		t.Run(name, func(t *testing.T) {
			docs := read(t, stream)
			if len(docs) == 0 {
				t.Fatal("no documents")
			}
			for i, d := range docs {
				if d.Object == nil || d.Object.Name != "from-json" {
					t.Fatalf("document %d = %+v, want the ProtectedService from-json", i, d)
				}
			}
			if got := docs[0].Object.Spec.Mode; got != iapv1alpha1.ModeObserve {
				t.Errorf("mode %q, want Observe as written", got)
			}
			if got := docs[0].Object.Spec.BindingPolicy; got != iapv1alpha1.BindingPolicyMerge {
				t.Errorf("bindingPolicy %q, want the default Merge", got)
			}
		})
	}
}

func TestRead_AppliesTheCRDDefaults(t *testing.T) {
	ps := read(t, minimal)[0].Object
	spec := ps.Spec
	if spec.Mode != iapv1alpha1.ModeEnforce {
		t.Errorf("mode %q, want Enforce", spec.Mode)
	}
	if spec.BindingPolicy != iapv1alpha1.BindingPolicyMerge {
		t.Errorf("bindingPolicy %q, want Merge", spec.BindingPolicy)
	}
	if spec.PublicAccess != iapv1alpha1.PublicAccessDeny {
		t.Errorf("publicAccess %q, want Deny", spec.PublicAccess)
	}
	if spec.DeletionPolicy != iapv1alpha1.DeletionPolicyDelete {
		t.Errorf("deletionPolicy %q, want Delete", spec.DeletionPolicy)
	}
	if spec.IAP.Enabled == nil || !*spec.IAP.Enabled {
		t.Errorf("iap.enabled %v, want true", spec.IAP.Enabled)
	}
	if spec.IAP.Settings != nil || spec.AccessGroups != nil {
		t.Errorf("defaults added settings or access groups: %+v", spec)
	}
}

func TestRead_DefaultsNestedFieldsAndNullsButKeepsWhatIsWritten(t *testing.T) {
	ps := read(t, minimal+`  mode: Observe
  publicAccess: null
  iap:
    enabled: null
    settings:
      reauthentication: {method: Login, maxAge: 12h}
status:
  memberCount: 7
`)[0].Object
	if ps.Spec.Mode != iapv1alpha1.ModeObserve {
		t.Errorf("mode %q, want Observe as written", ps.Spec.Mode)
	}
	if ps.Spec.PublicAccess != iapv1alpha1.PublicAccessDeny {
		t.Errorf("publicAccess: null became %q, want the default Deny", ps.Spec.PublicAccess)
	}
	if ps.Spec.IAP.Enabled == nil || !*ps.Spec.IAP.Enabled {
		t.Errorf("iap.enabled: null became %v, want the default true", ps.Spec.IAP.Enabled)
	}
	r := ps.Spec.IAP.Settings.Reauthentication
	if r == nil || r.Policy != iapv1alpha1.ReauthPolicyMinimum || r.MaxAge.Duration.Hours() != 12 {
		t.Errorf("reauthentication %+v, want 12h with the default policy Minimum", r)
	}
	if ps.Status.MemberCount != 0 {
		t.Errorf("status kept (%+v); create drops it", ps.Status)
	}
}

func TestRead_RefusesAnInvalidObjectWithTheAPIServersError(t *testing.T) {
	err := readErr(t, minimal+"---\n"+strings.ReplaceAll(minimal, "acme-prod", "Acme-prod"))
	var status *apierrors.StatusError
	if !errors.As(err, &status) || !apierrors.IsInvalid(status) {
		t.Fatalf("error %v (%T) does not hold an Invalid StatusError", err, err)
	}
	want := `app.yaml#2: ProtectedService.iap.runguard.dev "billing" is invalid: ` +
		`spec.service.project: Invalid value: "Acme-prod": spec.service.project in body should match '^[a-z][a-z0-9-]*[a-z0-9]$'`
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if causes := status.ErrStatus.Details.Causes; len(causes) != 1 || causes[0].Field != "spec.service.project" {
		t.Errorf("causes %+v, want one at spec.service.project", causes)
	}
}

func TestRead_ReportsEveryRefusedDocument(t *testing.T) {
	stream := minimal + "  mode: Sometimes\n---\n" + minimal + "---\n" + minimal + "  foo: bar\n"
	err := readErr(t, stream)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "app.yaml#1: ") || !strings.HasPrefix(lines[1], "app.yaml#3: ") {
		t.Fatalf("error\n%s\nwant one line for #1 and one for #3", err)
	}
	if !strings.Contains(lines[0], `spec.mode: Unsupported value: "Sometimes": supported values: "Enforce", "Observe"`) {
		t.Errorf("#1: %s", lines[0])
	}
}

func TestRead_RefusesUnknownFieldsAsStrictFieldValidationDoes(t *testing.T) {
	err := readErr(t, strings.Replace(minimal, "metadata: {name: billing,", "metadata: {name: billing, owner: me,", 1)+"  foo: bar\n  iap: {enabled: true, colour: blue}\n")
	want := `app.yaml#1: ProtectedService in version "v1alpha1" cannot be handled as a ProtectedService: ` +
		`strict decoding error: unknown field "metadata.owner", unknown field "spec.foo", unknown field "spec.iap.colour"`
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if !apierrors.IsBadRequest(err) {
		t.Errorf("error %v is not a BadRequest StatusError", err)
	}
}

func TestRead_RefusesObjectsKubectlCannotMap(t *testing.T) {
	cases := []struct {
		name, stream, want string
		is                 func(error) bool
	}{
		{"no kind", "apiVersion: iap.runguard.dev/v1alpha1\nmetadata: {name: x}\n",
			`app.yaml#1: Object 'Kind' is missing in '{"apiVersion":"iap.runguard.dev/v1alpha1","metadata":{"name":"x"}}'`, runtime.IsMissingKind},
		{"no apiVersion", "kind: ProtectedService\nmetadata: {name: x}\n",
			`app.yaml#1: no matches for kind "ProtectedService" in version ""`, meta.IsNoMatchError},
		{"another version of our group", strings.Replace(minimal, "v1alpha1", "v1beta1", 1),
			`app.yaml#1: no matches for kind "ProtectedService" in version "iap.runguard.dev/v1beta1"`, meta.IsNoMatchError},
		{"another kind of our group", strings.Replace(minimal, "kind: ProtectedService", "kind: ProtectedThing", 1),
			`app.yaml#1: no matches for kind "ProtectedThing" in version "iap.runguard.dev/v1alpha1"`, meta.IsNoMatchError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := readErr(t, tc.stream)
			if err.Error() != tc.want {
				t.Errorf("error\n%s\nwant\n%s", err, tc.want)
			}
			if !inChain(err, tc.is) {
				t.Errorf("error %v cannot be classified", err)
			}
		})
	}
}

// inChain reports whether is holds for err or any error it wraps, for the classifiers that do not
// look through wrapping themselves.
func inChain(err error, is func(error) bool) bool {
	if err == nil {
		return false
	}
	if is(err) {
		return true
	}
	switch w := err.(type) {
	case interface{ Unwrap() error }:
		return inChain(w.Unwrap(), is)
	case interface{ Unwrap() []error }:
		for _, e := range w.Unwrap() {
			if inChain(e, is) {
				return true
			}
		}
	}
	return false
}

func TestRead_ReadsTheItemsOfAList(t *testing.T) {
	stream := `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
- apiVersion: iap.runguard.dev/v1alpha1
  kind: ProtectedService
  metadata: {name: billing}
  spec:
    service: {project: acme-prod, location: us-central1, name: billing-dashboard}
`
	docs := read(t, stream)
	if len(docs) != 2 || docs[0].Source != "app.yaml#1.items[0]" || docs[0].Skipped != "v1 ConfigMap settings" ||
		docs[1].Source != "app.yaml#1.items[1]" || docs[1].Object == nil || docs[1].Object.Spec.Mode != iapv1alpha1.ModeEnforce {
		t.Fatalf("got %+v, want the ConfigMap skipped and the defaulted ProtectedService", docs)
	}
}

func TestRead_NamesTheDocumentWithASyntaxError(t *testing.T) {
	err := readErr(t, minimal+"---\nspec: [unclosed\n")
	if !strings.HasPrefix(err.Error(), "app.yaml#2: ") {
		t.Errorf("error %q does not name document #2", err)
	}
}

// The API server reports errors at sibling fields in map order, which changes between
// requests; Read must not, or `runguard plan` would print a different text each time.
func TestRead_ReportsErrorsInTheSameOrderEveryTime(t *testing.T) {
	stream := `
apiVersion: iap.runguard.dev/v1alpha1
kind: ProtectedService
metadata: {name: billing}
spec:
  service: {project: Acme, location: us_central1, name: Svc}
  accessGroups:
  - {name: G, members: ["person:a", "allUsers"]}
  - {name: Bad}
  mode: DryRun
  publicAccess: Sometimes
  bindingPolicy: Authoritative
`
	want := `app.yaml#1: ProtectedService.iap.runguard.dev "billing" is invalid: [` +
		`spec.accessGroups[0].members[0]: Invalid value: "person:a": spec.accessGroups[0].members[0] in body should match`
	first := readErr(t, stream).Error()
	if !strings.HasPrefix(first, want) {
		t.Fatalf("error\n%s\nwant it to start with\n%s", first, want)
	}
	// kube-openapi reports a missing field after the fields its object has.
	required := strings.Index(first, "spec.accessGroups[1].members: Required value")
	if name := strings.Index(first, `spec.accessGroups[1].name`); required < 0 || name < 0 || name > required {
		t.Errorf("members of group 1 not reported as missing after the group's other errors:\n%s", first)
	}
	for range 20 {
		if again := readErr(t, stream).Error(); again != first {
			t.Fatalf("order changed between reads:\n%s\n%s", first, again)
		}
	}
}
