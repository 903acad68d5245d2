package accesslevel

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
)

// MaxDescriptionLength is the budget, in bytes, for a level's whole
// description (the user's text, a blank line and the marker line). ACM
// publishes no limit for AccessLevel.description: the proto, the REST
// reference, the gcloud reference and the quotas page
// (https://cloud.google.com/access-context-manager/quotas) name none. 1024
// is a self-imposed budget, not a documented limit; counting bytes is never
// less than counting characters.
const MaxDescriptionLength = 1024

// The marker is the description's last line, after a blank line that
// separates it from the user's text:
//
//	managed by runguard: cluster "prod-eu", AccessLevel "corp-network"
//
// Values are Go-quoted (strconv.Quote), so the line is plain English to a
// human in the console, can never contain a newline, and a value can never
// forge the separator between fields.
const (
	markerPrefix    = "managed by runguard: cluster "
	markerNameField = ", AccessLevel "
	// markerSeparator stands between the user's text and the marker.
	markerSeparator = "\n\n"
	// truncationMark ends user text that Build shortened to fit.
	truncationMark = "…"
)

// markerLine is the marker naming o.
func markerLine(o Owner) string {
	return markerPrefix + strconv.Quote(o.Cluster) + markerNameField + strconv.Quote(o.Name)
}

// ownedDescription is the description Build sends: the user's text (cut
// at a rune boundary and ended with "…" when it would not fit), a blank
// line, then the marker. The marker is never cut, because ownership matters
// more than the budget: an owner too long for it is what
// DescriptionFits("", o) reports.
func ownedDescription(user string, o Owner) string {
	marker := markerLine(o)
	if user == "" {
		return marker
	}
	room := MaxDescriptionLength - len(marker) - len(markerSeparator)
	if len(user) > room {
		if room <= len(truncationMark) {
			return marker
		}
		user = cutAtRune(user, room-len(truncationMark)) + truncationMark
	}
	return user + markerSeparator + marker
}

// cutAtRune returns the longest prefix of s that is at most n bytes and
// does not split a UTF-8 sequence.
func cutAtRune(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// DescriptionFits reports whether Build can carry userDescription for o
// whole: valid UTF-8 (a proto string must be) and, with the marker, within
// MaxDescriptionLength. The controller rejects an object for which it is
// false instead of letting Build shorten the text.
func DescriptionFits(userDescription string, o Owner) bool {
	if !utf8.ValidString(userDescription) {
		return false
	}
	n := len(markerLine(o))
	if userDescription != "" {
		n += len(markerSeparator) + len(userDescription)
	}
	return n <= MaxDescriptionLength
}

// OwnerOf reports which AccessLevel object owns level. It is strict: the
// description must be exactly the marker, or non-empty user text, a blank
// line and the marker, with both values non-empty and quoted the way Build
// quotes them. A description that merely mentions runguard is not owned.
func OwnerOf(level *accesscontextmanagerpb.AccessLevel) (Owner, bool) {
	_, o, ok := splitDescription(level.GetDescription())
	return o, ok
}

// splitDescription undoes ownedDescription: it returns the user's text and
// the owner, or false when the description carries no marker.
func splitDescription(description string) (string, Owner, bool) {
	user, marker := "", description
	if i := strings.LastIndexByte(description, '\n'); i >= 0 {
		var ok bool
		user, ok = strings.CutSuffix(description[:i+1], markerSeparator)
		if !ok || user == "" {
			return "", Owner{}, false
		}
		marker = description[i+1:]
	}
	o, ok := parseMarkerLine(marker)
	if !ok {
		return "", Owner{}, false
	}
	return user, o, true
}

func parseMarkerLine(line string) (Owner, bool) {
	rest, ok := strings.CutPrefix(line, markerPrefix)
	if !ok {
		return Owner{}, false
	}
	cluster, rest, ok := cutQuoted(rest)
	if !ok {
		return Owner{}, false
	}
	rest, ok = strings.CutPrefix(rest, markerNameField)
	if !ok {
		return Owner{}, false
	}
	name, rest, ok := cutQuoted(rest)
	if !ok || rest != "" {
		return Owner{}, false
	}
	return Owner{Cluster: cluster, Name: name}, true
}

// cutQuoted reads one non-empty Go-quoted value off the front of s. Only
// the form strconv.Quote writes is accepted, so one owner has exactly one
// marker.
func cutQuoted(s string) (value, rest string, ok bool) {
	quoted, err := strconv.QuotedPrefix(s)
	if err != nil || quoted[0] != '"' {
		return "", "", false
	}
	value, err = strconv.Unquote(quoted)
	if err != nil || value == "" || strconv.Quote(value) != quoted {
		return "", "", false
	}
	return value, s[len(quoted):], true
}
