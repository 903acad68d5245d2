package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// gcloud runs the real Cloud SDK against the fake's REST surface, from a throwaway
// configuration: the properties are set through CLOUDSDK_* variables, which gcloud reads
// exactly like `gcloud config set auth/disable_credentials true` and friends.
type gcloud struct {
	t   *testing.T
	env []string
}

func newGcloud(t *testing.T, restEndpoint, project string) *gcloud {
	endpoint := "http://" + restEndpoint + "/"
	return &gcloud{t: t, env: append(os.Environ(),
		"CLOUDSDK_CONFIG="+t.TempDir(),
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
		"CLOUDSDK_CORE_PROJECT="+project,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_IAP="+endpoint,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER="+endpoint,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN="+endpoint,
	)}
}

// run runs one gcloud command and returns its standard output; a failure shows stderr.
func (g *gcloud) run(args ...string) string {
	g.t.Helper()
	cmd := exec.Command("gcloud", args...)
	cmd.Env = g.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		g.t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	g.t.Logf("gcloud %s (%s)", strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond))
	return stdout.String()
}

// policy runs a get-iam-policy command and decodes its JSON.
func (g *gcloud) policy(args ...string) adminapi.Policy {
	g.t.Helper()
	out := g.run(append(args, "--format=json")...)
	// gcloud (apitools) prints bytes fields such as the etag in URL-safe base64, which
	// encoding/json's []byte does not read; the etag is not compared, so it is dropped.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		g.t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	delete(raw, "etag")
	stripped, _ := json.Marshal(raw)
	var p adminapi.Policy
	if err := json.Unmarshal(stripped, &p); err != nil {
		g.t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return p
}

// Issue 11's acceptance: the Cloud SDK a user already trusts inspects and edits the fake.
func TestGcloud_InspectsAndEditsTheFake(t *testing.T) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("skipping the gcloud acceptance test: the Google Cloud SDK (gcloud) is not on PATH; " +
			"install it (https://cloud.google.com/sdk/docs/install) to run these commands against the fake")
	}
	s := newSystem(t)
	s.startFake(filepath.Join(s.root, "hack", "demo", "seed.yaml"))
	rest := s.fakeREST
	g := newGcloud(t, rest, "acme-prod")

	const (
		service  = "billing-dashboard"
		ref      = "acme-prod/us-central1/" + service
		accessor = "roles/iap.httpsResourceAccessor"
		invoker  = "roles/run.invoker"
		title    = "audit window"
	)
	iapTarget := []string{"--resource-type=cloud-run", "--service=" + service, "--region=us-central1"}
	iap := func(verb string, extra ...string) []string {
		return append(append([]string{"beta", "iap", "web", verb}, iapTarget...), extra...)
	}
	conditional := `--condition=expression=request.time < timestamp("2027-01-01T00:00:00Z"),title=` + title

	t.Run("projects describe", func(t *testing.T) {
		g := &gcloud{t: t, env: g.env}
		if got := strings.TrimSpace(g.run("projects", "describe", "acme-prod", "--format=value(projectNumber)")); got != "512345678901" {
			t.Errorf("projectNumber = %q, want the seeded 512345678901", got)
		}
	})

	t.Run("iap web IAM", func(t *testing.T) {
		s, g := s.on(t), &gcloud{t: t, env: g.env}
		if p := g.policy(iap("get-iam-policy")...); len(p.Bindings) != 0 {
			t.Fatalf("seeded IAP policy of %s = %s, want none", service, bindingsText(p))
		}
		g.run(iap("add-iam-policy-binding", "--member=user:cfo@acme.com", "--role="+accessor, "--condition=None")...)
		g.run(iap("add-iam-policy-binding", "--member=group:auditors@acme.com", "--role="+accessor, conditional)...)
		stored := s.service(ref).IAPPolicy
		if m, _ := boundMembers(stored, accessor, ""); !slices.Equal(m, []string{"user:cfo@acme.com"}) {
			t.Errorf("unconditional accessors in the fake = %v, want [user:cfo@acme.com]\n%s", m, bindingsText(stored))
		}
		if m, _ := boundMembers(stored, accessor, title); !slices.Equal(m, []string{"group:auditors@acme.com"}) {
			t.Errorf("accessors under %q in the fake = %v, want [group:auditors@acme.com]\n%s", title, m, bindingsText(stored))
		}
		shown := g.policy(iap("get-iam-policy")...)
		if shown.Version != 3 || len(shown.Bindings) != 2 || !grants(shown, accessor, "group:auditors@acme.com") {
			t.Errorf("gcloud shows %s (version %d), want both bindings at version 3", bindingsText(shown), shown.Version)
		}

		g.run(iap("remove-iam-policy-binding", "--member=user:cfo@acme.com", "--role="+accessor, "--condition=None")...)
		g.run(iap("remove-iam-policy-binding", "--member=group:auditors@acme.com", "--role="+accessor, conditional)...)
		if p := s.service(ref).IAPPolicy; len(p.Bindings) != 0 {
			t.Errorf("IAP policy after both removals = %s, want none", bindingsText(p))
		}
	})

	t.Run("run services IAM", func(t *testing.T) {
		s, g := s.on(t), &gcloud{t: t, env: g.env}
		const scheduler = "serviceAccount:scheduler@acme-prod.iam.gserviceaccount.com"
		if p := g.policy("run", "services", "get-iam-policy", service, "--region=us-central1"); !grants(p, invoker, scheduler) {
			t.Errorf("gcloud shows %s, want the seeded invoker %s", bindingsText(p), scheduler)
		}
		out := g.run("run", "services", "add-iam-policy-binding", service, "--region=us-central1", "--member=user:cfo@acme.com", "--role="+invoker)
		if !strings.Contains(out, "user:cfo@acme.com") {
			t.Errorf("add-iam-policy-binding printed %q, want the new policy with user:cfo@acme.com", out)
		}
		if p := s.service(ref).ServicePolicy; !grants(p, invoker, "user:cfo@acme.com") || !grants(p, invoker, scheduler) {
			t.Errorf("service policy in the fake = %s, want the scheduler and user:cfo@acme.com", bindingsText(p))
		}
		g.run("run", "services", "remove-iam-policy-binding", service, "--region=us-central1", "--member=user:cfo@acme.com", "--role="+invoker)
		if p := s.service(ref).ServicePolicy; grants(p, invoker, "user:cfo@acme.com") || !grants(p, invoker, scheduler) {
			t.Errorf("service policy after the removal = %s, want the scheduler only", bindingsText(p))
		}
	})

	t.Run("iap settings get", func(t *testing.T) {
		g := &gcloud{t: t, env: g.env}
		// Settings written over REST with a mask rooted at the request, as IAP documents; gcloud
		// must show them.
		// gcloud names the resource by --project as given: the project ID.
		name := "projects/acme-prod/iap_web/cloud_run-us-central1/services/" + service
		req, err := http.NewRequest(http.MethodPatch, "http://"+rest+"/v1/"+name+":iapSettings?updateMask=iapSettings.applicationSettings.cookieDomain",
			strings.NewReader(`{"applicationSettings": {"cookieDomain": "acme.com"}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PATCH %s:iapSettings: %s", name, resp.Status)
		}
		out := g.run(append([]string{"beta", "iap", "settings", "get", "--project=acme-prod", "--format=json"}, iapTarget...)...)
		var got struct {
			Name                string `json:"name"`
			ApplicationSettings struct {
				CookieDomain string `json:"cookieDomain"`
			} `json:"applicationSettings"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if got.Name != name || got.ApplicationSettings.CookieDomain != "acme.com" {
			t.Errorf("gcloud shows %s, want %s with cookieDomain acme.com", out, name)
		}
	})
}
