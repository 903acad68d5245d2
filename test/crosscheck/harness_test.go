package crosscheck_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/gcpfake/frontdoor"
	"github.com/runguard/runguard/internal/reach"
)

// The world every case starts from: acme-prod in folder apps (200), in folder platform (100), in
// the organization, whose organization-level access policy holds testLevels.
const (
	project      = "acme-prod"
	number       = 512345678901
	region       = "europe-west1"
	organization = "organizations/100200300400"
	topFolder    = "folders/100"
	accessPolicy = "accessPolicies/123456789"
	accessor     = "roles/iap.httpsResourceAccessor"
	iapUserRole  = "projects/acme-prod/roles/iapUser"
	iapAdminRole = "projects/acme-prod/roles/iapPolicyReader"
	defaultIP    = "198.51.100.7" // in none of the levels' ranges
	defaultTime  = "2026-06-15T12:00:00Z"
	hostVar      = "{{host}}" // a condition's stand-in for the service's URL host
)

// place is where a case grants.
type place int

const (
	onService place = iota
	onOtherService
	onRegion
	onIAPWeb
	onProject
	onTopFolder
	onOrganization
)

func (p place) resource() string {
	return [...]string{
		fmt.Sprintf("projects/%d/iap_web/cloud_run-%s/services/reports", number, region),
		fmt.Sprintf("projects/%d/iap_web/cloud_run-%s/services/billing", number, region),
		fmt.Sprintf("projects/%d/iap_web/cloud_run-%s", number, region),
		fmt.Sprintf("projects/%d/iap_web", number),
		"projects/" + project, topFolder, organization,
	}[p]
}

// grant is one binding a case writes.
type grant struct {
	at        place
	role      string
	members   []string
	condition string
}

// caller is who sends the request and from where; what the headers say and runguard is told.
type caller struct {
	principal string
	groups    []string
	ip        string // "" = defaultIP
	region    string
	device    map[string]string
	path      string // "" = "/"
	time      string // "" = defaultTime
}

// crossCase is one request against one stored state, with the answer Google's documentation
// implies.
type crossCase struct {
	name   string
	source string
	grants []grant
	req    caller
	want   reach.Verdict // Allow or Deny
	// hide, when set, takes from runguard's request the facts the headers supply: runguard must
	// then answer DEPENDS, and with them agree with the front door.
	hide func(*reach.Request)
}

func runCases(t *testing.T, cases []crossCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.source == "" || (tc.want != reach.Allow && tc.want != reach.Deny) {
				t.Fatal("every case cites its source and expects ALLOW or DENY")
			}
			w := newWorld(t)
			w.store(t, tc.grants)
			status := w.frontDoor(t, tc.req)
			answer := w.runguard(t, tc.req, nil)
			wantStatus := map[reach.Verdict]int{reach.Allow: http.StatusOK, reach.Deny: http.StatusForbidden}[tc.want]
			if status != wantStatus || answer.Verdict != tc.want {
				t.Errorf("front door %d, runguard %s; want %s (%s)\nrunguard: %+v\nfront door: %s",
					status, answer.Verdict, tc.want, tc.source, answer, w.log.String())
			}
			if tc.hide != nil {
				if got := w.runguard(t, tc.req, tc.hide); got.Verdict != reach.Depends {
					t.Errorf("without the facts the headers give, runguard answers %s, want DEPENDS: %+v", got.Verdict, got)
				}
			}
		})
	}
}

// world is a running fake for one case.
type world struct {
	fake *gcpfake.Server
	host string // the service's URL host
	log  *bytes.Buffer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	log := &bytes.Buffer{}
	fake, err := gcpfake.Start(gcpfake.Options{Seed: seed(t), FrontDoorAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	svc, ok := fake.GetService(fmt.Sprintf("projects/%s/locations/%s/services/reports", project, region))
	if !ok {
		t.Fatal("the seeded service is missing")
	}
	u, err := url.Parse(svc.GetUri())
	if err != nil {
		t.Fatal(err)
	}
	return &world{fake: fake, host: u.Hostname(), log: log}
}

// store writes the case's grants, one allow policy per place, out of band.
func (w *world) store(t *testing.T, grants []grant) {
	t.Helper()
	policies := map[place]*iampb.Policy{}
	for _, g := range grants {
		if policies[g.at] == nil {
			policies[g.at] = &iampb.Policy{Version: 3}
		}
		b := &iampb.Binding{Role: g.role, Members: g.members}
		if g.condition != "" {
			b.Condition = &expr.Expr{Title: "case", Expression: strings.ReplaceAll(g.condition, hostVar, w.host)}
		}
		policies[g.at].Bindings = append(policies[g.at].Bindings, b)
	}
	for at, p := range policies {
		if err := w.fake.SetPolicy(at.resource(), p); err != nil {
			t.Fatalf("set the policy of %s: %v", at.resource(), err)
		}
	}
}

// frontDoor sends the request to the service's URI through the fake's front door.
func (w *world) frontDoor(t *testing.T, c caller) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, "https://"+w.host+pathOf(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	set := func(k, v string) {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	set(frontdoor.HeaderPrincipal, c.principal)
	set(frontdoor.HeaderGroups, strings.Join(c.groups, ","))
	set(frontdoor.HeaderSourceIP, ipOf(c))
	set(frontdoor.HeaderRegion, c.region)
	set(frontdoor.HeaderDevice, deviceHeader(c.device))
	set(frontdoor.HeaderTime, timeOf(c))
	resp, err := (&http.Client{Transport: frontdoor.Transport(w.fake.FrontDoorEndpoint())}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// runguard evaluates the request with reach over the bindings read back from the fake, in
// IAP's order, the custom roles as IAM's roles.get answers them, and the organization's levels.
func (w *world) runguard(t *testing.T, c caller, hide func(*reach.Request)) reach.Answer {
	t.Helper()
	bindings := w.readBindings(t)
	levels := w.fake.AccessLevels(accessPolicy)
	byName := map[string]*accessLevel{}
	for _, l := range levels {
		byName[l.GetName()] = l
	}
	when, err := time.Parse(time.RFC3339, timeOf(c))
	if err != nil {
		t.Fatal(err)
	}
	req := reach.Request{Member: c.principal, Groups: c.groups, GroupsKnown: true, IP: ipOf(c), RegionCode: c.region,
		Path: pathOf(c), Host: w.host, Time: when, Device: c.device}
	if hide != nil {
		hide(&req)
	}
	return reach.Evaluate(bindings, reach.RoleCarrier(w.customRoles(t, bindings)), byName, req)
}

// readBindings reads every policy above the service as runguard's reads do: the service's IAP
// resource, the region's, the project's iap_web, the project, its folders, its organization.
func (w *world) readBindings(t *testing.T) []reach.Binding {
	t.Helper()
	ancestors, ok := w.fake.Ancestors(project)
	if !ok {
		t.Fatal("the project has no ancestors")
	}
	type at struct {
		kind     reach.Kind
		resource string
	}
	chain := []at{{reach.Service, onService.resource()}, {reach.IAPRegion, onRegion.resource()},
		{reach.IAPProject, onIAPWeb.resource()}, {reach.Project, onProject.resource()}}
	for _, a := range ancestors {
		kind := reach.Folder
		if strings.HasPrefix(a, "organizations/") {
			kind = reach.Organization
		}
		chain = append(chain, at{kind, a})
	}
	var out []reach.Binding
	for _, a := range chain {
		p, ok := w.fake.Policy(a.resource)
		if !ok {
			t.Fatalf("%s does not exist", a.resource)
		}
		for _, b := range p.GetBindings() {
			out = append(out, reach.Binding{Where: reach.Where{Kind: a.kind, Resource: a.resource}, Role: b.GetRole(),
				Members: b.GetMembers(), Condition: b.GetCondition().GetExpression(), Title: b.GetCondition().GetTitle()})
		}
	}
	return out
}

// customRoles reads each custom role the bindings name through IAM's roles.get, as runguard
// does; a role IAM does not know has no permissions.
func (w *world) customRoles(t *testing.T, bindings []reach.Binding) map[string][]string {
	t.Helper()
	client, err := admin.NewIamClient(ctxT(t), w.fake.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	out := map[string][]string{}
	for _, b := range bindings {
		if strings.HasPrefix(b.Role, "roles/") {
			continue
		}
		if role, err := client.GetRole(ctxT(t), &adminpb.GetRoleRequest{Name: b.Role}); err == nil {
			out[b.Role] = role.GetIncludedPermissions()
		}
	}
	return out
}

func pathOf(c caller) string { return orDefault(c.path, "/") }
func ipOf(c caller) string   { return orDefault(c.ip, defaultIP) }
func timeOf(c caller) string { return orDefault(c.time, defaultTime) }

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func deviceHeader(facts map[string]string) string {
	var kv []string
	for k, v := range facts {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// seed is the world of every case: the hierarchy, two services behind IAP, the access policy
// with testLevels and the custom roles.
func seed(t *testing.T) gcpfake.Seed {
	t.Helper()
	var levels []json.RawMessage
	for _, l := range testLevels() {
		raw, err := protojson.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		levels = append(levels, raw)
	}
	return gcpfake.Seed{
		CustomRoles: map[string][]string{iapUserRole: {frontdoor.AccessPermission}, iapAdminRole: {"iap.webServices.getIamPolicy"}},
		Folders:     []gcpfake.Folder{{ID: "100", Parent: organization}, {ID: "200", Parent: topFolder}},
		Projects:    []gcpfake.Project{{ID: project, Number: number, Parent: "folders/200"}},
		Services: []gcpfake.Service{{Project: project, Location: region, Name: "reports", IAPEnabled: true},
			{Project: project, Location: region, Name: "billing", IAPEnabled: true}},
		AccessPolicies: []gcpfake.AccessPolicy{{Name: accessPolicy, Parent: organization, Title: "acme", AccessLevels: levels}},
	}
}
