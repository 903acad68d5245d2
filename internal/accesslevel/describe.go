package accesslevel

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
)

// MaxDescribeRunes bounds what Describe returns, in characters.
const MaxDescribeRunes = 200

// Describe says what level means in one short line for status, e.g.
// "from 203.0.113.0/24, on a device with screen lock and encrypted storage"
// or "custom: device.is_corp_owned_device". Conditions are joined by the
// level's combining function, lists in canonical order, so the line does not
// depend on the order anything was written in. The result is one line of
// valid UTF-8, at most MaxDescribeRunes characters, ending in "…" when it
// was cut; it is empty for a nil level.
func Describe(level *accesscontextmanagerpb.AccessLevel) string {
	if level == nil {
		return ""
	}
	var text string
	switch l := level.GetLevel().(type) {
	case *accesscontextmanagerpb.AccessLevel_Basic:
		text = describeBasic(canonicalBasic(l.Basic))
	case *accesscontextmanagerpb.AccessLevel_Custom:
		text = "custom: " + l.Custom.GetExpr().GetExpression()
	default:
		text = "no conditions"
	}
	return truncateRunes(oneLine(text), MaxDescribeRunes)
}

func describeBasic(b *accesscontextmanagerpb.BasicLevel) string {
	conditions := b.GetConditions()
	if len(conditions) == 0 {
		return "no conditions"
	}
	joiner := " and "
	if b.GetCombiningFunction() == accesscontextmanagerpb.BasicLevel_OR {
		joiner = " or "
	}
	parts := make([]string, 0, len(conditions))
	for _, c := range conditions {
		text, clauses := describeCondition(c)
		if len(conditions) > 1 && clauses > 1 {
			text = "(" + text + ")"
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, joiner)
}

// describeCondition returns the condition's text and how many clauses it
// joined, so the caller knows whether it needs parentheses.
func describeCondition(c *accesscontextmanagerpb.Condition) (string, int) {
	var clauses []string
	if ips := c.GetIpSubnetworks(); len(ips) > 0 {
		clauses = append(clauses, "from "+strings.Join(ips, " or "))
	}
	if regions := c.GetRegions(); len(regions) > 0 {
		clauses = append(clauses, "in "+strings.Join(regions, " or "))
	}
	if members := c.GetMembers(); len(members) > 0 {
		clauses = append(clauses, "as "+strings.Join(members, " or "))
	}
	if device := describeDevicePolicy(c.GetDevicePolicy()); device != "" {
		clauses = append(clauses, device)
	}
	if required := c.GetRequiredAccessLevels(); len(required) > 0 {
		names := make([]string, 0, len(required))
		for _, r := range required {
			names = append(names, shortNameOf(r))
		}
		clauses = append(clauses, "requires "+strings.Join(names, " and "))
	}
	text := strings.Join(clauses, ", ")
	if len(clauses) == 0 {
		text = "any request"
	}
	if c.GetNegate() {
		// ACM negates a condition as a NAND over its non-empty fields,
		// which is NOT of their conjunction.
		return "NOT (" + text + ")", 1
	}
	return text, len(clauses)
}

func describeDevicePolicy(p *accesscontextmanagerpb.DevicePolicy) string {
	var features []string
	if p.GetRequireScreenlock() {
		features = append(features, "screen lock")
	}
	switch statuses := p.GetAllowedEncryptionStatuses(); {
	case len(statuses) == 1 && statuses[0] == devicetype.DeviceEncryptionStatus_ENCRYPTED:
		features = append(features, "encrypted storage")
	case len(statuses) > 0:
		features = append(features, "encryption "+joinEnumNames(statuses, " or "))
	}
	if p.GetRequireCorpOwned() {
		features = append(features, "corporate ownership")
	}
	if p.GetRequireAdminApproval() {
		features = append(features, "admin approval")
	}
	if levels := p.GetAllowedDeviceManagementLevels(); len(levels) > 0 {
		features = append(features, "management "+joinEnumNames(levels, " or "))
	}
	if oses := p.GetOsConstraints(); len(oses) > 0 {
		names := make([]string, 0, len(oses))
		for _, o := range oses {
			names = append(names, describeOS(o))
		}
		features = append(features, "OS "+strings.Join(names, " or "))
	}
	if len(features) == 0 {
		return ""
	}
	return "on a device with " + strings.Join(features, " and ")
}

func describeOS(o *accesscontextmanagerpb.OsConstraint) string {
	text := o.GetOsType().String()
	if v := o.GetMinimumVersion(); v != "" {
		text += " ≥ " + v
	}
	if o.GetRequireVerifiedChromeOs() {
		text += " (verified)"
	}
	return text
}

func joinEnumNames[E interface{ String() string }](values []E, sep string) string {
	names := make([]string, 0, len(values))
	for _, v := range values {
		names = append(names, v.String())
	}
	return strings.Join(names, sep)
}

// shortNameOf is the last segment of a full access level name, which is
// how people name levels when they speak of them.
func shortNameOf(fullName string) string {
	return fullName[strings.LastIndexByte(fullName, '/')+1:]
}

// oneLine makes text fit on one status line: invalid UTF-8 becomes U+FFFD,
// and every run of whitespace or control characters one space.
func oneLine(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range text {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// truncateRunes keeps text within limit characters, ending a cut text with
// "…", never splitting a rune.
func truncateRunes(text string, limit int) string {
	if utf8.RuneCountInString(text) <= limit {
		return text
	}
	n := 0
	for i := range text {
		if n == limit-1 {
			return text[:i] + truncationMark
		}
		n++
	}
	return text
}
