package iampolicy

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/type/expr"
)

const (
	// TitlePrefix starts the title of every condition runguard writes;
	// the rest of the title is the access group's name.
	TitlePrefix = "runguard:"

	// descriptionPrefix is the first field of the description. The owner
	// follows as cluster=, namespace=, name= in that order, single spaces
	// between fields, values percent-escaped (see escapeMarkerValue).
	descriptionPrefix = "managed-by=runguard"

	// MaxTitleLength is IAM's limit on a condition title (characters; we
	// count bytes, which is never less).
	MaxTitleLength = 100

	// MaxDescriptionLength is the description budget runguard allows itself.
	// No published limit for google.type.Expr descriptions was found (see
	// docs/ownership.md); 256 bytes is the conservative figure other IAM
	// description fields have used. The owner fields fit it: 45 bytes of
	// keys plus three 63-byte DNS labels is 234.
	MaxDescriptionLength = 256
)

// Marker is what runguard writes into a binding's condition title
// (the group) and description (the owner).
type Marker struct {
	Owner Owner
	Group string
}

// ParseMarker reads the marker out of a condition runguard wrote. It
// returns false for conditions runguard did not write: the title must start
// with "runguard:" and name a group, AND the description must be exactly
// "managed-by=runguard cluster=<c> namespace=<ns> name=<n>" with non-empty,
// canonically escaped values. A description that merely mentions runguard
// is not a marker.
func ParseMarker(c *expr.Expr) (Marker, bool) {
	if c == nil {
		return Marker{}, false
	}
	group, ok := strings.CutPrefix(c.GetTitle(), TitlePrefix)
	if !ok || group == "" {
		return Marker{}, false
	}
	fields := strings.Split(c.GetDescription(), " ")
	if len(fields) != 4 || fields[0] != descriptionPrefix {
		return Marker{}, false
	}
	var vals [3]string
	for i, key := range [3]string{"cluster=", "namespace=", "name="} {
		raw, ok := strings.CutPrefix(fields[i+1], key)
		if !ok || raw == "" {
			return Marker{}, false
		}
		v, ok := unescapeMarkerValue(raw)
		if !ok {
			return Marker{}, false
		}
		vals[i] = v
	}
	return Marker{Owner: Owner{Cluster: vals[0], Namespace: vals[1], Name: vals[2]}, Group: group}, true
}

// markerTitle is the condition title for a group.
func markerTitle(group string) string { return TitlePrefix + group }

// markerDescription is the condition description for an owner.
func markerDescription(o Owner) string {
	return descriptionPrefix +
		" cluster=" + escapeMarkerValue(o.Cluster) +
		" namespace=" + escapeMarkerValue(o.Namespace) +
		" name=" + escapeMarkerValue(o.Name)
}

// ValidateOwner checks that an owner can be written into a marker: every
// field non-empty valid UTF-8 and the description within
// MaxDescriptionLength.
func ValidateOwner(o Owner) error {
	for _, f := range [...]struct{ key, val string }{{"cluster", o.Cluster}, {"namespace", o.Namespace}, {"name", o.Name}} {
		if f.val == "" {
			return fmt.Errorf("owner %s: %s is empty", o, f.key)
		}
		if !utf8.ValidString(f.val) {
			return fmt.Errorf("owner %s: %s is not valid UTF-8", o, f.key)
		}
	}
	if n := len(markerDescription(o)); n > MaxDescriptionLength {
		return fmt.Errorf("owner %s: the condition description would be %d bytes, more than the %d runguard allows; shorten the cluster name",
			o, n, MaxDescriptionLength)
	}
	return nil
}

// isMarkerValueByte lists the bytes written as-is; everything else
// (space, '%', '=', non-ASCII) is percent-escaped so a value can never
// forge a field separator.
func isMarkerValueByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_'
}

func escapeMarkerValue(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !isMarkerValueByte(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isMarkerValueByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
	return b.String()
}

// unescapeMarkerValue accepts only the canonical form escapeMarkerValue
// produces, so one owner has exactly one description.
func unescapeMarkerValue(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isMarkerValueByte(c) {
			b.WriteByte(c)
			continue
		}
		if c != '%' || i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := upperHexValue(s[i+1])
		lo, ok2 := upperHexValue(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		v := hi<<4 | lo
		if isMarkerValueByte(v) {
			return "", false
		}
		b.WriteByte(v)
		i += 2
	}
	out := b.String()
	if !utf8.ValidString(out) {
		return "", false
	}
	return out, true
}

func upperHexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
