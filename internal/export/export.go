// Package export turns what Google Cloud holds for a Cloud Run service into the ProtectedService
// that reproduces it, with notes on what the manifest cannot say. It is pure: the command that
// reads Google (cmd/runguard) hands it the service and its two IAM policies.
package export

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/type/expr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
)

// Observed is what Google holds for one service.
type Observed struct {
	// Target names the service as the user named its project (Google may answer with the number).
	Target        iapv1alpha1.ServiceRef
	Service       *runpb.Service
	InvokerPolicy *iampb.Policy
	AccessPolicy  *iampb.Policy
	// IAPAgent is the project's IAP service agent ("serviceAccount:service-N@gcp-sa-iap…").
	IAPAgent string
}

// Options shape the manifests.
type Options struct {
	// Cluster is the runguard cluster name whose markers count as this cluster's (--cluster-name).
	Cluster string
	// Namespace is metadata.namespace for services runguard does not manage yet ("" leaves it out).
	Namespace string
	Mode      iapv1alpha1.Mode
}

// Manifest is one exported ProtectedService.
type Manifest struct {
	Object *iapv1alpha1.ProtectedService
	// Notes are said above the manifest: how Google's state maps to it, and what it leaves out.
	Notes []string
	// Foreign are the accessor grants no runguard object owns, as access groups: Merge leaves
	// them alone, so the manifest carries them commented out, for a team that wants runguard to
	// take them over.
	Foreign []iapv1alpha1.AccessGroup
}

// maxGroups is the CRD's limit on spec.accessGroups.
const maxGroups = 20

// Build exports one service.
func Build(o Observed, opts Options) Manifest {
	m := Manifest{Object: &iapv1alpha1.ProtectedService{
		TypeMeta:   metav1.TypeMeta{APIVersion: iapv1alpha1.GroupVersion.String(), Kind: "ProtectedService"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Target.Name, Namespace: opts.Namespace},
		Spec: iapv1alpha1.ProtectedServiceSpec{
			Service:       o.Target,
			BindingPolicy: iapv1alpha1.BindingPolicyMerge,
			Mode:          opts.Mode,
		},
	}}
	spec := &m.Object.Spec
	iapOn := o.Service.GetIapEnabled()
	spec.IAP.Enabled = &iapOn
	spec.PublicAccess = publicAccess(o.Service, o.InvokerPolicy, &m)
	if iapOn && o.IAPAgent != "" && !iampolicy.HasMember(o.InvokerPolicy, iampolicy.InvokerRole, o.IAPAgent) {
		m.note("IAP is on but its service agent %s may not invoke the service, so IAP cannot reach it today: the plan will grant it %s (the one change this manifest makes).",
			o.IAPAgent, iampolicy.InvokerRole)
	}

	owner, others := markedOwners(o.AccessPolicy, opts.Cluster)
	if owner != nil {
		m.Object.Name, m.Object.Namespace = owner.Name, owner.Namespace
		m.note("runguard already manages this service as ProtectedService %s/%s (cluster %s): it is exported under that name and its access groups, so applying it updates that object — including mode %s and bindingPolicy Merge; keep the object's own mode and bindingPolicy if they differ. What Google does not hold (deletionPolicy, IAP settings, group order) comes from the defaults: compare with the object before applying.",
			owner.Namespace, owner.Name, owner.Cluster, opts.Mode)
	}
	for _, other := range others {
		m.note("bindings marked by runguard owner %s are left out: runguard leaves them to their owner and stalls with ServiceClaimed while they are there. If that cluster is the one you export for, run again with --cluster-name set to the manager's; do not apply this manifest before that: it does not know that object.", other)
	}
	var foreign []binding
	for _, b := range o.AccessPolicy.GetBindings() {
		if b.GetRole() != iampolicy.AccessorRole {
			continue
		}
		marker, marked := iampolicy.ParseMarker(b.GetCondition())
		switch {
		case marked && strings.HasPrefix(marker.Group, iapv1alpha1.GrantGroupPrefix):
			// An AccessGrant's binding: temporary, and its AccessGrant is the record, not the spec.
		case marked && owner != nil && marker.Owner == *owner:
			m.ownGroup(marker.Group, b)
		case marked:
			// Another owner's: said above.
		default:
			foreign = append(foreign, binding{members: b.GetMembers(), condition: b.GetCondition()})
		}
	}
	m.foreignGroups(foreign, len(spec.AccessGroups))
	return m
}

func (m *Manifest) note(format string, args ...any) {
	m.Notes = append(m.Notes, fmt.Sprintf(format, args...))
}

// publicAccess is Allow when anyone may invoke the service: a public invoker grant, or the
// invoker IAM check switched off.
func publicAccess(svc *runpb.Service, invoker *iampb.Policy, m *Manifest) iapv1alpha1.PublicAccess {
	var public []string
	for _, member := range []string{"allUsers", "allAuthenticatedUsers"} {
		if iampolicy.HasMember(invoker, iampolicy.InvokerRole, member) {
			public = append(public, member)
		}
	}
	if svc.GetInvokerIamDisabled() {
		public = append(public, "invoker_iam_disabled")
	}
	if len(public) == 0 {
		return iapv1alpha1.PublicAccessDeny
	}
	consent := ""
	if !svc.GetIapEnabled() {
		// The admission policy asks for the namespace's consent to IAP off with publicAccess Allow.
		consent = " With IAP off, the namespace needs the annotation iap.runguard.dev/allow-public: \"true\" (docs/tenancy.md)."
	}
	m.note("the service is public (%s): publicAccess is Allow so nothing changes.%s Set publicAccess: Deny to revoke it.",
		strings.Join(public, ", "), consent)
	return iapv1alpha1.PublicAccessAllow
}

// markedOwners finds the runguard owner of this cluster whose markers are on the accessor role,
// and lists the others.
func markedOwners(p *iampb.Policy, cluster string) (*iampolicy.Owner, []string) {
	var own *iampolicy.Owner
	var others []string
	for _, b := range p.GetBindings() {
		marker, ok := iampolicy.ParseMarker(b.GetCondition())
		if !ok || b.GetRole() != iampolicy.AccessorRole {
			continue
		}
		switch {
		case marker.Owner.Cluster == cluster && own == nil:
			o := marker.Owner
			own = &o
		case own != nil && marker.Owner == *own:
			// The owner already found: one entry per owner.
		case !slices.Contains(others, marker.Owner.String()):
			others = append(others, marker.Owner.String())
		}
	}
	return own, others
}

// ownGroup exports one of the owner's bindings as the access group it was written for.
func (m *Manifest) ownGroup(name string, b *iampb.Binding) {
	var kept []string
	for _, member := range b.GetMembers() {
		if reason := unrepresentable(member); reason != "" {
			m.note("group %s: member %s cannot be declared (%s): left out, so Enforce will remove it from the binding.", name, member, reason)
			continue
		}
		kept = append(kept, member)
	}
	if len(kept) == 0 {
		return
	}
	g := iapv1alpha1.AccessGroup{Name: name, Members: members(kept)}
	c, exact := decompile(b.GetCondition().GetExpression())
	if !exact {
		m.note("group %s: its condition is not in the form runguard writes (changed by hand?); it is kept as a raw expression, which runguard will rewrite in canonical form.", name)
	}
	g.Context = apiContext(c)
	m.Object.Spec.AccessGroups = append(m.Object.Spec.AccessGroups, g)
}

// decompile is DecompileCondition, keeping the whole expression raw when it is not exactly what
// the compiler writes, or when its time window has fractions of a second, which a
// ProtectedService (whole seconds) cannot hold.
func decompile(expression string) (iampolicy.Context, bool) {
	c, exact := iampolicy.DecompileCondition(expression)
	subSecond := func(t *time.Time) bool { return t != nil && t.Nanosecond() != 0 }
	if !exact || subSecond(c.NotBefore) || subSecond(c.NotAfter) {
		return iampolicy.Context{Expression: expression}, false
	}
	return c, true
}

// binding is an accessor grant no runguard object owns.
type binding struct {
	members   []string
	condition *expr.Expr
}

// foreignGroups groups the unowned grants by identical condition and says what Exclusive would
// remove. They stay out of spec.accessGroups: in Merge mode runguard leaves them alone, so the
// exported manifest changes nothing; declared, they would be granted again under runguard's
// marker.
func (m *Manifest) foreignGroups(grants []binding, used int) {
	if len(grants) == 0 {
		return
	}
	byCondition := map[string]*iapv1alpha1.AccessGroup{}
	var order []string
	var removals []string
	names := map[string]bool{}
	for _, g := range m.Object.Spec.AccessGroups {
		names[g.Name] = true
	}
	for _, b := range grants {
		title, expression := b.condition.GetTitle(), b.condition.GetExpression()
		when := ""
		if expression != "" {
			when = fmt.Sprintf(" when %q: %s", title, expression)
		}
		var representable []iapv1alpha1.Member
		for _, member := range b.members {
			removals = append(removals, member+when)
			if reason := unrepresentable(member); reason != "" {
				m.note("accessor grant to %s%s cannot be declared (%s): left out.", member, when, reason)
				continue
			}
			representable = append(representable, iapv1alpha1.Member(member))
		}
		if len(representable) == 0 {
			continue
		}
		key := title + "\x00" + expression
		g, ok := byCondition[key]
		if !ok {
			var ctx iampolicy.Context
			if expression != "" {
				ctx, _ = decompile(expression)
			}
			g = &iapv1alpha1.AccessGroup{Name: uniqueName(groupName(title, expression == ""), names), Context: apiContext(ctx)}
			byCondition[key] = g
			order = append(order, key)
		}
		g.Members = append(g.Members, representable...)
	}
	m.note("%d accessor grants are not runguard's. bindingPolicy Merge (as exported) leaves them as they are; Exclusive would remove them: %s. To have runguard manage them, move the groups commented out below into spec.accessGroups and set bindingPolicy: Exclusive: the plan then grants each under runguard's marker and removes the old grant.",
		len(removals), strings.Join(removals, "; "))
	for i, key := range order {
		if used+i >= maxGroups {
			var left []string
			for _, k := range order[i:] {
				left = append(left, byCondition[k].Name)
			}
			m.note("a ProtectedService holds at most %d access groups: the groups %s are left out of the commented-out list.", maxGroups, strings.Join(left, ", "))
			break
		}
		m.Foreign = append(m.Foreign, *byCondition[key])
	}
}

// unrepresentable says why a member cannot be an access group member ("" when it can).
func unrepresentable(member string) string {
	switch {
	case member == "allUsers" || member == "allAuthenticatedUsers":
		return "anyone through IAP is not something runguard declares"
	case strings.HasPrefix(member, "deleted:"):
		return "the principal was deleted"
	}
	return ""
}

var notNameChars = regexp.MustCompile(`[^a-z0-9]+`)

// groupName derives a group name from the condition's title.
func groupName(title string, unconditional bool) string {
	if unconditional {
		return "existing"
	}
	name := strings.Trim(notNameChars.ReplaceAllString(strings.ToLower(title), "-"), "-")
	if len(name) > 55 {
		name = strings.Trim(name[:55], "-")
	}
	if name == "" {
		return "existing-conditional"
	}
	return name
}

func uniqueName(base string, taken map[string]bool) string {
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	taken[name] = true
	return name
}

func members(in []string) []iapv1alpha1.Member {
	out := make([]iapv1alpha1.Member, 0, len(in))
	for _, m := range in {
		out = append(out, iapv1alpha1.Member(m))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// apiContext is the API's form of a compiler context; nil when it restricts nothing.
func apiContext(c iampolicy.Context) *iapv1alpha1.AccessContext {
	out := &iapv1alpha1.AccessContext{Expression: c.Expression}
	for _, l := range c.AccessLevels {
		out.AccessLevels = append(out.AccessLevels, iapv1alpha1.AccessLevelRef(l))
	}
	for _, p := range c.PathPrefixes {
		out.PathPrefixes = append(out.PathPrefixes, iapv1alpha1.PathPrefix(p))
	}
	for _, h := range c.Hosts {
		out.Hosts = append(out.Hosts, iapv1alpha1.Host(h))
	}
	if c.NotBefore != nil {
		t := metav1.NewTime(*c.NotBefore)
		out.NotBefore = &t
	}
	if c.NotAfter != nil {
		t := metav1.NewTime(*c.NotAfter)
		out.NotAfter = &t
	}
	if out.Expression == "" && out.AccessLevels == nil && out.PathPrefixes == nil && out.Hosts == nil && out.NotBefore == nil && out.NotAfter == nil {
		return nil
	}
	return out
}
