package frontdoor

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
)

const (
	host      = "reports-abcdefghij-ew.a.run.app"
	serviceAt = "projects/512345678901/iap_web/cloud_run-europe-west1/services/reports"
	accessor  = "roles/iap.httpsResourceAccessor"
	org       = "organizations/42"
	levelCorp = "accessPolicies/7/accessLevels/corp"
)

// memoryWorld is a World held in maps.
type memoryWorld struct {
	services map[string]Service
	policies map[string]*iampb.Policy
	levels   map[string]*accesscontextmanagerpb.AccessLevel
	now      time.Time
}

func (w *memoryWorld) ServiceByHost(h string) (Service, bool) { s, ok := w.services[h]; return s, ok }
func (w *memoryWorld) Policy(r string) (*iampb.Policy, bool)  { p, ok := w.policies[r]; return p, ok }
func (w *memoryWorld) RolePermissions(role string) ([]string, bool) {
	perms, ok := map[string][]string{accessor: {AccessPermission}, "roles/owner": {"iap.tunnelInstances.accessViaIAP"}}[role]
	return perms, ok
}
func (w *memoryWorld) AccessLevels(o string) map[string]*accesscontextmanagerpb.AccessLevel {
	if o != org {
		return nil
	}
	return w.levels
}
func (w *memoryWorld) Now() time.Time { return w.now }

// newWorld holds one service behind IAP in a project under folders/9 and org, whose IAP
// resource grants bindings.
func newWorld(bindings ...*iampb.Binding) *memoryWorld {
	return &memoryWorld{
		services: map[string]Service{host: {Name: "projects/acme-prod/locations/europe-west1/services/reports", ProjectID: "acme-prod",
			ProjectNumber: 512345678901, Region: "europe-west1", ID: "reports", IAPEnabled: true, Ancestors: []string{"folders/9", org}}},
		policies: map[string]*iampb.Policy{serviceAt: {Bindings: bindings}},
		levels: map[string]*accesscontextmanagerpb.AccessLevel{levelCorp: {Name: levelCorp, Level: &accesscontextmanagerpb.AccessLevel_Basic{
			Basic: &accesscontextmanagerpb.BasicLevel{Conditions: []*accesscontextmanagerpb.Condition{{IpSubnetworks: []string{"203.0.113.0/24"}}}}}}},
		now: time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC),
	}
}

func binding(role, condition string, members ...string) *iampb.Binding {
	b := &iampb.Binding{Role: role, Members: members}
	if condition != "" {
		b.Condition = &expr.Expr{Title: "test", Expression: condition}
	}
	return b
}

// get sends a request for the service's URL with the test headers.
func get(t *testing.T, w World, path string, headers map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "https://"+host+path, nil)
	r.RemoteAddr = "192.0.2.10:5555"
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	New(w, nil).ServeHTTP(rec, r)
	return rec.Result()
}

func TestServeHTTP_LetsAGrantedUserThroughWithIAPsIdentityHeaders(t *testing.T) {
	resp := get(t, newWorld(binding(accessor, "", "user:alice@acme.com")), "/reports/q3", map[string]string{HeaderPrincipal: "user:Alice@acme.com"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get(HeaderUserEmail); got != "accounts.google.com:alice@acme.com" {
		t.Errorf("%s = %q", HeaderUserEmail, got)
	}
	if got := resp.Header.Get(HeaderUserID); !regexp.MustCompile(`^accounts\.google\.com:[0-9]{21}$`).MatchString(got) {
		t.Errorf("%s = %q, want accounts.google.com: and a 21-digit ID", HeaderUserID, got)
	}
	var a Answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	if want := (Answer{Service: "projects/acme-prod/locations/europe-west1/services/reports", Path: "/reports/q3", IAP: true,
		Email: resp.Header.Get(HeaderUserEmail), UserID: resp.Header.Get(HeaderUserID)}); a != want {
		t.Errorf("body %+v, want %+v", a, want)
	}
}

func TestServeHTTP_DeniesWithABodyThatNamesNothingOfThePolicy(t *testing.T) {
	resp := get(t, newWorld(binding(accessor, `request.path.startsWith("/public/")`, "user:alice@acme.com")), "/private",
		map[string]string{HeaderPrincipal: "user:alice@acme.com"})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	for _, secret := range []string{"public", accessor, "alice", "condition"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("the denial %q names %q", body, secret)
		}
	}
	if resp.Header.Get(HeaderUserEmail) != "" {
		t.Error("a denied request carries an identity header")
	}
}

func TestServeHTTP_StatusForEachKindOfRequest(t *testing.T) {
	offWorld := newWorld()
	svc := offWorld.services[host]
	svc.IAPEnabled = false
	offWorld.services[host] = svc
	for _, tc := range []struct {
		name    string
		world   World
		headers map[string]string
		want    int
	}{
		{"a host no service answers at", &memoryWorld{}, nil, http.StatusNotFound},
		{"IAP off: not checked", offWorld, nil, http.StatusOK},
		{"anonymous, nothing public", newWorld(binding(accessor, "", "allAuthenticatedUsers")), nil, http.StatusUnauthorized},
		{"anonymous, allUsers granted", newWorld(binding(accessor, "", "allUsers")), nil, http.StatusOK},
		{"malformed device header", newWorld(), map[string]string{HeaderDevice: "screenlock=yes"}, http.StatusBadRequest},
		{"malformed principal", newWorld(), map[string]string{HeaderPrincipal: "alice@acme.com"}, http.StatusBadRequest},
		{"malformed time", newWorld(), map[string]string{HeaderTime: "tomorrow"}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(t, tc.world, "/", tc.headers).StatusCode; got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
}

// Cases the cross-check leaves out because runguard cannot decide them, and behaviour only the
// front door has.
func TestDecide_FrontDoorChoices(t *testing.T) {
	alice := map[string]string{HeaderPrincipal: "user:alice@acme.com"}
	for _, tc := range []struct {
		name    string
		binding *iampb.Binding
		headers map[string]string
		want    int
	}{
		{"a federated identity is an authenticated user", binding(accessor, "", "allAuthenticatedUsers"),
			map[string]string{HeaderPrincipal: "principal://iam.googleapis.com/locations/global/workforcePools/p/subject/carol"}, http.StatusOK},
		{"a condition on the IAP resource's attributes grants nothing", binding(accessor, `resource.name.startsWith("projects/")`, "user:alice@acme.com"), alice, http.StatusForbidden},
		{"a condition that does not compile grants nothing", binding(accessor, `request.path.nope(`, "user:alice@acme.com"), alice, http.StatusForbidden},
		{"request.time is the fake's clock without the header", binding(accessor, `request.time < timestamp("2026-06-15T12:00:01Z")`, "user:alice@acme.com"), alice, http.StatusOK},
		{"the source IP is the connection's without the header", binding(accessor, `"`+levelCorp+`" in request.auth.access_levels`, "user:alice@acme.com"), alice, http.StatusForbidden},
		{"the source IP header", binding(accessor, `"`+levelCorp+`" in request.auth.access_levels`, "user:alice@acme.com"),
			map[string]string{HeaderPrincipal: "user:alice@acme.com", HeaderSourceIP: "203.0.113.9"}, http.StatusOK},
		{"Owner does not pass IAP", binding("roles/owner", "", "user:alice@acme.com"), alice, http.StatusForbidden},
		{"a role the fake does not know carries nothing", binding("projects/acme-prod/roles/unknown", "", "user:alice@acme.com"), alice, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(t, newWorld(tc.binding), "/", tc.headers).StatusCode; got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDecide_InheritsFromEveryPolicyAboveTheService(t *testing.T) {
	for _, resource := range []string{"projects/512345678901/iap_web/cloud_run-europe-west1", "projects/512345678901/iap_web",
		"projects/acme-prod", "folders/9", org} {
		w := newWorld()
		w.policies[resource] = &iampb.Policy{Bindings: []*iampb.Binding{binding(accessor, "", "domain:acme.com")}}
		if got := get(t, w, "/", map[string]string{HeaderPrincipal: "user:alice@acme.com"}).StatusCode; got != http.StatusOK {
			t.Errorf("grant on %s: status %d, want 200", resource, got)
		}
	}
}
