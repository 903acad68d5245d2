package iampolicy

import (
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"
)

var (
	ownerA = Owner{Cluster: "prod-eu1", Namespace: "team-a", Name: "api"}
	ownerB = Owner{Cluster: "prod-eu1", Namespace: "team-b", Name: "web"}
	// ownerC is ownerA's twin in another cluster: same namespace and name.
	ownerC = Owner{Cluster: "prod-us1", Namespace: "team-a", Name: "api"}
)

const viewerRole = "roles/viewer"

func bind(role string, cond *expr.Expr, members ...string) *iampb.Binding {
	return &iampb.Binding{Role: role, Members: members, Condition: cond}
}

func pol(bindings ...*iampb.Binding) *iampb.Policy {
	return &iampb.Policy{Version: 3, Etag: []byte("BwWWja0YfJA="), Bindings: bindings}
}

func mustCondition(t testing.TB, o Owner, g AccessGroup) *expr.Expr {
	t.Helper()
	c, err := CompileCondition(o, g)
	if err != nil {
		t.Fatalf("CompileCondition(%v, %q): %v", o, g.Name, err)
	}
	return c
}

// ours is the binding runguard would write for g.
func ours(t testing.TB, o Owner, g AccessGroup, members ...string) *iampb.Binding {
	t.Helper()
	return bind(AccessorRole, mustCondition(t, o, g), members...)
}

func mustPlan(t testing.TB, current *iampb.Policy, d Desired) Plan {
	t.Helper()
	p, err := PlanAccess(current, d)
	if err != nil {
		t.Fatalf("PlanAccess: %v", err)
	}
	return p
}

func timeRef(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func assertPolicyEqual(t testing.TB, got, want *iampb.Policy) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("policy mismatch\n got: %s\nwant: %s", describePolicy(got), describePolicy(want))
	}
}

func describePolicy(p *iampb.Policy) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version=%d etag=%q", p.GetVersion(), p.GetEtag())
	for _, x := range p.GetBindings() {
		fmt.Fprintf(&b, "\n  %s %v", x.GetRole(), x.GetMembers())
		if c := x.GetCondition(); c != nil {
			fmt.Fprintf(&b, " if[%s | %s | %s]", c.GetTitle(), c.GetDescription(), c.GetExpression())
		}
	}
	for _, a := range p.GetAuditConfigs() {
		fmt.Fprintf(&b, "\n  audit %s", a.GetService())
	}
	return b.String()
}

// --- random policies and declarations, shared by fuzz, property and bench ---

type gen struct{ r *rand.Rand }

func newGen(seed int64) gen { return gen{rand.New(rand.NewSource(seed))} }

var memberPool = []string{
	"user:alice@example.com",
	"user:bob@example.com",
	"user:carol@example.org",
	"group:ops@example.com",
	"group:eng@example.com",
	"serviceAccount:ci@proj.iam.gserviceaccount.com",
	"domain:example.com",
	"principal://iam.googleapis.com/locations/global/workforcePools/p/subject/Alice",
	"principalSet://iam.googleapis.com/locations/global/workforcePools/p/group/Eng",
	"deleted:user:dave@example.com?uid=123",
}

var contextPool = []Context{
	{},
	{PathPrefixes: []string{"/admin/"}},
	{Hosts: []string{"a.example.com", "b.example.com"}},
	{AccessLevels: []string{"accessPolicies/123/accessLevels/corp"}},
	{NotAfter: timeRef("2030-01-01T00:00:00Z")},
	{NotBefore: timeRef("2024-01-01T00:00:00Z"), NotAfter: timeRef("2031-01-01T00:00:00Z")},
	{Expression: `request.path.endsWith(".json")`},
	{PathPrefixes: []string{"/a", "/b"}, Expression: `request.host != "x" // no x`},
}

var groupNames = []string{"admins", "devs", "viewers", "ops", "auditors"}

// recase returns m with its case changed at random where the rules allow
// it (email kinds and domain:); other members come back unchanged.
func (g gen) recase(m string) string {
	if !caseInsensitive(m) {
		return m
	}
	if g.r.Intn(3) == 0 {
		return strings.ToLower(m)
	}
	// Flip ASCII letters only: that is what Google does to emails, and
	// Unicode case mapping does not always round-trip.
	b := []byte(m)
	for i, c := range b {
		if g.r.Intn(2) == 0 && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func (g gen) members(max int) []string {
	n := g.r.Intn(max + 1)
	out := make([]string, 0, n)
	for range n {
		m := memberPool[g.r.Intn(len(memberPool))]
		if g.r.Intn(4) == 0 {
			m = g.recase(m)
		}
		out = append(out, m)
	}
	return out
}

func (g gen) groups() []AccessGroup {
	perm := g.r.Perm(len(groupNames))[:g.r.Intn(4)]
	out := make([]AccessGroup, 0, len(perm))
	for _, i := range perm {
		out = append(out, AccessGroup{
			Name:    groupNames[i],
			Members: g.members(4),
			Context: contextPool[g.r.Intn(len(contextPool))],
		})
	}
	return out
}

func (g gen) desired(o Owner) Desired {
	mode := Merge
	if g.r.Intn(3) == 0 {
		mode = Exclusive
	}
	return Desired{Owner: o, Role: AccessorRole, Mode: mode, Groups: g.groups()}
}

// foreignBinding is a binding nobody in the test owns: other roles,
// unmarked grants of the accessor role, look-alike markers.
func (g gen) foreignBinding() *iampb.Binding {
	switch g.r.Intn(6) {
	case 0:
		return bind(viewerRole, nil, g.members(3)...)
	case 1:
		return bind(AccessorRole, nil, g.members(3)...)
	case 2:
		return bind(AccessorRole, &expr.Expr{Title: "office hours", Expression: `request.time.getHours("Europe/Berlin") < 18`}, g.members(3)...)
	case 3:
		// Mentions runguard but is not a marker.
		return bind(AccessorRole, &expr.Expr{Title: "runguard:admins", Description: "copied from runguard docs", Expression: alwaysTrueExpression}, g.members(3)...)
	case 4:
		return bind(InvokerRole, nil, g.members(2)...)
	default:
		return bind(AccessorRole, &expr.Expr{Title: "expiring", Expression: `request.time < timestamp("2029-01-01T00:00:00Z")`}, g.members(2)...)
	}
}

func (g gen) policy() *iampb.Policy {
	p := &iampb.Policy{Version: int32([]int{0, 1, 3}[g.r.Intn(3)]), Etag: []byte(fmt.Sprintf("etag-%d", g.r.Intn(100)))}
	for range g.r.Intn(5) {
		p.Bindings = append(p.Bindings, g.foreignBinding())
	}
	if g.r.Intn(2) == 0 {
		p.AuditConfigs = []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ}}}}
	}
	return p
}

// ownedBy reports whether b is in the unit PlanAccess may change for d.
func ownedBy(b *iampb.Binding, d Desired) bool {
	role := d.Role
	if role == "" {
		role = AccessorRole
	}
	if b.GetRole() != role {
		return false
	}
	m, ok := ParseMarker(b.GetCondition())
	if ok {
		return m.Owner == d.Owner
	}
	return d.Mode == Exclusive
}

func outside(p *iampb.Policy, d Desired) []*iampb.Binding {
	var out []*iampb.Binding
	for _, b := range p.GetBindings() {
		if !ownedBy(b, d) {
			out = append(out, b)
		}
	}
	return out
}

type grant struct{ role, key, title, description, expression string }

func grants(p *iampb.Policy) map[grant]bool {
	out := map[grant]bool{}
	for _, b := range p.GetBindings() {
		c := b.GetCondition()
		for _, m := range b.GetMembers() {
			out[grant{b.GetRole(), memberKey(m), c.GetTitle(), c.GetDescription(), c.GetExpression()}] = true
		}
	}
	return out
}

// checkPlan asserts the invariants every plan must satisfy. before is a
// snapshot of current taken before planning.
func checkPlan(t testing.TB, before, current *iampb.Policy, d Desired, pl Plan, removalOnly bool) {
	t.Helper()
	if !proto.Equal(before, current) {
		t.Fatalf("input policy was mutated\nbefore: %s\n after: %s", describePolicy(before), describePolicy(current))
	}
	res := pl.Policy
	if res == nil {
		t.Fatal("plan has no policy")
	}
	if string(res.GetEtag()) != string(current.GetEtag()) {
		t.Fatalf("etag changed: %q -> %q", current.GetEtag(), res.GetEtag())
	}
	if !equalAuditConfigs(res, current) {
		t.Fatal("audit configs changed")
	}
	wantVersion := current.GetVersion()
	if wantVersion == 0 {
		wantVersion = 1
	}
	for _, b := range res.GetBindings() {
		if b.GetCondition() != nil {
			wantVersion = 3
		}
	}
	if res.GetVersion() != wantVersion {
		t.Fatalf("version = %d, want %d", res.GetVersion(), wantVersion)
	}
	a, b := outside(current, d), outside(res, d)
	if len(a) != len(b) {
		t.Fatalf("bindings outside the owned unit changed: %d -> %d\nbefore: %s\n after: %s", len(a), len(b), describePolicy(current), describePolicy(res))
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			t.Fatalf("binding outside the owned unit changed at %d\nbefore: %s\n after: %s", i, describePolicy(current), describePolicy(res))
		}
	}
	if pl.Changed != (len(pl.Added)+len(pl.Removed) > 0) || (pl.Diff() == "") == pl.Changed {
		t.Fatalf("Changed=%v but %d added, %d removed, diff %q", pl.Changed, len(pl.Added), len(pl.Removed), pl.Diff())
	}
	if !pl.Changed {
		cur := clonePolicy(current)
		cur.Version = res.Version
		assertPolicyEqual(t, res, cur)
	}
	if removalOnly {
		after := grants(res)
		prev := grants(current)
		for g := range after {
			if !prev[g] {
				t.Fatalf("removal-only plan added %+v", g)
			}
		}
		again, err := PlanAccessRemovalOnly(res, d)
		if err != nil || again.Changed {
			t.Fatalf("removal-only is not idempotent: err=%v diff=%q", err, again.Diff())
		}
		return
	}
	checkConverged(t, res, d)
	again, err := PlanAccess(res, d)
	if err != nil {
		t.Fatalf("re-plan: %v", err)
	}
	if again.Changed {
		t.Fatalf("not idempotent: second plan changes %q\npolicy: %s", again.Diff(), describePolicy(res))
	}
}

// checkConverged asserts the owned unit of p is exactly what d declares.
func checkConverged(t testing.TB, p *iampb.Policy, d Desired) {
	t.Helper()
	want := map[string]AccessGroup{}
	for _, g := range d.Groups {
		if len(g.Members) > 0 {
			want[g.Name] = g
		}
	}
	seen := map[string]bool{}
	for _, b := range p.GetBindings() {
		if !ownedBy(b, d) || len(b.GetMembers()) == 0 {
			continue
		}
		m, ok := ParseMarker(b.GetCondition())
		if !ok {
			t.Fatalf("Exclusive left an unmarked binding of %s: %v", b.GetRole(), b.GetMembers())
		}
		g, declared := want[m.Group]
		if !declared || seen[m.Group] {
			t.Fatalf("unexpected binding for group %q (declared=%v, duplicate=%v)", m.Group, declared, seen[m.Group])
		}
		seen[m.Group] = true
		if c := mustCondition(t, d.Owner, g); !proto.Equal(c, b.GetCondition()) {
			t.Fatalf("group %q has condition %v, want %v", m.Group, b.GetCondition(), c)
		}
		wantKeys := map[string]bool{}
		for _, x := range g.Members {
			wantKeys[memberKey(x)] = true
		}
		gotKeys := map[string]bool{}
		for _, x := range b.GetMembers() {
			gotKeys[memberKey(x)] = true
		}
		if fmt.Sprint(sortedKeys(gotKeys)) != fmt.Sprint(sortedKeys(wantKeys)) {
			t.Fatalf("group %q members %v, want %v", m.Group, sortedKeys(gotKeys), sortedKeys(wantKeys))
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d groups have bindings, want %d", len(seen), len(want))
	}
}

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

func equalAuditConfigs(a, b *iampb.Policy) bool {
	if len(a.GetAuditConfigs()) != len(b.GetAuditConfigs()) {
		return false
	}
	for i := range a.GetAuditConfigs() {
		if !proto.Equal(a.GetAuditConfigs()[i], b.GetAuditConfigs()[i]) {
			return false
		}
	}
	return true
}
