package acm

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"github.com/google/cel-go/cel"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
)

// Limits from "Access Context Manager quotas and limits" (cloud.google.com/access-context-manager/quotas).
const (
	maxConditions = 40  // conditions per access level
	maxListItems  = 200 // list items per access level attribute (CIDR ranges, members, …)
)

// versionRE is OsConstraint.minimum_version's format, "major.minor.patch".
var versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// levelContext is what validating a level needs to know of its policy: which levels exist and
// which titles other levels use.
type levelContext struct {
	exists     func(name string) bool
	titleTaken func(title string) bool
}

// violation refuses a level for one field, as Google's INVALID_ARGUMENT with a BadRequest.
func violation(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return apierr.BadRequest(msg, apierr.FieldViolation{Field: field, Description: msg})
}

// checkLevel validates a whole level (field paths under prefix, the request field holding it),
// first error first, as Google answers "for the first error encountered"
// (accessPolicies.accessLevels.create).
func checkLevel(prefix string, l *accesscontextmanagerpb.AccessLevel, lc levelContext) error {
	name, ok := ParseLevel(l.GetName())
	if !ok || !ValidShortName(name.Short) {
		return violation(prefix+"name", "Invalid access level name %q: want accessPolicies/{policy}/accessLevels/{short_name}, the short name a letter followed by at most 49 letters, digits or '_'.", l.GetName())
	}
	if l.GetTitle() == "" {
		return violation(prefix+"title", "An access level needs a title.")
	}
	if lc.titleTaken(l.GetTitle()) {
		return violation(prefix+"title", "Title %q is already used by another access level of %s; titles must be unique within the policy.", l.GetTitle(), name.Policy)
	}
	if field, bad := undefinedEnum(l.ProtoReflect()); bad {
		return violation(prefix+field, "Invalid value for enum field %s.", field)
	}
	switch lv := l.GetLevel().(type) {
	case *accesscontextmanagerpb.AccessLevel_Basic:
		return checkBasic(prefix+"basic", name.Policy, lv.Basic, lc)
	case *accesscontextmanagerpb.AccessLevel_Custom:
		return checkCustom(prefix+"custom", lv.Custom)
	}
	return violation(prefix+"basic", "An access level needs exactly one of basic and custom.")
}

func checkBasic(field, policy string, b *accesscontextmanagerpb.BasicLevel, lc levelContext) error {
	n := len(b.GetConditions())
	if n == 0 {
		return violation(field+".conditions", "A basic access level needs at least one condition.")
	}
	if n > maxConditions {
		return violation(field+".conditions", "A basic access level has at most %d conditions; this one has %d.", maxConditions, n)
	}
	for i, c := range b.GetConditions() {
		if err := checkCondition(fmt.Sprintf("%s.conditions[%d]", field, i), policy, c, lc); err != nil {
			return err
		}
	}
	return nil
}

func checkCondition(field, policy string, c *accesscontextmanagerpb.Condition, lc levelContext) error {
	for _, a := range []struct {
		name string
		n    int
	}{{"ip_subnetworks", len(c.GetIpSubnetworks())}, {"members", len(c.GetMembers())},
		{"regions", len(c.GetRegions())}, {"required_access_levels", len(c.GetRequiredAccessLevels())}} {
		if a.n > maxListItems {
			return violation(field+"."+a.name, "At most %d items per attribute; %s has %d.", maxListItems, a.name, a.n)
		}
	}
	for i, s := range c.GetIpSubnetworks() {
		p, err := netip.ParsePrefix(s)
		if err != nil || p != p.Masked() {
			return violation(fmt.Sprintf("%s.ip_subnetworks[%d]", field, i), "Invalid IP subnetwork %q: want a CIDR block whose host bits are all zero (192.0.2.0/24, 2001:db8::/32).", s)
		}
	}
	for i, m := range c.GetMembers() {
		kind, email, _ := strings.Cut(m, ":")
		if kind != "user" && kind != "serviceAccount" || !strings.Contains(email, "@") {
			return violation(fmt.Sprintf("%s.members[%d]", field, i), "Invalid member %q: want user:{email} or serviceAccount:{email}; groups are not supported.", m)
		}
	}
	for i, r := range c.GetRegions() {
		if !validRegion(r) {
			return violation(fmt.Sprintf("%s.regions[%d]", field, i), "Invalid region %q: want an ISO 3166-1 alpha-2 code.", r)
		}
	}
	for i, r := range c.GetRequiredAccessLevels() {
		if l, ok := ParseLevel(r); !ok || l.Policy != policy || !lc.exists(r) {
			return violation(fmt.Sprintf("%s.required_access_levels[%d]", field, i), "Required access level %q does not exist in %s.", r, policy)
		}
	}
	for i, oc := range c.GetDevicePolicy().GetOsConstraints() {
		f := fmt.Sprintf("%s.device_policy.os_constraints[%d]", field, i)
		if oc.GetOsType() == 0 {
			return violation(f+".os_type", "An OS constraint needs an os_type.")
		}
		if v := oc.GetMinimumVersion(); v != "" && !versionRE.MatchString(v) {
			return violation(f+".minimum_version", "Invalid minimum version %q: want major.minor.patch.", v)
		}
	}
	return nil
}

// celEnv parses custom levels' expressions.
var celEnv = sync.OnceValues(func() (*cel.Env, error) { return cel.NewEnv() })

// checkCustom parses the expression as CEL (Google also type-checks it against the attributes
// custom levels may use; the fake does not).
func checkCustom(field string, c *accesscontextmanagerpb.CustomLevel) error {
	expr := c.GetExpr().GetExpression()
	if strings.TrimSpace(expr) == "" {
		return violation(field+".expr.expression", "A custom access level needs a CEL expression.")
	}
	env, err := celEnv()
	if err != nil {
		return err
	}
	if _, iss := env.Parse(expr); iss.Err() != nil {
		return violation(field+".expr.expression", "Invalid CEL expression: %s", iss.Err())
	}
	return nil
}

// undefinedEnum finds a set enum field holding a number its enum does not define, and names it
// by its path.
func undefinedEnum(m protoreflect.Message) (string, bool) {
	var path string
	var bad bool
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path, bad = undefinedEnumIn(fd, v)
		return !bad
	})
	return path, bad
}

func undefinedEnumIn(fd protoreflect.FieldDescriptor, v protoreflect.Value) (string, bool) {
	name := string(fd.Name())
	if fd.IsList() {
		l := v.List()
		for i := range l.Len() {
			if p, bad := undefinedEnumValue(fd, l.Get(i)); bad {
				return fmt.Sprintf("%s[%d]%s", name, i, p), true
			}
		}
		return "", false
	}
	if p, bad := undefinedEnumValue(fd, v); bad {
		return name + p, true
	}
	return "", false
}

func undefinedEnumValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (string, bool) {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return "", fd.Enum().Values().ByNumber(v.Enum()) == nil
	case protoreflect.MessageKind:
		if p, bad := undefinedEnum(v.Message()); bad {
			return "." + p, true
		}
	}
	return "", false
}
