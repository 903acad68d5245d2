// Package access is who may do what in the fake: the seeded service accounts and who may
// impersonate them, the roles and permissions granted on each project, folder, organization or
// access policy (kept in those resources' IAM allow policies, Policies), the roles and their
// permissions, the deny rules that take a permission on a resource away from everyone, the
// identity a request without a token stands for, and the access tokens the IAM Credentials API
// issues.
//
// Access control (grants) is on when the seed grants anything or names a default caller. Off,
// every caller holds every permission and a request without a token has no identity, as before
// the fake modelled identities. Deny rules apply either way.
package access

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"google.golang.org/grpc/status"

	"github.com/runguard/runguard/internal/gcpfake/policyengine"
)

// Config is the seeded state.
type Config struct {
	// DefaultCaller is who a request without a bearer token is (the manager running with its
	// own credentials), in member form ("serviceAccount:runguard@ops.iam.gserviceaccount.com").
	DefaultCaller string
	// ServiceAccounts may be impersonated through GenerateAccessToken.
	ServiceAccounts []ServiceAccount
	// Grants is where a grant is made → member → roles or permissions. Where is a project ID,
	// or the name of another resource IAM grants on: folders/{number}, organizations/{number},
	// accessPolicies/{number}. They are written into those resources' allow policies.
	Grants map[string]map[string][]string
	// CustomRoles is role name (projects/{p}/roles/{r} or organizations/{o}/roles/{r}) →
	// permissions.
	CustomRoles map[string][]string
}

// ServiceAccount is a seeded service account.
type ServiceAccount struct {
	Email string
	// TokenCreators are members that hold roles/iam.serviceAccountTokenCreator on it.
	TokenCreators []string
}

// Authority answers who may do what. It is safe for concurrent use.
type Authority struct {
	enforced      bool
	defaultCaller string
	customRoles   map[string][]string
	// policies keep the grants: one set of data with the allow policies the APIs serve.
	policies Policies

	mu       sync.RWMutex
	accounts map[string]map[string]bool // email → token creators
	denials  map[string]map[string]bool // resource → permissions denied to every principal
}

var (
	permissionRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*\.[a-zA-Z][a-zA-Z0-9]*\.[a-zA-Z][a-zA-Z0-9]*$`)
	customRoleRE = regexp.MustCompile(`^(projects|organizations)/[^/]+/roles/[A-Za-z0-9_.]+$`)
	saEmailRE    = regexp.MustCompile(`^[a-z0-9-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$`)
)

// New validates cfg and writes its grants into policies. exists says which project IDs and
// resources (Config.Grants' keys) are seeded.
func New(cfg Config, exists func(projectOrResource string) bool, policies Policies) (*Authority, error) {
	a := &Authority{customRoles: map[string][]string{}, accounts: map[string]map[string]bool{}, policies: policies,
		denials: map[string]map[string]bool{}}
	for name, perms := range cfg.CustomRoles {
		if !customRoleRE.MatchString(name) {
			return nil, fmt.Errorf("custom role %q: want projects/{project}/roles/{id} or organizations/{org}/roles/{id}", name)
		}
		for _, p := range perms {
			if !permissionRE.MatchString(p) {
				return nil, fmt.Errorf("custom role %s: %q is not a permission (service.resource.verb)", name, p)
			}
		}
		a.customRoles[name] = append([]string(nil), perms...)
	}
	if cfg.DefaultCaller != "" {
		m, err := callerMember(cfg.DefaultCaller)
		if err != nil {
			return nil, fmt.Errorf("defaultCaller: %w", err)
		}
		a.defaultCaller = m
	}
	for _, sa := range cfg.ServiceAccounts {
		email := strings.ToLower(sa.Email)
		if !saEmailRE.MatchString(email) {
			return nil, fmt.Errorf("service account %q is not an email address", sa.Email)
		}
		if _, dup := a.accounts[email]; dup {
			return nil, fmt.Errorf("service account %s seeded twice", email)
		}
		a.accounts[email] = map[string]bool{}
		for _, c := range sa.TokenCreators {
			if err := a.addTokenCreator(email, c); err != nil {
				return nil, err
			}
		}
	}
	for _, where := range sortedWheres(cfg.Grants) {
		if !exists(where) {
			return nil, fmt.Errorf("grants on %q, which is not seeded", where)
		}
		for member, entries := range cfg.Grants[where] {
			for _, e := range entries {
				if err := a.grant(where, member, e); err != nil {
					return nil, err
				}
			}
		}
	}
	a.enforced = a.defaultCaller != "" || len(cfg.Grants) > 0
	return a, nil
}

// Enforced reports whether access control is on.
func (a *Authority) Enforced() bool { return a.enforced }

// DefaultCaller is who a request without a token is; "" when access control is off or no
// default caller was seeded.
func (a *Authority) DefaultCaller() string { return a.defaultCaller }

// Permitted reports whether member may use permission on resource, which belongs to the project
// (by ID; or the resource IAM grants on, such as an access policy or its organization). As IAM does, it asks the deny rules first — a denied permission cannot be used
// whatever is granted, and with access control off too — then the grants.
func (a *Authority) Permitted(member, project, resource, permission string) bool {
	a.mu.RLock()
	denied := a.denials[resource][permission]
	a.mu.RUnlock()
	return !denied && a.Allowed(member, project, permission)
}

// Deny adds a deny rule: no principal may use permission on resource. The resource is named as
// Permitted is asked about it; a rule on a project does not reach the resources in it.
func (a *Authority) Deny(resource, permission string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.denials[resource] == nil {
		a.denials[resource] = map[string]bool{}
	}
	a.denials[resource][permission] = true
}

// Undeny removes the deny rule Deny added, if any.
func (a *Authority) Undeny(resource, permission string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.denials[resource], permission)
}

// Allowed reports whether member holds permission on the project (by ID) or resource, deny
// rules aside: a role bound to it without a condition in the resource's allow policy carries the
// permission (the fake evaluates no conditions). With access control off everyone holds
// everything.
func (a *Authority) Allowed(member, project, permission string) bool {
	if !a.enforced {
		return true
	}
	for _, role := range a.policies.Bindings(project)[member] {
		entry := a.entryOf(role)
		if entry == permission {
			return true
		}
		for _, p := range a.rolePermissions(entry) {
			if p == permission {
				return true
			}
		}
	}
	return false
}

// MayImpersonate reports whether caller may mint tokens for the service account: it is one of
// its token creators, or holds iam.serviceAccounts.getAccessToken on the project the account
// belongs to (a project-level grant of roles/iam.serviceAccountTokenCreator covers every
// service account of the project).
func (a *Authority) MayImpersonate(caller, email string) bool {
	if !a.enforced {
		return true
	}
	email = strings.ToLower(email)
	a.mu.RLock()
	creator := a.accounts[email][caller]
	a.mu.RUnlock()
	return creator || a.Allowed(caller, ServiceAccountProject(email), "iam.serviceAccounts.getAccessToken")
}

// ServiceAccountExists reports whether the email is a seeded service account.
func (a *Authority) ServiceAccountExists(email string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	_, ok := a.accounts[strings.ToLower(email)]
	return ok
}

// ServiceAccountProject is the project ID of a user-managed service account
// (name@PROJECT.iam.gserviceaccount.com), or "".
func ServiceAccountProject(email string) string {
	_, domain, _ := strings.Cut(email, "@")
	project, ok := strings.CutSuffix(domain, ".iam.gserviceaccount.com")
	if !ok {
		return ""
	}
	return project
}

// ErrNotFound is wrapped by the errors of changes to something that is not there.
var ErrNotFound = errors.New("not found")

// ErrOff is the error of a change to grants while access control is off: it would have no
// effect, since with it off everyone may do everything.
var ErrOff = errors.New("access control is off: the seed grants nothing and names no defaultCaller")

// AddTokenCreator lets member impersonate the seeded service account.
func (a *Authority) AddTokenCreator(email, member string) error {
	if !a.enforced {
		return ErrOff
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	email = strings.ToLower(email)
	if _, ok := a.accounts[email]; !ok {
		return fmt.Errorf("service account %s is not seeded: %w", email, ErrNotFound)
	}
	return a.addTokenCreator(email, member)
}

// RemoveTokenCreator revokes AddTokenCreator (or the seed's grant). Tokens already issued stay
// valid until they expire, as at Google.
func (a *Authority) RemoveTokenCreator(email, member string) error {
	m, err := policyengine.NormalizeMember(member)
	if err != nil {
		return fmt.Errorf("member %q: %s", member, messageOf(err))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	email = strings.ToLower(email)
	if !a.accounts[email][m] {
		return fmt.Errorf("%s is not a token creator of %s: %w", m, email, ErrNotFound)
	}
	delete(a.accounts[email], m)
	return nil
}

func (a *Authority) addTokenCreator(email, member string) error {
	m, err := policyengine.NormalizeMember(member)
	if err != nil {
		return fmt.Errorf("token creator of %s: member %q: %s", email, member, messageOf(err))
	}
	a.accounts[email][m] = true
	return nil
}

// callerMember checks that m names something that can call an API: a user, a service account
// or a workload/workforce identity.
func callerMember(m string) (string, error) {
	n, err := policyengine.NormalizeMember(m)
	if err != nil {
		return "", fmt.Errorf("%q: %s", m, messageOf(err))
	}
	if !strings.HasPrefix(n, "user:") && !strings.HasPrefix(n, "serviceAccount:") && !strings.HasPrefix(n, "principal://") {
		return "", fmt.Errorf("%q cannot call an API: want user:, serviceAccount: or principal://", m)
	}
	return n, nil
}

type callerKey struct{}

// WithCaller records who is calling.
func WithCaller(ctx context.Context, member string) context.Context {
	return context.WithValue(ctx, callerKey{}, member)
}

// CallerFrom is who is calling ("" for nobody in particular, with access control off).
func CallerFrom(ctx context.Context) string {
	m, _ := ctx.Value(callerKey{}).(string)
	return m
}

// messageOf is a status error's message without the "rpc error: code = …" prefix.
func messageOf(err error) string { return status.Convert(err).Message() }
