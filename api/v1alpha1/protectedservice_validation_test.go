package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/testenv"
)

var (
	k8s     client.Client
	counter atomic.Int64
)

const namespace = "validation"

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) {
		k8s = e.Client
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
		if err := k8s.Create(context.Background(), ns); err != nil {
			panic(err)
		}
	}))
}

// object builds a ProtectedService from a spec written as YAML, with a fresh name.
func object(t *testing.T, specYAML string) *unstructured.Unstructured {
	t.Helper()
	var spec map[string]any
	if err := yaml.Unmarshal([]byte(specYAML), &spec); err != nil {
		t.Fatalf("bad test spec: %v", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(testenv.ProtectedServiceGVK)
	u.SetNamespace(namespace)
	u.SetName(fmt.Sprintf("ps-%d", counter.Add(1)))
	return u
}

const minimalService = `
service: {project: acme-prod, location: us-central1, name: billing-dashboard}
`

func TestSampleIsAccepted(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "iap_v1alpha1_protectedservice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(namespace)
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatalf("sample rejected: %v", err)
	}
	var got iapv1alpha1.ProtectedService
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(u), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.AccessGroups) != 2 || got.Spec.AccessGroups[0].Context == nil ||
		got.Spec.AccessGroups[0].Context.Expression != `request.time.getHours("Europe/Berlin") < 20` {
		t.Fatalf("sample did not round-trip: %+v", got.Spec)
	}
}

func TestMinimalManifestGetsDefaults(t *testing.T) {
	u := object(t, minimalService)
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatalf("minimal manifest rejected: %v", err)
	}
	var got iapv1alpha1.ProtectedService
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(u), &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.IAP.Enabled == nil || !*got.Spec.IAP.Enabled {
		t.Errorf("iap.enabled defaulted to %v, want true", got.Spec.IAP.Enabled)
	}
	if got.Spec.PublicAccess != iapv1alpha1.PublicAccessDeny {
		t.Errorf("publicAccess defaulted to %q, want Deny", got.Spec.PublicAccess)
	}
	if got.Spec.BindingPolicy != iapv1alpha1.BindingPolicyMerge {
		t.Errorf("bindingPolicy defaulted to %q, want Merge", got.Spec.BindingPolicy)
	}
	if got.Spec.DeletionPolicy != iapv1alpha1.DeletionPolicyDelete {
		t.Errorf("deletionPolicy defaulted to %q, want Delete", got.Spec.DeletionPolicy)
	}
}

func TestValidManifestsAreAccepted(t *testing.T) {
	cases := map[string]string{
		"every member kind": minimalService + `
accessGroups:
- name: everyone
  members:
  - user:Jane.Doe+ops@acme.com
  - group:eng@acme.com
  - serviceAccount:ci@acme-prod.iam.gserviceaccount.com
  - domain:acme.com
  - principal://iam.googleapis.com/locations/global/workforcePools/acme-pool/subject/jane@acme.com
  - principalSet://iam.googleapis.com/locations/global/workforcePools/acme-pool/group/eng
  - principalSet://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/gh/attribute.repository/acme/app
  - principalSet://iam.googleapis.com/locations/global/workforcePools/acme-pool/*
`,
		"IAP off and public": minimalService + `
iap: {enabled: false}
publicAccess: Allow
bindingPolicy: Exclusive
deletionPolicy: Abandon
`,
		"multi-line expression with tabs and a comment": minimalService + `
accessGroups:
- name: g
  members: ["user:a@acme.com"]
  context:
    expression: "request.host == 'a' // only a\n\t|| request.path == '/b'\n"
`,
		"every IAP setting": minimalService + `
iap:
  settings:
    accessDeniedPage: {uri: "https://help.acme.com/denied?app=billing", troubleshootingLink: true}
    reauthentication: {method: SecureKey, maxAge: 1h30m, policy: Default}
    allowedDomains: [billing.acme.com, "*.acme.com"]
    cors: {allowHTTPOptions: false}
    programmaticClients: [123456789-abc.apps.googleusercontent.com]
`,
		"settings to clear": minimalService + `
iap:
  settings:
    reauthentication: {method: Login, maxAge: 5m}
    clear: [AccessDeniedPage, CORS]
`,
		"access levels by object name and by full name": minimalService + `
accessGroups:
- name: g
  members: ["user:a@acme.com"]
  context: {accessLevels: [corp-network, accessPolicies/123/accessLevels/Partner_VPN]}
`,
		"access tests and inherited access denied": minimalService + `
bindingPolicy: Exclusive
inheritedAccess: Deny
accessTests:
- name: oncall-from-the-office
  member: user:oncall@acme.com
  groups: ["group:sre@acme.com"]
  from: {ip: 203.0.113.7, region: DE, path: /admin/, host: ops.acme.com, at: "2027-01-04T10:00:00Z", device: {screen_lock: "true", encryption: ENCRYPTED}}
  expect: Allow
- name: contractor-from-home
  member: user:contractor@acme.com
  from: {ip: "2001:db8::1"}
  expect: Deny
`,
		"longest service name (49 characters)": `
service: {project: acme-prod, location: europe-west4, name: ` + "a" + strings.Repeat("b", 48) + `}
`,
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			if err := k8s.Create(context.Background(), object(t, spec)); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

const commentEndsMessage = "CEL implementations disagree on where a // comment ends"

func TestInvalidManifestsAreRejectedWithAClearMessage(t *testing.T) {
	group := func(members, context string) string {
		s := minimalService + "accessGroups:\n- name: g\n  members: " + members + "\n"
		if context != "" {
			s += "  context: " + context + "\n"
		}
		return s
	}
	cases := []struct {
		name, spec, wantMessage string
	}{
		{"project too short", `service: {project: acme, location: us-central1, name: svc}`, "spec.service.project"},
		{"project with upper case", `service: {project: Acme-prod, location: us-central1, name: svc}`, "spec.service.project"},
		{"project ending in a hyphen", `service: {project: acme-prod-, location: us-central1, name: svc}`, "spec.service.project"},
		{"project starting with a digit", `service: {project: 1acme-prod, location: us-central1, name: svc}`, "spec.service.project"},
		{"location not a region", `service: {project: acme-prod, location: us_central1, name: svc}`, "spec.service.location"},
		{"service name with upper case", `service: {project: acme-prod, location: us-central1, name: Billing}`, "spec.service.name"},
		{"service name ending in a hyphen", `service: {project: acme-prod, location: us-central1, name: billing-}`, "spec.service.name"},
		{"service name of 50 characters", `service: {project: acme-prod, location: us-central1, name: ` + strings.Repeat("a", 50) + `}`, "spec.service.name"},
		{"service missing", `iap: {enabled: true}`, "spec.service: Required value"},
		{"member with unknown prefix", group(`["person:jane@acme.com"]`, ""), "spec.accessGroups[0].members[0]"},
		{"user that is not an email", group(`["user:jane"]`, ""), "spec.accessGroups[0].members[0]"},
		{"domain that is an email", group(`["domain:jane@acme.com"]`, ""), "spec.accessGroups[0].members[0]"},
		{"allUsers", group(`["allUsers"]`, ""), "allUsers and allAuthenticatedUsers cannot be IAP members"},
		{"allAuthenticatedUsers", group(`["allAuthenticatedUsers"]`, ""), "allUsers and allAuthenticatedUsers cannot be IAP members"},
		{"deleted principal", group(`["deleted:user:jane@acme.com?uid=123"]`, ""), "deleted: principals cannot be granted"},
		{"principal outside IAM", group(`["principal://example.com/jane"]`, ""), "spec.accessGroups[0].members[0]"},
		{"empty members", group(`[]`, ""), "spec.accessGroups[0].members"},
		{"duplicate member", group(`["user:a@acme.com", "user:a@acme.com"]`, ""), "Duplicate value"},
		{"duplicate group name", minimalService + `
accessGroups:
- {name: g, members: ["user:a@acme.com"]}
- {name: g, members: ["user:b@acme.com"]}
`, "Duplicate value"},
		{"group name not a DNS label", minimalService + `
accessGroups:
- {name: Finance_Team, members: ["user:a@acme.com"]}
`, "spec.accessGroups[0].name"},
		{"access level in the wrong form", group(`["user:a@acme.com"]`, `{accessLevels: ["corp_managed_device"]}`), "spec.accessGroups[0].context.accessLevels[0]"},
		{"access level name over 50 characters", group(`["user:a@acme.com"]`, `{accessLevels: ["accessPolicies/123/accessLevels/a`+strings.Repeat("b", 50)+`"]}`), "spec.accessGroups[0].context.accessLevels[0]"},
		{"path prefix without a slash", group(`["user:a@acme.com"]`, `{pathPrefixes: ["reports/"]}`), "spec.accessGroups[0].context.pathPrefixes[0]"},
		{"host with a scheme", group(`["user:a@acme.com"]`, `{hosts: ["https://billing.acme.com"]}`), "spec.accessGroups[0].context.hosts[0]"},
		{"host with a port", group(`["user:a@acme.com"]`, `{hosts: ["billing.acme.com:443"]}`), "spec.accessGroups[0].context.hosts[0]"},
		{"notBefore after notAfter", group(`["user:a@acme.com"]`, `{notBefore: "2027-01-01T00:00:00Z", notAfter: "2026-01-01T00:00:00Z"}`), "notBefore must be earlier than notAfter"},
		{"notAfter not a time", group(`["user:a@acme.com"]`, `{notAfter: "next tuesday"}`), "notAfter"},
		{"expression too long", group(`["user:a@acme.com"]`, `{expression: "`+strings.Repeat("a", 1025)+`"}`), "spec.accessGroups[0].context.expression"},
		{"expression with a carriage return ending a comment", group(`["user:a@acme.com"]`, `{expression: "false // note\r) || (true"}`), commentEndsMessage},
		{"expression with a CRLF line break", group(`["user:a@acme.com"]`, `{expression: "request.host == 'a'\r\n|| false"}`), commentEndsMessage},
		{"expression with a Unicode line separator", group(`["user:a@acme.com"]`, `{expression: "false // note\u2028) || (true"}`), commentEndsMessage},
		{"expression with a Unicode paragraph separator", group(`["user:a@acme.com"]`, `{expression: "false // note\u2029) || (true"}`), commentEndsMessage},
		{"expression with a next-line character", group(`["user:a@acme.com"]`, `{expression: "false // note\u0085) || (true"}`), commentEndsMessage},
		{"expression with a NUL", group(`["user:a@acme.com"]`, `{expression: "true\0"}`), commentEndsMessage},
		{"expression with a vertical tab", group(`["user:a@acme.com"]`, `{expression: "true\v&& true"}`), commentEndsMessage},
		{"inherited access denied under Merge", minimalService + "inheritedAccess: Deny\n", "inheritedAccess: Deny needs bindingPolicy: Exclusive"},
		{"unknown inheritedAccess", minimalService + "inheritedAccess: Ignore\n", `supported values: "Report", "Deny"`},
		{"access test by a group", minimalService + "accessTests: [{name: t, member: \"group:eng@acme.com\", expect: Allow}]\n", "spec.accessTests[0].member"},
		{"access test from a host name for an IP", minimalService + "accessTests: [{name: t, member: \"user:a@acme.com\", from: {ip: office.acme.com}, expect: Allow}]\n", "ip must be an IPv4 or IPv6 address"},
		{"access test with an unknown expectation", minimalService + "accessTests: [{name: t, member: \"user:a@acme.com\", expect: Maybe}]\n", `supported values: "Allow", "Deny"`},
		{"access test path without a slash", minimalService + "accessTests: [{name: t, member: \"user:a@acme.com\", from: {path: admin}, expect: Deny}]\n", "spec.accessTests[0].from.path"},
		{"duplicate access test", minimalService + "accessTests: [{name: t, member: \"user:a@acme.com\", expect: Deny}, {name: t, member: \"user:b@acme.com\", expect: Deny}]\n", "Duplicate value"},
		{"unknown publicAccess", minimalService + "publicAccess: Sometimes\n", `supported values: "Deny", "Allow"`},
		{"unknown bindingPolicy", minimalService + "bindingPolicy: Authoritative\n", `supported values: "Merge", "Exclusive"`},
		{"unknown mode", minimalService + "mode: DryRun\n", `supported values: "Enforce", "Observe"`},
		{"unknown deletionPolicy", minimalService + "deletionPolicy: Orphan\n", `supported values: "Delete", "Abandon"`},
		{"empty settings", minimalService + "iap: {settings: {}}\n", "spec.iap.settings"},
		{"settings with IAP off", minimalService + "iap: {enabled: false, settings: {cors: {allowHTTPOptions: true}}}\n", "iap.settings apply only while IAP is on"},
		{"access-denied page over http", minimalService + "iap: {settings: {accessDeniedPage: {uri: \"http://help.acme.com\"}}}\n", "uri must be an absolute https:// URL"},
		{"access-denied page not a URL", minimalService + "iap: {settings: {accessDeniedPage: {uri: \"help page\"}}}\n", "uri must be an absolute https:// URL"},
		{"empty access-denied page", minimalService + "iap: {settings: {accessDeniedPage: {}}}\n", "spec.iap.settings.accessDeniedPage"},
		{"unknown reauthentication method", minimalService + "iap: {settings: {reauthentication: {method: Password, maxAge: 1h}}}\n", `supported values: "Login", "SecureKey", "EnrolledSecondFactors"`},
		{"reauthentication without maxAge", minimalService + "iap: {settings: {reauthentication: {method: Login}}}\n", "spec.iap.settings.reauthentication.maxAge: Required value"},
		{"reauthentication maxAge too short", minimalService + "iap: {settings: {reauthentication: {method: Login, maxAge: 1m}}}\n", "maxAge must be at least 5m"},
		{"reauthentication maxAge with a fraction of a second", minimalService + "iap: {settings: {reauthentication: {method: Login, maxAge: 10m0.5s}}}\n", "maxAge must be hours, minutes and whole seconds"},
		{"nothing to clear", minimalService + "iap: {settings: {clear: []}}\n", "spec.iap.settings.clear"},
		{"reauthentication maxAge not a duration", minimalService + "iap: {settings: {reauthentication: {method: Login, maxAge: a day}}}\n", "spec.iap.settings.reauthentication.maxAge"},
		{"unknown reauthentication policy", minimalService + "iap: {settings: {reauthentication: {method: Login, maxAge: 1h, policy: Strict}}}\n", `supported values: "Minimum", "Default"`},
		{"allowed domain with a scheme", minimalService + "iap: {settings: {allowedDomains: [\"https://acme.com\"]}}\n", "spec.iap.settings.allowedDomains[0]"},
		{"allowed domain with a wildcard inside", minimalService + "iap: {settings: {allowedDomains: [\"app.*.acme.com\"]}}\n", "spec.iap.settings.allowedDomains[0]"},
		{"empty allowed domains", minimalService + "iap: {settings: {allowedDomains: []}}\n", "spec.iap.settings.allowedDomains"},
		{"programmatic client with spaces", minimalService + "iap: {settings: {programmaticClients: [\"my client\"]}}\n", "spec.iap.settings.programmaticClients[0]"},
		{"duplicate programmatic client", minimalService + "iap: {settings: {programmaticClients: [a.apps.googleusercontent.com, a.apps.googleusercontent.com]}}\n", "Duplicate value"},
		{"unknown setting to clear", minimalService + "iap: {settings: {clear: [CookieDomain]}}\n", `supported values: "AccessDeniedPage"`},
		{"setting both declared and cleared", minimalService + "iap: {settings: {cors: {allowHTTPOptions: true}, clear: [CORS]}}\n", "a setting cannot be both declared and listed under clear"},
		{"more than 1,500 principals", minimalService + "accessGroups:\n" + manyMembers(2, 800), "at most 1,500 principals"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectRejected(t, k8s.Create(context.Background(), object(t, tc.spec)), tc.wantMessage)
		})
	}
}

// expectRejected fails unless the API server refused an object as invalid with a message that
// mentions want.
func expectRejected(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want rejection mentioning %q", want)
	}
	if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
		t.Fatalf("rejected with %v, want an Invalid error", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q does not mention %q", err.Error(), want)
	}
}

func TestLongObjectNameIsRejected(t *testing.T) {
	u := object(t, minimalService)
	u.SetName(strings.Repeat("a", 64))
	err := k8s.Create(context.Background(), u)
	if err == nil || !strings.Contains(err.Error(), "metadata.name must be at most 63 characters") {
		t.Fatalf("got %v, want the 63-character rule", err)
	}
}

func manyMembers(groups, perGroup int) string {
	var b strings.Builder
	for g := range groups {
		fmt.Fprintf(&b, "- name: g%d\n  members:\n", g)
		for m := range perGroup {
			fmt.Fprintf(&b, "  - user:u%d-%d@acme.com\n", g, m)
		}
	}
	return b.String()
}

func TestServiceIsImmutable(t *testing.T) {
	ctx := context.Background()
	u := object(t, minimalService)
	if err := k8s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	var ps iapv1alpha1.ProtectedService
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), &ps); err != nil {
		t.Fatal(err)
	}
	for _, change := range []func(*iapv1alpha1.ServiceRef){
		func(s *iapv1alpha1.ServiceRef) { s.Name = "other-service" },
		func(s *iapv1alpha1.ServiceRef) { s.Project = "other-project" },
		func(s *iapv1alpha1.ServiceRef) { s.Location = "europe-west1" },
	} {
		changed := ps.DeepCopy()
		change(&changed.Spec.Service)
		err := k8s.Update(ctx, changed)
		if err == nil || !strings.Contains(err.Error(), "spec.service is immutable") {
			t.Errorf("changing the target to %s: got %v, want the immutability message", changed.Spec.Service, err)
		}
	}
	// Everything else stays editable.
	edited := ps.DeepCopy()
	edited.Spec.PublicAccess = iapv1alpha1.PublicAccessAllow
	if err := k8s.Update(ctx, edited); err != nil {
		t.Fatalf("editing publicAccess: %v", err)
	}
}
