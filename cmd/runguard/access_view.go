package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/reach"
)

// Where a grant comes from, as who-can and can name it (grantView.Source).
const (
	// sourceRunguard: a binding runguard wrote for a ProtectedService's access group (its mark
	// names them).
	sourceRunguard = "runguard"
	// sourceAccessGrant: a binding runguard wrote for an AccessGrant (its mark's group is grant.NAME),
	// which its condition ends.
	sourceAccessGrant = "access-grant"
	// sourceByHand: a binding on the service's own IAP policy without runguard's mark.
	sourceByHand = "by-hand"
	// sourceInherited: a binding on a policy above the service.
	sourceInherited = "inherited"
)

// grantView is one grant as who-can and can show it.
type grantView struct {
	Role string `json:"role"`
	// Level is where the policy holding it sits (reach.Kind): service, iap-region, iap-project,
	// project, folder, organization.
	Level    reach.Kind `json:"level"`
	Resource string     `json:"resource"`
	Source   string     `json:"source"`
	// Owner is the ProtectedService and access group runguard's mark names.
	Owner *ownerView `json:"owner,omitempty"`
	// AccessGrant is the AccessGrant a binding of runguard's is for (source access-grant).
	AccessGrant *accessGrantView `json:"accessGrant,omitempty"`
	// Condition is the binding's condition in words (reach.DescribeCondition); Expression its CEL.
	Condition  string `json:"condition"`
	Title      string `json:"title,omitempty"`
	Expression string `json:"expression,omitempty"`
}

// ownerView is the ProtectedService runguard's mark names.
type ownerView struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Group     string `json:"group"`
}

// accessGrantView is the AccessGrant behind a binding, and when its condition ends access.
type accessGrantView struct {
	Name string `json:"name"`
	// ExpiresAt is the end of the binding's condition (request.time < ExpiresAt); absent when the
	// condition is not in the form runguard writes.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Expired: ExpiresAt has passed. The binding is still in the policy, but admits no one.
	Expired bool `json:"expired,omitempty"`
	// ends words ExpiresAt against the time of reading.
	ends string
}

// viewOf shows a grant; now is when an AccessGrant's binding is said to expire against.
func viewOf(g grant, now time.Time) grantView {
	b := g.binding
	v := grantView{Role: b.Role, Level: b.Where.Kind, Resource: b.Where.Resource, Source: sourceInherited,
		Condition: reach.DescribeCondition(b.Condition), Title: b.Title, Expression: b.Condition}
	switch {
	case g.marker != nil:
		v.Source = sourceRunguard
		o := g.marker.Owner
		v.Owner = &ownerView{Cluster: o.Cluster, Namespace: o.Namespace, Name: o.Name, Group: g.marker.Group}
		if name, ok := strings.CutPrefix(g.marker.Group, iapv1alpha1.GrantGroupPrefix); ok {
			v.Source, v.AccessGrant = sourceAccessGrant, accessGrantOf(name, b.Condition, now)
		}
	case b.Where.Kind == reach.Service:
		v.Source = sourceByHand
	}
	return v
}

// accessGrantOf reads when an AccessGrant's binding ends from its condition, the end Google
// enforces whatever the AccessGrant's status says.
func accessGrantOf(name, condition string, now time.Time) *accessGrantView {
	v := &accessGrantView{Name: name, ends: "its end not read from the condition"}
	if c, ok := iampolicy.DecompileCondition(condition); ok && c.NotAfter != nil {
		v.ExpiresAt, v.Expired = c.NotAfter, !now.Before(*c.NotAfter)
		v.ends = "until " + relativeTime(*c.NotAfter, now)
		if v.Expired {
			v.ends = "expired " + relativeTime(*c.NotAfter, now)
		}
	}
	return v
}

// grantedBy words where a grant comes from, for the table and can's text.
func (v grantView) grantedBy() string {
	switch v.Source {
	case sourceAccessGrant:
		return fmt.Sprintf("runguard: grant %s on ProtectedService %s/%s (cluster %s), %s", v.AccessGrant.Name, v.Owner.Namespace, v.Owner.Name, v.Owner.Cluster, v.AccessGrant.ends)
	case sourceRunguard:
		return fmt.Sprintf("runguard: group %s of ProtectedService %s/%s (cluster %s)", v.Owner.Group, v.Owner.Namespace, v.Owner.Name, v.Owner.Cluster)
	case sourceByHand:
		if v.Title != "" {
			return fmt.Sprintf("by hand (%q)", v.Title)
		}
		return "by hand"
	}
	return "inherited from " + v.Resource
}

// grantOf finds the grant reach answered with: reach hands back a copy of the binding.
func (a *serviceAccess) grantOf(b *reach.Binding) (grant, bool) {
	if b == nil {
		return grant{}, false
	}
	for _, g := range a.grants {
		o := g.binding
		if o.Where == b.Where && o.Role == b.Role && o.Condition == b.Condition && o.Title == b.Title && slices.Equal(o.Members, b.Members) {
			return g, true
		}
	}
	return grant{}, false
}

// Output formats of who-can and can.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

var outputFormats = []string{outputTable, outputJSON, outputYAML}

func validateOutput(format string) error {
	if !slices.Contains(outputFormats, format) {
		return fmt.Errorf("--output must be table, json or yaml, not %q", format)
	}
	return nil
}

// writeOutput writes v as JSON or YAML, or as table writes it.
func writeOutput(w io.Writer, format string, v any, table func() error) error {
	switch format {
	case outputTable:
		return table()
	case outputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}
