// Package projects is the fake's directory of projects and of the
// identities that exist: which project IDs map to which numbers, which
// projects have the IAP API disabled or no IAP service agent, and which
// users, groups and service accounts IAM should accept as members.
package projects

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Project is one seeded project.
type Project struct {
	ID                string
	Number            int64
	IAPAPIDisabled    bool
	NoIAPServiceAgent bool
	// IAPServiceAgentReadyAt, when set, is when IAM starts accepting the IAP service agent.
	IAPServiceAgentReadyAt time.Time
	// Principals are members of kind user, group or serviceAccount that
	// exist, in IAM member form ("user:a@x.com").
	Principals []string
	// Parent is folders/{number} or organizations/{number}; "" for a project outside any
	// organization.
	Parent string
}

// IAPServiceAgent is the member IAP calls Cloud Run as.
func (p Project) IAPServiceAgent() string {
	return fmt.Sprintf("serviceAccount:service-%d@gcp-sa-iap.iam.gserviceaccount.com", p.Number)
}

// serviceAgents are the Google-managed identities the fake treats as
// existing in every project (the IAP one only if it was created).
func (p Project) serviceAgents() []string {
	out := []string{
		fmt.Sprintf("serviceAccount:service-%d@serverless-robot-prod.iam.gserviceaccount.com", p.Number),
		fmt.Sprintf("serviceAccount:%d-compute@developer.gserviceaccount.com", p.Number),
	}
	if !p.NoIAPServiceAgent && !time.Now().Before(p.IAPServiceAgentReadyAt) {
		out = append(out, p.IAPServiceAgent())
	}
	return out
}

// Directory is safe for concurrent use.
type Directory struct {
	mu       sync.RWMutex
	byID     map[string]Project
	byNumber map[int64]string
}

// NewDirectory validates and indexes the projects.
func NewDirectory(ps []Project) (*Directory, error) {
	d := &Directory{byID: map[string]Project{}, byNumber: map[int64]string{}}
	for _, p := range ps {
		if err := d.Add(p); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Add registers a project.
func (d *Directory) Add(p Project) error {
	if !ValidProjectID(p.ID) {
		return fmt.Errorf("project id %q is not a valid project ID", p.ID)
	}
	if p.Number <= 0 {
		return fmt.Errorf("project %q: number must be positive", p.ID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.byID[p.ID]; ok {
		return fmt.Errorf("project %q seeded twice", p.ID)
	}
	if other, ok := d.byNumber[p.Number]; ok {
		return fmt.Errorf("projects %q and %q share number %d", other, p.ID, p.Number)
	}
	p.Principals = append([]string(nil), p.Principals...)
	d.byID[p.ID] = p
	d.byNumber[p.Number] = p.ID
	return nil
}

// CreateIAPServiceAgent creates a project's IAP service agent, as `gcloud beta services identity
// create --service=iap.googleapis.com` does; IAM accepts it from readyAt on.
func (d *Directory) CreateIAPServiceAgent(id string, readyAt time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.byID[id]
	if !ok {
		return fmt.Errorf("project %q does not exist", id)
	}
	p.NoIAPServiceAgent, p.IAPServiceAgentReadyAt = false, readyAt
	d.byID[id] = p
	return nil
}

// Lookup resolves a project ID or a decimal project number.
func (d *Directory) Lookup(idOrNumber string) (Project, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if p, ok := d.byID[idOrNumber]; ok {
		return p, true
	}
	if n, err := strconv.ParseInt(idOrNumber, 10, 64); err == nil {
		if id, ok := d.byNumber[n]; ok {
			return d.byID[id], true
		}
	}
	return Project{}, false
}

// ByNumber resolves only a project number.
func (d *Directory) ByNumber(number string) (Project, bool) {
	n, err := strconv.ParseInt(number, 10, 64)
	if err != nil {
		return Project{}, false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	id, ok := d.byNumber[n]
	if !ok {
		return Project{}, false
	}
	return d.byID[id], true
}

// All returns the projects sorted by ID.
func (d *Directory) All() []Project {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Project, 0, len(d.byID))
	for _, p := range d.byID {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PrincipalExists reports whether a user, group or serviceAccount member
// (already lower-cased, "kind:email") exists anywhere: identities are
// global, so a principal seeded in any project exists for every project.
func (d *Directory) PrincipalExists(member string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, p := range d.byID {
		for _, m := range p.Principals {
			if strings.EqualFold(m, member) {
				return true
			}
		}
		for _, m := range p.serviceAgents() {
			if m == member {
				return true
			}
		}
	}
	return false
}

// ValidProjectID follows Resource Manager's rule: 6 to 30 lowercase
// letters, digits or hyphens, starting with a letter, not ending with a
// hyphen.
func ValidProjectID(id string) bool {
	if len(id) < 6 || len(id) > 30 {
		return false
	}
	if id[0] < 'a' || id[0] > 'z' || id[len(id)-1] == '-' {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
