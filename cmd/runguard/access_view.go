package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/runguard/runguard/internal/reach"
)

// Where a grant comes from, as who-can and can name it (grantView.Source).
const (
	// sourceRunguard: a binding runguard wrote for a ProtectedService's access group (its mark
	// names them).
	sourceRunguard = "runguard"
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

func viewOf(g grant) grantView {
	b := g.binding
	v := grantView{Role: b.Role, Level: b.Where.Kind, Resource: b.Where.Resource, Source: sourceInherited,
		Condition: reach.DescribeCondition(b.Condition), Title: b.Title, Expression: b.Condition}
	switch {
	case g.marker != nil:
		v.Source = sourceRunguard
		o := g.marker.Owner
		v.Owner = &ownerView{Cluster: o.Cluster, Namespace: o.Namespace, Name: o.Name, Group: g.marker.Group}
	case b.Where.Kind == reach.Service:
		v.Source = sourceByHand
	}
	return v
}

// grantedBy words where a grant comes from, for the table and can's text.
func (v grantView) grantedBy() string {
	switch v.Source {
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
