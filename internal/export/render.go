package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// YAML renders the manifest as one YAML document: the notes as comments above it, then the
// object, then the unowned grants as commented-out access groups.
func (m Manifest) YAML() ([]byte, error) {
	t := m.Object.Spec.Service
	object, err := objectYAML(m.Object)
	if err != nil {
		return nil, fmt.Errorf("render ProtectedService %s: %w", m.Object.Name, err)
	}
	notes := m.Notes
	if note := escapedNote(m.Foreign, slices.ContainsFunc(notes, needsEscaping)); note != "" {
		notes = append(slices.Clip(notes), note)
	}
	var b bytes.Buffer
	b.WriteString(commentLine(fmt.Sprintf("Exported by runguard from Cloud Run service %s/%s/%s.", t.Project, t.Location, t.Name)))
	for _, n := range notes {
		writeComment(&b, "- "+n, "  ")
	}
	b.Write(object)
	if len(m.Foreign) > 0 {
		groups, err := marshalExact(map[string][]iapv1alpha1.AccessGroup{"accessGroups": m.Foreign})
		if err != nil {
			return nil, fmt.Errorf("render the unowned grants of %s: %w", t.Name, err)
		}
		b.WriteString("# Not runguard's: kept as they are by bindingPolicy Merge. To manage them, move them under spec:\n")
		for _, line := range strings.Split(strings.TrimRight(string(groups), "\n"), "\n") {
			// A no-op (marshalExact escapes what a comment cannot hold), kept so no string can
			// ever end a comment early.
			b.WriteString(commentText("#   "+line) + "\n")
		}
	}
	return b.Bytes(), nil
}

// YAML renders the level as one YAML document: a header naming the level and who requires it,
// the notes, then the AccessLevel; only comments when the level could not be read.
func (m LevelManifest) YAML() ([]byte, error) {
	var b bytes.Buffer
	header := fmt.Sprintf("Exported by runguard from access level %s, required by %s.", m.FullName, strings.Join(m.RequiredBy, ", "))
	if m.Object == nil {
		header = fmt.Sprintf("Access level %s, required by %s:", m.FullName, strings.Join(m.RequiredBy, ", "))
	}
	writeComment(&b, header, "")
	for _, n := range m.Notes {
		writeComment(&b, "- "+n, "  ")
	}
	if m.Object == nil {
		return b.Bytes(), nil
	}
	object, err := objectYAML(m.Object)
	if err != nil {
		return nil, fmt.Errorf("render AccessLevel %s: %w", m.Object.Name, err)
	}
	b.Write(object)
	return b.Bytes(), nil
}

// objectYAML is the object without the fields only the API server fills.
func objectYAML(object any) ([]byte, error) {
	doc, err := jsonTree(object)
	if err != nil {
		return nil, err
	}
	delete(doc, "status")
	if meta, ok := doc["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return marshalExact(doc)
}

// commentLine is text as one comment line, its runs of spaces and newlines folded into a space.
func commentLine(text string) string {
	return "# " + strings.Join(strings.Fields(commentText(text)), " ") + "\n"
}

// writeComment writes text as comment lines of at most about 100 characters.
func writeComment(b *bytes.Buffer, text, indent string) {
	line := "#"
	for i, word := range strings.Fields(commentText(text)) {
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

// needsEscape says whether r must be written as an escape for the export to stay YAML that
// reads back exactly. Such characters end a comment early or make the parser refuse the file:
// line breaks other than the newline (CR; NEL, LS and PS, which YAML 1.1 — the version
// Kubernetes' parser reads — counts as line breaks), control characters other than tab, the byte
// order mark, and the noncharacters U+FFFE and U+FFFF. A Google string may hold any of them (IAM
// accepts U+2028 in a condition's string literal, for one). The newline needs no escape: a note
// folds it into a space, and a string holding one is written as a block scalar, line by line.
func needsEscape(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	}
	return r == '\u2028' || r == '\u2029' || r == '\ufeff' || r == '\ufffe' || r == '\uffff'
}

// needsEscaping says whether s holds a character needsEscape names, or bytes that are not
// UTF-8 (which no YAML document holds; Google never returns them).
func needsEscaping(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, needsEscape)
}

// commentText is s with every character needsEscape names written \uXXXX (U+2028 as \u2028),
// and any byte that is not UTF-8 as U+FFFD, so it may stand in a comment.
func commentText(s string) string {
	if !needsEscaping(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		writeEscaped(&b, r)
	}
	return b.String()
}

// doubleQuoted is s as a one-line YAML double-quoted scalar, which YAML reads back as exactly s:
// a backslash, a double quote, a newline and a tab are written \\, \", \n and \t, and the
// characters needsEscape names \uXXXX, as JSON and Go write them.
func doubleQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			writeEscaped(&b, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeEscaped(b *strings.Builder, r rune) {
	if needsEscape(r) {
		fmt.Fprintf(b, `\u%04x`, r)
		return
	}
	b.WriteRune(r)
}

// marshalExact is yaml.Marshal, except that a string holding a character needsEscape names is
// written as a double-quoted scalar with escapes (doubleQuoted). sigs.k8s.io/yaml alone does not
// keep such strings: it writes LS and PS raw, folds NEL into a space and refuses DEL and the C1
// controls. Every line of the result may stand in a comment as it is.
func marshalExact(v any) ([]byte, error) {
	tree, err := jsonTree(v)
	if err != nil {
		return nil, err
	}
	// The escaped strings go through yaml.Marshal as placeholders no string of v contains, and
	// are put in its output in their place.
	prefix := "runguard-escaped-"
	for containsFunc(tree, func(s string) bool { return strings.Contains(s, prefix) }) {
		prefix += "x"
	}
	var quoted []string
	replaceStrings(tree, func(s string) string {
		if !needsEscaping(s) {
			return s
		}
		quoted = append(quoted, doubleQuoted(s))
		return fmt.Sprintf("%s%d-", prefix, len(quoted)-1)
	})
	out, err := yaml.Marshal(tree)
	if err != nil {
		return nil, err
	}
	for i, q := range quoted {
		out = bytes.Replace(out, fmt.Appendf(nil, "%s%d-", prefix, i), []byte(q), 1)
	}
	return out, nil
}

// jsonTree is v as encoding/json reads its JSON form: objects as map[string]any, lists as []any.
// Its strings are v's exactly (bytes that are not UTF-8 become U+FFFD).
func jsonTree(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var tree map[string]any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, err
	}
	return tree, nil
}

// replaceStrings replaces, in place, every string value in a jsonTree (not the keys) by f's.
func replaceStrings(v any, f func(string) string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok {
				v[k] = f(s)
				continue
			}
			replaceStrings(e, f)
		}
	case []any:
		for i, e := range v {
			if s, ok := e.(string); ok {
				v[i] = f(s)
				continue
			}
			replaceStrings(e, f)
		}
	}
}

// escapedNote says, once, which comments hold escapes and how to read them; "" when none does.
func escapedNote(foreign []iapv1alpha1.AccessGroup, inNotes bool) string {
	var groups []string
	for _, g := range foreign {
		tree, err := jsonTree(g)
		if err == nil && containsFunc(tree, needsEscaping) {
			groups = append(groups, fmt.Sprintf("%s (%s)", g.Name, joinMembers(g.Members)))
		}
	}
	var where []string
	if inNotes {
		where = append(where, "in these notes")
	}
	if len(groups) > 0 {
		where = append(where, "in the groups commented out below — "+strings.Join(groups, ", ")+
			" — inside YAML double quotes, so that uncommented they read back as the exact characters")
	}
	if len(where) == 0 {
		return ""
	}
	return "characters a YAML comment cannot hold as they are (line and paragraph separators U+2028 and U+2029, NEL U+0085, CR, other control characters, the byte order mark) are escaped, U+2028 as \\u2028: " +
		strings.Join(where, ", and ") + "."
}

// containsFunc says whether f holds for a string value of a jsonTree (replaceStrings with f
// changing nothing).
func containsFunc(tree any, f func(string) bool) bool {
	found := false
	replaceStrings(tree, func(s string) string {
		found = found || f(s)
		return s
	})
	return found
}

func joinMembers(members []iapv1alpha1.Member) string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = string(m)
	}
	return strings.Join(out, ", ")
}
