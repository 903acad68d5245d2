package gcpfake

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/access"
	"github.com/runguard/runguard/internal/gcpfake/acm"
	"github.com/runguard/runguard/internal/gcpfake/hierarchy"
	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
	"github.com/runguard/runguard/internal/gcpfake/iap"
	"github.com/runguard/runguard/internal/gcpfake/policyengine"
	"github.com/runguard/runguard/internal/gcpfake/projects"
	"github.com/runguard/runguard/internal/gcpfake/resourcemanager"
	"github.com/runguard/runguard/internal/gcpfake/run"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// newWorld builds the seeded state, before anything is served. The seeded world exists before
// anyone watches it: it leaves no audit entries.
func newWorld(opts Options) (*Server, error) {
	st := store.New()
	s := &Server{store: st, tree: hierarchy.New(), acm: &acm.Backend{Store: st, DeferOperations: opts.ACMDeferOperations},
		faults: newFaultSet(opts.FaultSeed), calls: &callLog{counts: map[string]int{}}, logger: opts.Logger,
		tokens: &access.Tokens{Store: st}}
	if s.logger == nil {
		s.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := seedPolicies(s.acm, s.tree, opts.Seed); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if err := seedFolders(s.tree, opts.Seed.Folders); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	var err error
	if s.dir, err = newDirectory(opts.Seed.Projects, s.tree); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	s.policies = newPolicyStore(s)
	if s.access, err = newAuthority(opts.Seed, s.dir, s.grantable, grantPolicies{s}); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if s.quotas, err = newQuotaSet(opts.Quotas, s.dir, s.organizationOf); err != nil {
		return nil, err
	}
	s.run = &run.Backend{Store: st, Directory: s.dir, Policies: s.policies, ReconcileDelay: opts.ReconcileDelay}
	for _, svc := range opts.Seed.Services {
		if err := s.AddService(svc); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	if err := seedLevels(s.acm, opts.Seed.AccessPolicies); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	return s, nil
}

// newPolicyStore is the one IAM policy store, serving every kind of resource with a policy.
func newPolicyStore(s *Server) *iampolicy.Store {
	// A seeded service account exists for IAM like a project's principals.
	engine := &policyengine.Engine{PrincipalExists: func(m string) bool {
		email, isSA := strings.CutPrefix(m, "serviceAccount:")
		return s.dir.PrincipalExists(m) || isSA && s.access.ServiceAccountExists(email)
	}}
	policies := &iampolicy.Store{Store: s.store, Engine: engine}
	policies.Register(run.PolicyKind(s.dir))
	policies.Register(iap.PolicyKind(s.dir))
	for _, k := range resourcemanager.PolicyKinds(s.dir, s.tree) {
		policies.Register(k)
	}
	policies.Register(acm.PolicyKind())
	return policies
}

// seedFolders adds the seeded folders, each under an organization or a folder listed before it.
func seedFolders(tree *hierarchy.Tree, folders []Folder) error {
	for _, f := range folders {
		if err := tree.AddFolder(hierarchy.Folder{Name: "folders/" + f.ID, Parent: f.Parent, DisplayName: f.DisplayName}); err != nil {
			return err
		}
	}
	return nil
}

func newDirectory(seeded []Project, tree *hierarchy.Tree) (*projects.Directory, error) {
	var ps []projects.Project
	for _, p := range seeded {
		dp, err := directoryProject(p, tree)
		if err != nil {
			return nil, err
		}
		ps = append(ps, dp)
	}
	return projects.NewDirectory(ps)
}

func directoryProject(p Project, tree *hierarchy.Tree) (projects.Project, error) {
	agentDelay, err := parseAgentDelay(p)
	if err != nil {
		return projects.Project{}, err
	}
	if p.Parent != "" {
		if err := tree.CheckParent(p.Parent); err != nil {
			return projects.Project{}, fmt.Errorf("project %s: %w", p.ID, err)
		}
	}
	return projects.Project{ID: p.ID, Number: p.Number, IAPAPIDisabled: p.IAPAPIDisabled, NoIAPServiceAgent: p.NoIAPServiceAgent,
		IAPServiceAgentReadyAt: time.Now().Add(agentDelay), Principals: p.Principals, Parent: p.Parent}, nil
}

// parseAgentDelay reads a seeded project's IAPServiceAgentDelay.
func parseAgentDelay(p Project) (time.Duration, error) {
	if p.IAPServiceAgentDelay == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(p.IAPServiceAgentDelay)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("project %s: iapServiceAgentDelay %q is not a non-negative duration", p.ID, p.IAPServiceAgentDelay)
	}
	return d, nil
}

// newAuthority builds who-may-do-what from the seed: grants on projects (by ID), folders,
// organizations and access policies (by name), written into their allow policies; grantable says
// which of those resources exist.
func newAuthority(seed Seed, dir *projects.Directory, grantable func(string) bool, policies access.Policies) (*access.Authority, error) {
	cfg := access.Config{DefaultCaller: seed.DefaultCaller, CustomRoles: seed.CustomRoles, Grants: map[string]map[string][]string{}}
	for _, sa := range seed.ServiceAccounts {
		cfg.ServiceAccounts = append(cfg.ServiceAccounts, access.ServiceAccount{Email: sa.Email, TokenCreators: sa.TokenCreators})
	}
	add := func(where string, grants map[string][]string) {
		if len(grants) > 0 {
			cfg.Grants[where] = grants
		}
	}
	for _, p := range seed.Projects {
		add(p.ID, p.Grants)
	}
	for _, f := range seed.Folders {
		add("folders/"+f.ID, f.Grants)
	}
	for _, o := range seed.Organizations {
		add("organizations/"+o.ID, o.Grants)
	}
	for _, p := range seed.AccessPolicies {
		add(p.Name, p.Grants)
	}
	return access.New(cfg, func(where string) bool {
		_, isProject := dir.Lookup(where)
		return isProject || grantable(where)
	}, policies)
}
