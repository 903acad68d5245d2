// Package tenancycases is the one table of namespace tenancy decisions: given a namespace's
// iap.runguard.dev/* annotations and a ProtectedService spec, is the object admitted, and if not,
// which rule refuses it and with what message. The admission policy (config/admission, tested
// against a real API server in test/admission) and the controller's rules (internal/tenancy)
// are both held to it, so the two cannot drift apart.
//
// It imports nothing from controllers/, whose own tests import it.
package tenancycases

import (
	"fmt"
	"strings"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// Rule names the namespace rule that refuses an object. When several would, the first in the
// controller's order (project, members, public) is the one reported.
type Rule string

const (
	// Admitted: no rule refuses the object.
	Admitted Rule = ""
	// RuleProject is allowed-projects: the controller's ProjectNotAllowed.
	RuleProject Rule = "project"
	// RuleMembers is allowed-members: the controller's MemberNotAllowed.
	RuleMembers Rule = "members"
	// RulePublic is allow-public for iap.enabled false with publicAccess Allow. The controller
	// refuses (WouldExposeService) only when Google says the service is public at that moment;
	// the admission policy cannot know that, so it asks for the namespace's consent up front.
	RulePublic Rule = "public"
)

// Case is one object in one namespace and the decision on it.
type Case struct {
	// Name describes the behaviour; it is a subtest name.
	Name string
	// Namespace is the namespace the object is in, as named in WantMessage. Every case has its
	// own, so all of them can exist in one API server at once.
	Namespace   string
	Annotations map[string]string
	Spec        iapv1alpha1.ProtectedServiceSpec
	WantRule    Rule
	// WantMessage is what the refusal says ("" when admitted). The admission policy says exactly
	// this. The controller's Stalled message for the same rule contains it: for RuleMembers it
	// adds what it did ("Only removals were applied."). For RulePublic the controller's message
	// differs in its parenthesis, which names the grant Google reports as public.
	WantMessage string
}

// Billing is the Cloud Run service every case targets.
var Billing = iapv1alpha1.ServiceRef{Project: "acme-prod", Location: "us-central1", Name: "svc-billing"}

const pool = "principalSet://iam.googleapis.com/locations/global/workforcePools/acme-pool/group/"

// Cases covers every tenancy case of controllers/tenancy_internal_test.go and
// controllers/protectedservice_stalled_test.go. Members are spelled as the CRD schema admits
// them (user:, group:, serviceAccount: in lower case), since nothing else reaches either check.
var Cases = []Case{
	// allowed-projects: "project", "project/location" or "project/location/service-glob".
	{Name: "no allowed-projects annotation allows nothing", Namespace: "projects-none",
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: noProjectAllowed("projects-none", Billing)},
	{Name: "an empty allowed-projects annotation allows nothing", Namespace: "projects-empty", Annotations: projects(""),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: noProjectAllowed("projects-empty", Billing)},
	{Name: "a blank allowed-projects annotation allows nothing", Namespace: "projects-blank", Annotations: projects("  "),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: noProjectAllowed("projects-blank", Billing)},
	{Name: "only commas allow nothing", Namespace: "projects-commas", Annotations: projects(",,"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-commas", ",,", Billing)},
	{Name: "the project allows every service in it", Namespace: "projects-project", Annotations: projects("acme-prod"),
		Spec: devs("user:alice@acme.com")},
	{Name: "one of several projects", Namespace: "projects-several", Annotations: projects("other-proj,acme-prod"),
		Spec: devs("user:alice@acme.com")},
	{Name: "spaces around entries are trimmed", Namespace: "projects-spaces", Annotations: projects("  other-proj ,  acme-prod  "),
		Spec: devs("user:alice@acme.com")},
	{Name: "the project in the service's location", Namespace: "projects-location", Annotations: projects("acme-prod/us-central1"),
		Spec: devs("user:alice@acme.com")},
	{Name: "the project in another location", Namespace: "projects-other-location", Annotations: projects("acme-prod/europe-west1"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-other-location", "acme-prod/europe-west1", Billing)},
	{Name: "a service glob that matches", Namespace: "projects-glob", Annotations: projects("acme-prod/us-central1/svc-*"),
		Spec: devs("user:alice@acme.com")},
	{Name: "every service in the location", Namespace: "projects-glob-all", Annotations: projects("acme-prod/us-central1/*"),
		Spec: devs("user:alice@acme.com")},
	{Name: "the service by its exact name", Namespace: "projects-service", Annotations: projects("acme-prod/us-central1/svc-billing"),
		Spec: devs("user:alice@acme.com")},
	{Name: "globs at the start and in the middle", Namespace: "projects-glob-middle", Annotations: projects("acme-prod/us-central1/*-b*g"),
		Spec: devs("user:alice@acme.com")},
	{Name: "a service glob for other services", Namespace: "projects-glob-other", Annotations: projects("acme-prod/us-central1/api-*"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-glob-other", "acme-prod/us-central1/api-*", Billing)},
	{Name: "every service in another location", Namespace: "projects-glob-other-location", Annotations: projects("acme-prod/europe-west1/*"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-glob-other-location", "acme-prod/europe-west1/*", Billing)},
	{Name: "a prefix of the project is another project", Namespace: "projects-prefix", Annotations: projects("acme"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-prefix", "acme", Billing)},
	{Name: "an extension of the project is another project", Namespace: "projects-extension", Annotations: projects("acme-prod-2"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-extension", "acme-prod-2", Billing)},
	{Name: "projects are named, not globbed", Namespace: "projects-star", Annotations: projects("*"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-star", "*", Billing)},
	{Name: "a project glob is literal", Namespace: "projects-project-glob", Annotations: projects("acme-*"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-project-glob", "acme-*", Billing)},
	{Name: "a location glob is literal", Namespace: "projects-location-glob", Annotations: projects("acme-prod/us-central*"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-location-glob", "acme-prod/us-central*", Billing)},
	{Name: "a location of * is literal", Namespace: "projects-location-star", Annotations: projects("acme-prod/*"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-location-star", "acme-prod/*", Billing)},
	{Name: "only * is special in a service glob", Namespace: "projects-glob-question", Annotations: projects("acme-prod/us-central1/svc-?illing"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-glob-question", "acme-prod/us-central1/svc-?illing", Billing)},
	{Name: "a dot in a service glob is literal", Namespace: "projects-glob-dot", Annotations: projects("acme-prod/us-central1/svc.billing"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-glob-dot", "acme-prod/us-central1/svc.billing", Billing)},
	{Name: "brackets in a service glob are literal", Namespace: "projects-glob-brackets", Annotations: projects("acme-prod/us-central1/[a-z]*"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-glob-brackets", "acme-prod/us-central1/[a-z]*", Billing)},
	{Name: `a \E in a service glob is literal`, Namespace: "projects-glob-backslash", Annotations: projects(`acme-prod/us-central1/svc-\E*`),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-glob-backslash", `acme-prod/us-central1/svc-\E*`, Billing)},
	{Name: "an entry with a fourth part", Namespace: "projects-four-parts", Annotations: projects("acme-prod/us-central1/svc-billing/extra"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-four-parts", "acme-prod/us-central1/svc-billing/extra", Billing)},
	{Name: "the same service in another project", Namespace: "projects-other-project", Annotations: projects("other-proj/us-central1/svc-billing"),
		Spec: devs("user:alice@acme.com"), WantRule: RuleProject, WantMessage: projectNotAllowed("projects-other-project", "other-proj/us-central1/svc-billing", Billing)},

	// allowed-members: glob patterns; an empty annotation admits everyone.
	{Name: "no allowed-members annotation admits everyone", Namespace: "members-none", Annotations: projects("acme-prod"),
		Spec: devs("user:eve@evil.example", "domain:evil.example")},
	{Name: "a pattern without a kind admits emails of every kind", Namespace: "members-kindless", Annotations: members("*@acme.com"),
		Spec: devs("user:alice@acme.com", "group:eng@acme.com", "serviceAccount:ci@acme.com")},
	{Name: "a pattern without a kind refuses other domains", Namespace: "members-kindless-refuses", Annotations: members("*@acme.com"),
		Spec:     devs("user:alice@acme.com", "user:eve@evil.example", "group:eng@acme.com.evil.example", "serviceAccount:ci@acme-prod.iam.gserviceaccount.com"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-kindless-refuses", "*@acme.com",
			"user:eve@evil.example, group:eng@acme.com.evil.example, serviceAccount:ci@acme-prod.iam.gserviceaccount.com")},
	{Name: "only the disallowed members are named", Namespace: "members-outsider", Annotations: members("*@acme.com"),
		Spec:     devs("user:alice@acme.com", "group:eng@acme.com", "user:eve@evil.example"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-outsider", "*@acme.com", "user:eve@evil.example")},
	{Name: "a kind pattern admits that kind only", Namespace: "members-kind", Annotations: members("group:*@acme.com"),
		Spec:     devs("group:eng@acme.com", "user:alice@acme.com", "serviceAccount:x@acme.com", "group:x@evil.example"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-kind", "group:*@acme.com", "user:alice@acme.com, serviceAccount:x@acme.com, group:x@evil.example")},
	{Name: "a group pattern refuses a user of the same domain", Namespace: "members-kind-narrow", Annotations: members("group:*@acme.com"),
		Spec:     devs("group:eng@acme.com", "user:alice@acme.com"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-kind-narrow", "group:*@acme.com", "user:alice@acme.com")},
	{Name: "a widened annotation admits the user", Namespace: "members-kind-widened", Annotations: members("group:*@acme.com, user:alice@acme.com"),
		Spec: devs("group:eng@acme.com", "user:alice@acme.com")},
	{Name: "several patterns with spaces around them", Namespace: "members-several", Annotations: members(" group:*@acme.com , user:alice@acme.com "),
		Spec:     devs("group:eng@acme.com", "user:alice@acme.com", "user:bob@acme.com"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-several", " group:*@acme.com , user:alice@acme.com ", "user:bob@acme.com")},
	{Name: "emails compare case-insensitively", Namespace: "members-email-case", Annotations: members("*@ACME.com"),
		Spec: devs("user:Alice@Acme.COM")},
	{Name: "a pattern's kind compares case-insensitively", Namespace: "members-kind-case", Annotations: members("GROUP:*@ACME.com"),
		Spec: devs("group:Eng@acme.COM")},
	{Name: "a glob inside an email compares case-insensitively", Namespace: "members-email-glob", Annotations: members("Contractor-*@ACME.com"),
		Spec:     devs("user:contractor-Bob@acme.com", "user:bob@acme.com"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-email-glob", "Contractor-*@ACME.com", "user:bob@acme.com")},
	{Name: "a domain pattern admits the domain member", Namespace: "members-domain", Annotations: members("acme.com"),
		Spec:     devs("domain:acme.com", "domain:evil.example"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-domain", "acme.com", "domain:evil.example")},
	{Name: "an exact email without a kind", Namespace: "members-exact-email", Annotations: members("alice@acme.com"),
		Spec:     devs("user:alice@acme.com", "group:alice@acme.com", "user:bob@acme.com"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-exact-email", "alice@acme.com", "user:bob@acme.com")},
	{Name: "a workforce pool pattern", Namespace: "members-workforce-pool", Annotations: members("principal://iam.googleapis.com/locations/global/workforcePools/acme/*"),
		Spec: devs("principal://iam.googleapis.com/locations/global/workforcePools/acme/subject/alice",
			"principal://iam.googleapis.com/locations/global/workforcePools/other/subject/alice"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-workforce-pool", "principal://iam.googleapis.com/locations/global/workforcePools/acme/*",
			"principal://iam.googleapis.com/locations/global/workforcePools/other/subject/alice")},
	{Name: "a pattern without a kind does not admit workforce subjects of any pool", Namespace: "members-kindless-principals", Annotations: members("*@acme.com"),
		Spec: devs("principal://iam.googleapis.com/locations/global/workforcePools/attacker-pool/subject/ceo@acme.com",
			"principalSet://iam.googleapis.com/locations/global/workforcePools/attacker-pool/group/admins@acme.com"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-kindless-principals", "*@acme.com",
			"principal://iam.googleapis.com/locations/global/workforcePools/attacker-pool/subject/ceo@acme.com, "+
				"principalSet://iam.googleapis.com/locations/global/workforcePools/attacker-pool/group/admins@acme.com")},
	{Name: "principal identifiers compare exactly", Namespace: "members-principal-case", Annotations: members(pool + "admins"),
		Spec:     devs(pool+"admins", pool+"ADMINS", pool+"Admins"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-principal-case", pool+"admins", pool+"ADMINS, "+pool+"Admins")},
	{Name: "a principal set glob", Namespace: "members-principal-glob", Annotations: members(pool + "*"),
		Spec: devs(pool + "anything")},
	{Name: "a glob inside a principal set compares exactly", Namespace: "members-principal-glob-inside",
		Annotations: members("principalSet://iam.googleapis.com/locations/global/workforcePools/*/group/admins"),
		Spec: devs(pool+"admins", "principalSet://iam.googleapis.com/locations/global/workforcePools/other-pool/group/admins",
			pool+"ADMINS", "principalSet://iam.googleapis.com/locations/global/workforcePools/acme-pool/group/admins-and-more"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-principal-glob-inside", "principalSet://iam.googleapis.com/locations/global/workforcePools/*/group/admins",
			pool+"ADMINS, "+pool+"admins-and-more")},
	{Name: "an upper-cased principal pattern names another principal", Namespace: "members-principal-upper", Annotations: members(strings.ToUpper(pool) + "admins"),
		Spec:     devs(pool + "admins"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-principal-upper", strings.ToUpper(pool)+"admins", pool+"admins")},
	{Name: "a pattern with a globbed kind compares the whole member exactly", Namespace: "members-glob-kind", Annotations: members("*:alice@acme.com"),
		Spec:     devs("user:alice@acme.com", "user:Alice@acme.com"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-glob-kind", "*:alice@acme.com", "user:Alice@acme.com")},
	{Name: "disallowed members are listed across groups in order", Namespace: "members-groups", Annotations: members("*@acme.com"),
		Spec: iapv1alpha1.ProtectedServiceSpec{Service: Billing, AccessGroups: []iapv1alpha1.AccessGroup{
			group("a", "user:x@evil.example", "user:alice@acme.com"),
			group("b", "user:bob@acme.com", "group:y@evil.example"),
		}},
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-groups", "*@acme.com", "user:x@evil.example, group:y@evil.example")},
	{Name: "more than five disallowed members are counted", Namespace: "members-many", Annotations: members("*@acme.com"),
		Spec: devs("user:a@evil.example", "user:b@evil.example", "user:c@evil.example", "user:d@evil.example",
			"user:e@evil.example", "user:f@evil.example", "user:alice@acme.com", "user:g@evil.example"),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("members-many", "*@acme.com",
			"user:a@evil.example, user:b@evil.example, user:c@evil.example, user:d@evil.example, user:e@evil.example and 2 more")},
	{Name: "members are judged only once the project is allowed", Namespace: "members-after-project",
		Annotations: map[string]string{iapv1alpha1.AnnotationAllowedProjects: "other-proj", iapv1alpha1.AnnotationAllowedMembers: "*@acme.com"},
		Spec:        devs("user:eve@evil.example"),
		WantRule:    RuleProject, WantMessage: projectNotAllowed("members-after-project", "other-proj", Billing)},

	// allow-public: switching IAP off on a service that stays public needs the namespace's consent.
	{Name: "IAP off with publicAccess Allow needs allow-public", Namespace: "public-refused", Annotations: projects("acme-prod"),
		Spec: iapOff(iapv1alpha1.PublicAccessAllow), WantRule: RulePublic, WantMessage: wouldExposeService("public-refused", Billing)},
	{Name: "allow-public true lets IAP go off on a public service", Namespace: "public-allowed",
		Annotations: map[string]string{iapv1alpha1.AnnotationAllowedProjects: "acme-prod", iapv1alpha1.AnnotationAllowPublic: "true"},
		Spec:        iapOff(iapv1alpha1.PublicAccessAllow)},
	{Name: "allow-public must be exactly true", Namespace: "public-capitalized",
		Annotations: map[string]string{iapv1alpha1.AnnotationAllowedProjects: "acme-prod", iapv1alpha1.AnnotationAllowPublic: "True"},
		Spec:        iapOff(iapv1alpha1.PublicAccessAllow), WantRule: RulePublic, WantMessage: wouldExposeService("public-capitalized", Billing)},
	{Name: "IAP off with publicAccess Deny is locked down first", Namespace: "public-deny", Annotations: projects("acme-prod"),
		Spec: iapOff(iapv1alpha1.PublicAccessDeny)},
	{Name: "publicAccess Allow behind IAP", Namespace: "public-behind-iap", Annotations: projects("acme-prod"),
		Spec: func() iapv1alpha1.ProtectedServiceSpec {
			s := devs("user:alice@acme.com")
			s.PublicAccess = iapv1alpha1.PublicAccessAllow
			return s
		}()},
	{Name: "members are judged before public access", Namespace: "public-after-members", Annotations: members("*@acme.com"),
		Spec: func() iapv1alpha1.ProtectedServiceSpec {
			s := iapOff(iapv1alpha1.PublicAccessAllow)
			s.AccessGroups = []iapv1alpha1.AccessGroup{group("devs", "user:eve@evil.example")}
			return s
		}(),
		WantRule: RuleMembers, WantMessage: membersNotAllowed("public-after-members", "*@acme.com", "user:eve@evil.example")},
}

func group(name string, members ...string) iapv1alpha1.AccessGroup {
	g := iapv1alpha1.AccessGroup{Name: name}
	for _, m := range members {
		g.Members = append(g.Members, iapv1alpha1.Member(m))
	}
	return g
}

// devs protects Billing with one access group.
func devs(members ...string) iapv1alpha1.ProtectedServiceSpec {
	return iapv1alpha1.ProtectedServiceSpec{Service: Billing, AccessGroups: []iapv1alpha1.AccessGroup{group("devs", members...)}}
}

func iapOff(access iapv1alpha1.PublicAccess) iapv1alpha1.ProtectedServiceSpec {
	off := false
	s := devs("user:alice@acme.com")
	s.IAP.Enabled = &off
	s.PublicAccess = access
	return s
}

func projects(allowed string) map[string]string {
	return map[string]string{iapv1alpha1.AnnotationAllowedProjects: allowed}
}

// members allows Billing's project, so the members rule is the one that decides.
func members(allowed string) map[string]string {
	return map[string]string{iapv1alpha1.AnnotationAllowedProjects: Billing.Project, iapv1alpha1.AnnotationAllowedMembers: allowed}
}

// The messages below follow the controller's (controllers/protectedservice_status.go).

func noProjectAllowed(namespace string, t iapv1alpha1.ServiceRef) string {
	return projectRefusal(namespace, "the namespace has no "+iapv1alpha1.AnnotationAllowedProjects+" annotation", t)
}

func projectNotAllowed(namespace, annotation string, t iapv1alpha1.ServiceRef) string {
	return projectRefusal(namespace, fmt.Sprintf("the namespace allows only %q", annotation), t)
}

func projectRefusal(namespace, allowed string, t iapv1alpha1.ServiceRef) string {
	return fmt.Sprintf("Namespace %s may not target Cloud Run service %s: %s. Ask a cluster admin to add %q (or %q) to the %s annotation of namespace %s.",
		namespace, t, allowed, t.String(), t.Project, iapv1alpha1.AnnotationAllowedProjects, namespace)
}

// membersNotAllowed: disallowed is the list as the message shows it (at most five, then "and N more").
func membersNotAllowed(namespace, annotation, disallowed string) string {
	return fmt.Sprintf("Namespace %s may grant only members matching %q (annotation %s); not allowed: %s. Remove them from the access groups or ask a cluster admin to widen the annotation.",
		namespace, annotation, iapv1alpha1.AnnotationAllowedMembers, disallowed)
}

func wouldExposeService(namespace string, t iapv1alpha1.ServiceRef) string {
	return fmt.Sprintf("Switching IAP off would leave Cloud Run service %s publicly invocable (publicAccess: Allow keeps any allUsers or allAuthenticatedUsers grant on roles/run.invoker). Set publicAccess: Deny, or ask a cluster admin to annotate namespace %s with %s: \"true\".",
		t.FullName(), namespace, iapv1alpha1.AnnotationAllowPublic)
}
