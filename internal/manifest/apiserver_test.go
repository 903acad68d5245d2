package manifest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/manifest"
	"github.com/runguard/runguard/internal/testenv"
)

// env is the API server the comparisons run against; nil when KUBEBUILDER_ASSETS is unset.
var env *testenv.Env

const namespace = "manifest"

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// The unit tests need no API server; the comparisons with one fail and say why (make test sets it).
		os.Exit(m.Run())
	}
	os.Exit(testenv.Run(m, func(e *testenv.Env) {
		env = e
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
		if err := e.Client.Create(context.Background(), ns); err != nil {
			panic(err)
		}
	}))
}

func requireAPIServer(t *testing.T) {
	t.Helper()
	if env == nil {
		t.Fatal("KUBEBUILDER_ASSETS is not set, so there is no API server to compare with: run `make test`, or set it to $(./hack/build-k8s-binaries.sh --print-dir)")
	}
}

// serverCreate sends the manifest to the API server as kubectl apply creates it (JSON, strict
// field validation), dry-run so nothing is stored, and returns what the server would store.
func serverCreate(t *testing.T, doc string) (*unstructured.Unstructured, error) {
	t.Helper()
	data, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatalf("bad test manifest: %v", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		t.Fatalf("bad test manifest: %v", err)
	}
	err = env.Client.Create(context.Background(), u, client.DryRunAll, client.FieldValidation(metav1.FieldValidationStrict))
	return u, err
}

// protectedService writes a manifest in the test namespace with the given metadata and spec,
// each YAML for the mapping's body.
func protectedService(metadata, spec string) string {
	return "apiVersion: iap.runguard.dev/v1alpha1\nkind: ProtectedService\nmetadata:\n" + indent(metadata+"\nnamespace: "+namespace) +
		"spec:\n" + indent(spec)
}

func indent(s string) string {
	var b strings.Builder
	for line := range strings.Lines(strings.Trim(s, "\n") + "\n") {
		b.WriteString("  " + line)
	}
	return b.String()
}

const service = "service: {project: acme-prod, location: us-central1, name: billing-dashboard}\n"

func accessGroups(groups, members int) string {
	var b strings.Builder
	b.WriteString("accessGroups:\n")
	for g := range groups {
		fmt.Fprintf(&b, "- name: g%d\n  members:\n", g)
		for m := range members {
			fmt.Fprintf(&b, "  - user:u%d-%d@acme.com\n", g, m)
		}
	}
	return b.String()
}

func TestRead_RefusesWhatTheAPIServerRefusesWithItsMessage(t *testing.T) {
	requireAPIServer(t)
	group := func(members, context string) string {
		s := service + "accessGroups:\n- name: g\n  members: " + members + "\n"
		if context != "" {
			s += "  context: " + context + "\n"
		}
		return s
	}
	cases := []struct {
		name, manifest string
		// siblingErrors: the errors sit at sibling fields, which the API server reports in map
		// order, different from one request to the next.
		siblingErrors bool
	}{
		{name: "project not matching the pattern", manifest: protectedService("name: app",
			`service: {project: Acme-prod, location: us-central1, name: svc}`)},
		{name: "project too short and not matching", manifest: protectedService("name: app",
			`service: {project: Acme, location: us-central1, name: svc}`)},
		{name: "member with an unknown prefix", manifest: protectedService("name: app", group(`["person:jane@acme.com"]`, ""))},
		{name: "allUsers as a member", manifest: protectedService("name: app", group(`["allUsers"]`, ""))},
		{name: "deleted principal", manifest: protectedService("name: app", group(`["deleted:user:jane@acme.com?uid=1"]`, ""))},
		{name: "duplicate member", manifest: protectedService("name: app", group(`["user:a@acme.com", "user:a@acme.com"]`, ""))},
		{name: "notBefore after notAfter", manifest: protectedService("name: app",
			group(`["user:a@acme.com"]`, `{notBefore: "2027-01-01T00:00:00Z", notAfter: "2026-01-01T00:00:00Z"}`))},
		{name: "notBefore equal to notAfter", manifest: protectedService("name: app",
			group(`["user:a@acme.com"]`, `{notBefore: "2027-01-01T00:00:00Z", notAfter: "2027-01-01T00:00:00Z"}`))},
		{name: "notAfter not a time", manifest: protectedService("name: app", group(`["user:a@acme.com"]`, `{notAfter: "next tuesday"}`))},
		{name: "expression with a control character", manifest: protectedService("name: app", group(`["user:a@acme.com"]`, `{expression: "true\v&& true"}`))},
		{name: "21 access groups", manifest: protectedService("name: app", service+accessGroups(21, 1))},
		{name: "more than 1,500 principals", manifest: protectedService("name: app", service+accessGroups(2, 800))},
		{name: "unknown mode", manifest: protectedService("name: app", service+"mode: DryRun")},
		{name: "maxAge under 5 minutes", manifest: protectedService("name: app",
			service+"iap: {settings: {reauthentication: {method: Login, maxAge: 1m}}}")},
		{name: "maxAge with a fraction of a second", manifest: protectedService("name: app",
			service+"iap: {settings: {reauthentication: {method: Login, maxAge: 10m0.5s}}}")},
		{name: "maxAge not a duration", manifest: protectedService("name: app",
			service+"iap: {settings: {reauthentication: {method: Login, maxAge: a day}}}")},
		{name: "settings with IAP off", manifest: protectedService("name: app",
			service+"iap: {enabled: false, settings: {cors: {allowHTTPOptions: true}}}")},
		{name: "empty settings", manifest: protectedService("name: app", service+"iap: {settings: {}}")},
		{name: "setting both declared and cleared", manifest: protectedService("name: app",
			service+"iap: {settings: {cors: {allowHTTPOptions: true}, clear: [CORS]}}")},
		{name: "access-denied page over http", manifest: protectedService("name: app",
			service+`iap: {settings: {accessDeniedPage: {uri: "http://help.acme.com"}}}`)},
		{name: "unknown field", manifest: protectedService("name: app", service+"foo: bar")},
		{name: "unknown fields in metadata, spec and status", manifest: protectedService("name: app\nowner: me",
			service+"iap: {colour: blue}") + "status: {mood: good}\n"},
		{name: "spec.service missing", manifest: protectedService("name: app", "mode: Observe")},
		{name: "spec null", manifest: "apiVersion: iap.runguard.dev/v1alpha1\nkind: ProtectedService\nmetadata: {name: app, namespace: " + namespace + "}\nspec: null\n"},
		{name: "project a number", manifest: protectedService("name: app", `service: {project: 123456, location: us-central1, name: svc}`)},
		{name: "iap.enabled a string", manifest: protectedService("name: app", service+`iap: {enabled: "yes"}`)},
		{name: "name missing", manifest: protectedService("labels: {app: billing}", service)},
		{name: "name longer than 63 characters", manifest: protectedService("name: "+strings.Repeat("a", 64), service)},
		{name: "name not a DNS subdomain", manifest: protectedService("name: Billing_Dashboard", service)},
		{name: "name a number", manifest: protectedService("name: 12345", service)},
		{name: "bad label", manifest: protectedService("name: app\nlabels: {\"a b\": c}", service)},
		{name: "errors at many fields", siblingErrors: true, manifest: protectedService("name: app", `
service: {project: Acme, location: us_central1, name: Svc}
accessGroups:
- {name: G, members: ["person:a", "allUsers"]}
- {name: Bad}
mode: DryRun
publicAccess: Sometimes
bindingPolicy: Authoritative
`)},
		{name: "CEL errors at many fields", siblingErrors: true, manifest: protectedService("name: "+strings.Repeat("a", 64), service+`
iap: {enabled: false, settings: {reauthentication: {method: Login, maxAge: 1m}}}
accessGroups:
- {name: a, members: ["allUsers"], context: {notBefore: "2027-01-01T00:00:00Z", notAfter: "2026-01-01T00:00:00Z"}}
`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, serverErr := serverCreate(t, tc.manifest)
			if serverErr == nil {
				t.Fatal("the API server accepted the manifest; the case is not a refusal")
			}
			docs, readErr := manifest.Read(strings.NewReader(tc.manifest), "app.yaml")
			if readErr == nil {
				t.Fatalf("Read accepted what the API server refused with\n%v\ndocuments: %+v", serverErr, docs)
			}
			got, ok := strings.CutPrefix(readErr.Error(), "app.yaml#1: ")
			if !ok {
				t.Fatalf("Read's error %q does not start with the document's source", readErr)
			}
			var readStatus *apierrors.StatusError
			if !errors.As(readErr, &readStatus) {
				t.Fatalf("Read's error %v holds no StatusError", readErr)
			}
			if r, s := apierrors.ReasonForError(readStatus), apierrors.ReasonForError(serverErr); r != s {
				t.Errorf("reason %s, the API server's is %s", r, s)
			}
			if got == serverErr.Error() {
				return
			}
			if tc.siblingErrors && sameErrorsInAnotherOrder(readStatus, serverErr) {
				t.Logf("same errors as the API server, which ordered sibling fields differently this time:\nRead:       %s\nAPI server: %s", got, serverErr)
				return
			}
			t.Errorf("Read:\n%s\nthe API server:\n%s", got, serverErr)
		})
	}
}

// sameErrorsInAnotherOrder reports whether two Invalid errors list the same field errors with
// only the order of different fields changed: errors at one field keep their order.
func sameErrorsInAnotherOrder(read *apierrors.StatusError, serverErr error) bool {
	var server *apierrors.StatusError
	if !errors.As(serverErr, &server) || read.ErrStatus.Details == nil || server.ErrStatus.Details == nil {
		return false
	}
	header := func(msg string) string {
		before, _, _ := strings.Cut(msg, "[")
		return before
	}
	if header(read.Error()) != header(server.Error()) {
		return false
	}
	byField := func(causes []metav1.StatusCause) map[string][]string {
		m := map[string][]string{}
		for _, c := range causes {
			m[c.Field] = append(m[c.Field], string(c.Type)+": "+c.Message)
		}
		return m
	}
	r, s := byField(read.ErrStatus.Details.Causes), byField(server.ErrStatus.Details.Causes)
	if len(r) != len(s) {
		return false
	}
	for field, msgs := range r {
		if !slices.Equal(msgs, s[field]) {
			return false
		}
	}
	return true
}

func TestRead_AcceptsWhatTheAPIServerAcceptsAndDefaultsItTheSame(t *testing.T) {
	requireAPIServer(t)
	sample, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "iap_v1alpha1_protectedservice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"minimal":    protectedService("name: app", service),
		"the sample": strings.Replace(string(sample), "namespace: finance", "namespace: "+namespace, 1),
		"nulls, status and every setting": protectedService("name: app\nlabels: {app: billing}", service+`
mode: null
publicAccess: Allow
iap:
  enabled: null
  settings:
    accessDeniedPage: {uri: "https://help.acme.com/denied?app=billing", troubleshootingLink: true}
    reauthentication: {method: SecureKey, maxAge: 1h30m}
    allowedDomains: [billing.acme.com, "*.acme.com"]
    cors: {allowHTTPOptions: false}
    programmaticClients: [123456789-abc.apps.googleusercontent.com]
`+accessGroups(3, 2)) + "status: {memberCount: 7, pendingChanges: [x]}\n",
		"longest name":     protectedService("name: "+strings.Repeat("a", 63), service+"mode: Observe\ndeletionPolicy: Abandon"),
		"1,500 principals": protectedService("name: app", service+accessGroups(2, 750)),
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			stored, err := serverCreate(t, doc)
			if err != nil {
				t.Fatalf("the API server refused the manifest: %v", err)
			}
			docs, err := manifest.Read(strings.NewReader(doc), "app.yaml")
			if err != nil {
				t.Fatalf("Read refused what the API server accepts: %v", err)
			}
			if len(docs) != 1 || docs[0].Object == nil {
				t.Fatalf("got %+v, want one ProtectedService", docs)
			}
			var want iapv1alpha1.ProtectedService
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(stored.Object, &want); err != nil {
				t.Fatal(err)
			}
			got := docs[0].Object
			if g, w := asJSON(t, got.Spec), asJSON(t, want.Spec); g != w {
				t.Errorf("spec\n%s\nthe API server's\n%s", g, w)
			}
			if g, w := asJSON(t, got.Status), asJSON(t, want.Status); g != w {
				t.Errorf("status\n%s\nthe API server's\n%s", g, w)
			}
			if got.Name != want.Name || got.Namespace != want.Namespace || !maps.Equal(got.Labels, want.Labels) {
				t.Errorf("metadata %+v, the API server's %+v", got.ObjectMeta, want.ObjectMeta)
			}
		})
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
