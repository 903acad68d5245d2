package export

import (
	"bytes"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// YAML renders the manifest as one YAML document: the notes as comments above it, then the
// object, then the unowned grants as commented-out access groups.
func (m Manifest) YAML() ([]byte, error) {
	var b bytes.Buffer
	t := m.Object.Spec.Service
	fmt.Fprintf(&b, "# Exported by runguard from Cloud Run service %s/%s/%s.\n", t.Project, t.Location, t.Name)
	for _, n := range m.Notes {
		writeComment(&b, "- "+n, "  ")
	}
	object, err := objectYAML(m.Object)
	if err != nil {
		return nil, err
	}
	b.Write(object)
	if len(m.Foreign) > 0 {
		groups, err := yaml.Marshal(map[string][]iapv1alpha1.AccessGroup{"accessGroups": m.Foreign})
		if err != nil {
			return nil, fmt.Errorf("render the unowned grants of %s: %w", t.Name, err)
		}
		b.WriteString("# Not runguard's: kept as they are by bindingPolicy Merge. To manage them, move them under spec:\n")
		for _, line := range strings.Split(strings.TrimRight(string(groups), "\n"), "\n") {
			b.WriteString("#   " + line + "\n")
		}
	}
	return b.Bytes(), nil
}

// objectYAML is the object without the fields only the API server fills.
func objectYAML(ps *iapv1alpha1.ProtectedService) ([]byte, error) {
	raw, err := yaml.Marshal(ps)
	if err != nil {
		return nil, fmt.Errorf("render ProtectedService %s: %w", ps.Name, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	delete(doc, "status")
	if meta, ok := doc["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return yaml.Marshal(doc)
}

// writeComment writes text as comment lines of at most about 100 characters.
func writeComment(b *bytes.Buffer, text, indent string) {
	line := "#"
	for i, word := range strings.Fields(text) {
		if len(line)+1+len(word) > 100 && i > 0 {
			b.WriteString(line + "\n")
			line = "# " + indent + word
			continue
		}
		line += " " + word
	}
	b.WriteString(line + "\n")
}

// TakeOverYAML is the object as it would be with the unowned grants moved into spec.accessGroups
// and bindingPolicy Exclusive — what the comments invite — so a caller can check the API server
// would accept it; nil when there is nothing to take over.
func (m Manifest) TakeOverYAML() ([]byte, error) {
	if len(m.Foreign) == 0 {
		return nil, nil
	}
	o := m.Object.DeepCopy()
	o.Spec.AccessGroups = append(o.Spec.AccessGroups, m.Foreign...)
	o.Spec.BindingPolicy = iapv1alpha1.BindingPolicyExclusive
	return objectYAML(o)
}
