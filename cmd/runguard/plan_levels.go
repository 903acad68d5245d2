package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/manifest"
)

// manifestLevel is an AccessLevel read from a manifest, and where: "file.yaml#2".
type manifestLevel struct {
	source string
	level  iapv1alpha1.AccessLevel
}

// takenOut stands, in a List, for an AccessLevel item splitLevels took out: an object of no API
// runguard judges, so manifest.Read skips it, and plan leaves that skip unsaid.
var takenOut = map[string]any{"apiVersion": "cli.runguard.dev/v1", "kind": "AccessLevelTakenOut"}

// splitLevels takes the AccessLevel documents out of a manifest stream and returns the rest for
// manifest.Read. internal/manifest judges only ProtectedServices and refuses the other kinds of
// runguard's group, so plan reads AccessLevels here, strictly decoded but not judged against
// their CRD. Each one is replaced by an empty List (counted by manifest.Read, holding nothing),
// or in a List by takenOut, so the other documents keep the sources manifest.Read gives them. A
// stream without AccessLevels is returned as it is.
func splitLevels(data []byte, name string) ([]manifestLevel, []byte, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var levels []manifestLevel
	var rest bytes.Buffer
	var errs []error
	for n := 1; ; {
		var ext runtime.RawExtension
		if err := dec.Decode(&ext); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			if len(levels) == 0 && len(errs) == 0 {
				return nil, data, nil
			}
			// As manifest.Read: the stream cannot be read past a syntax error.
			errs = append(errs, fmt.Errorf("%s#%d: %w", name, n, err))
			break
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		source := fmt.Sprintf("%s#%d", name, n)
		n++
		kept, found, err := takeLevels(raw, source)
		levels = append(levels, found...)
		if err != nil {
			errs = append(errs, err)
		}
		rest.Write(kept)
		rest.WriteByte('\n')
	}
	if len(levels) == 0 && len(errs) == 0 {
		return nil, data, nil
	}
	return levels, rest.Bytes(), errors.Join(errs...)
}

// takeLevels takes the AccessLevels out of one document: the document itself, or a List's items.
func takeLevels(raw []byte, source string) ([]byte, []manifestLevel, error) {
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode(raw, nil, nil)
	if err != nil {
		return raw, nil, nil //nolint:nilerr // manifest.Read says what is wrong with it
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if !isAccessLevel(u) {
			return raw, nil, nil
		}
		level, err := decodeLevel(u, source)
		if err != nil {
			return []byte(`{"apiVersion":"v1","kind":"List","items":[]}`), nil, err
		}
		return []byte(`{"apiVersion":"v1","kind":"List","items":[]}`), []manifestLevel{level}, nil
	}
	list := obj.(*unstructured.UnstructuredList)
	var levels []manifestLevel
	var errs []error
	for i := range list.Items {
		if !isAccessLevel(&list.Items[i]) {
			continue
		}
		level, err := decodeLevel(&list.Items[i], fmt.Sprintf("%s.items[%d]", source, i))
		if err != nil {
			errs = append(errs, err)
		} else {
			levels = append(levels, level)
		}
		list.Items[i] = unstructured.Unstructured{Object: takenOut}
	}
	if len(levels) == 0 && len(errs) == 0 {
		return raw, nil, nil
	}
	kept, err := list.MarshalJSON()
	if err != nil {
		return raw, nil, fmt.Errorf("%s: %w", source, err)
	}
	return kept, levels, errors.Join(errs...)
}

func isAccessLevel(u *unstructured.Unstructured) bool {
	return u.GetAPIVersion() == iapv1alpha1.GroupVersion.String() && u.GetKind() == "AccessLevel"
}

// decodeLevel reads an AccessLevel strictly: a field the type does not know is refused, as
// kubectl apply's strict field validation refuses it.
func decodeLevel(u *unstructured.Unstructured, source string) (manifestLevel, error) {
	var al iapv1alpha1.AccessLevel
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &al, true); err != nil {
		return manifestLevel{}, fmt.Errorf("%s: AccessLevel %q: %w", source, u.GetName(), err)
	}
	if al.Name == "" {
		return manifestLevel{}, fmt.Errorf("%s: AccessLevel: metadata.name: Required value", source)
	}
	return manifestLevel{source: source, level: al}, nil
}

// levelsToResolve are the AccessLevels references are resolved against, as the controller
// resolves them: those of the manifests, and those of the cluster the manifests do not define
// (a manifest's object is what applying it makes of the cluster's).
func levelsToResolve(fromManifests []manifestLevel, fromCluster []iapv1alpha1.AccessLevel) []iapv1alpha1.AccessLevel {
	var out []iapv1alpha1.AccessLevel
	for _, l := range fromManifests {
		out = slices.DeleteFunc(out, func(al iapv1alpha1.AccessLevel) bool { return al.Name == l.level.Name })
		out = append(out, l.level)
	}
	for _, al := range fromCluster {
		if !slices.ContainsFunc(out, func(m iapv1alpha1.AccessLevel) bool { return m.Name == al.Name }) {
			out = append(out, al)
		}
	}
	return out
}

// needsClusterLevels says whether an object requires an AccessLevel object the manifests do not
// define: only then are the cluster's read.
func needsClusterLevels(docs []manifest.Document, levels []manifestLevel) bool {
	for _, d := range docs {
		for _, ref := range levelRefs(d.Object) {
			if !isFullLevelName(ref) && !slices.ContainsFunc(levels, func(l manifestLevel) bool { return l.level.Name == ref }) {
				return true
			}
		}
	}
	return false
}

// levelRefs are the access levels the object's groups require, as written; none for nil.
func levelRefs(ps *iapv1alpha1.ProtectedService) []string {
	var refs []string
	if ps == nil {
		return nil
	}
	for _, g := range ps.Spec.AccessGroups {
		if g.Context != nil {
			for _, l := range g.Context.AccessLevels {
				refs = append(refs, string(l))
			}
		}
	}
	return refs
}

// isFullLevelName tells a full Access Context Manager name from an AccessLevel object's name.
func isFullLevelName(ref string) bool { return strings.HasPrefix(ref, "accessPolicies/") }

// clusterLevels are the cluster's AccessLevels, when plan reads a cluster; a cluster that cannot
// list them is said in a note, and references are then resolved against the manifests alone.
func clusterLevels(ctx context.Context, view *clusterView, stderr io.Writer) []iapv1alpha1.AccessLevel {
	if view == nil {
		return nil
	}
	levels, err := view.accessLevels(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "note: the AccessLevels in the cluster at %s cannot be read (%v): references are resolved against the manifests' alone\n", view.host, err)
		return nil
	}
	return levels
}

// printNotPlanned says, for each AccessLevel of the manifests, that plan does not plan it: the
// AccessLevel controller applies it, and the ProtectedServices are planned with it as declared.
func printNotPlanned(levels []manifestLevel, accessPolicy string, stdout io.Writer) {
	for _, l := range levels {
		al := l.level
		policy, short := al.Spec.AccessPolicy, al.Spec.LevelName
		if policy == "" {
			policy = accessPolicy
		}
		if short == "" {
			short = accesslevel.ShortName(al.Name)
		}
		level := policy + "/accessLevels/" + short
		if policy == "" {
			level = "no accessPolicy, and no --access-policy"
		}
		fmt.Fprintf(stdout, "AccessLevel %s (%s): not planned: the AccessLevel controller applies it; the ProtectedServices here are planned with it as declared\n", al.Name, level)
	}
}
