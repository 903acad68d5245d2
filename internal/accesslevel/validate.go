package accesslevel

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
)

// ACM's content limits (https://cloud.google.com/access-context-manager/quotas):
// "Conditions per access level: 40" and "List items per access level
// attribute (for example, the number of CIDR ranges you can include for
// the IP Subnetworks attribute): 200".
const (
	MaxConditions   = 40
	MaxItemsPerList = 200
)

var (
	// shortNamePattern is AccessLevel.name's short-name rule: "must begin
	// with a letter and only include alphanumeric and '_'", at most 50
	// characters (access_level.proto).
	shortNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,49}$`)
	fullNamePattern  = regexp.MustCompile(`^accessPolicies/[0-9]+/accessLevels/[A-Za-z][A-Za-z0-9_]{0,49}$`)
	// OsConstraint.minimum_version: `"major.minor.patch"`, e.g. "10.5.301".
	osVersionPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)
)

// Validate checks what the CRD schema cannot: exactly one of Basic and
// Custom, ACM's limits, every CIDR, region, member, required level name and
// enum name, and that a custom expression compiles. Every problem is
// reported, joined; each message names the offending value and what is
// accepted.
func Validate(s Spec) error {
	var errs []error
	if strings.TrimSpace(s.Title) == "" {
		errs = append(errs, errors.New("title is empty; ACM requires a human-readable title, unique within the access policy"))
	}
	switch {
	case s.Basic != nil && s.Custom != "":
		errs = append(errs, errors.New("both basic and custom are set; an access level is exactly one of them"))
	case s.Basic != nil:
		errs = append(errs, validateBasic(*s.Basic)...)
	case s.Custom != "":
		if err := ValidateCustom(s.Custom); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, errors.New("neither basic nor custom is set; an access level needs one of them"))
	}
	return errors.Join(errs...)
}

func validateBasic(b Basic) []error {
	var errs []error
	if _, ok := accesscontextmanagerpb.BasicLevel_ConditionCombiningFunction_value[b.CombiningFunction]; !ok && b.CombiningFunction != "" {
		errs = append(errs, fmt.Errorf("combining function %q is unknown; use AND (the default) or OR", b.CombiningFunction))
	}
	switch n := len(b.Conditions); {
	case n == 0:
		errs = append(errs, errors.New("basic level has no conditions; ACM requires at least one"))
	case n > MaxConditions:
		errs = append(errs, fmt.Errorf("basic level has %d conditions; ACM allows at most %d", n, MaxConditions))
	}
	for i, c := range b.Conditions {
		for _, err := range validateCondition(c) {
			errs = append(errs, fmt.Errorf("condition %d: %w", i+1, err))
		}
	}
	return errs
}

func validateCondition(c Condition) []error {
	emptyDevice := c.DevicePolicy == nil || canonicalDevicePolicy(devicePolicyProto(c.DevicePolicy)) == nil
	if len(c.IPSubnetworks)+len(c.Regions)+len(c.Members)+len(c.RequiredAccessLevels) == 0 && emptyDevice {
		return []error{errors.New("sets nothing; an empty condition matches every request (or, negated, none), so set at least one of ipSubnetworks, regions, members, devicePolicy or requiredAccessLevels")}
	}
	var errs []error
	lists := []struct {
		field string
		items []string
		check func(string) error
	}{
		{"ipSubnetworks", c.IPSubnetworks, ValidateCIDR},
		{"regions", c.Regions, validateRegion},
		{"members", c.Members, validateMember},
		{"requiredAccessLevels", c.RequiredAccessLevels, validateFullName},
	}
	for _, l := range lists {
		if len(l.items) > MaxItemsPerList {
			errs = append(errs, fmt.Errorf("%s has %d items; ACM allows at most %d", l.field, len(l.items), MaxItemsPerList))
		}
		for _, item := range l.items {
			if err := l.check(item); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", l.field, err))
			}
		}
	}
	if c.DevicePolicy != nil {
		errs = append(errs, validateDevicePolicy(*c.DevicePolicy)...)
	}
	return errs
}

func validateDevicePolicy(p DevicePolicy) []error {
	var errs []error
	for _, name := range p.AllowedEncryptionStatuses {
		if _, ok := devicetype.DeviceEncryptionStatus_value[name]; !ok {
			errs = append(errs, fmt.Errorf("devicePolicy: encryption status %q is unknown; use one of %s", name,
				enumNames(devicetype.DeviceEncryptionStatus_name)))
		}
	}
	for _, name := range p.AllowedDeviceManagementLevels {
		if _, ok := devicetype.DeviceManagementLevel_value[name]; !ok {
			errs = append(errs, fmt.Errorf("devicePolicy: device management level %q is unknown; use one of %s", name,
				enumNames(devicetype.DeviceManagementLevel_name)))
		}
	}
	for _, o := range p.OSConstraints {
		if v, ok := devicetype.OsType_value[o.OSType]; !ok || v == int32(devicetype.OsType_OS_UNSPECIFIED) {
			errs = append(errs, fmt.Errorf("devicePolicy: OS type %q is not accepted; use one of %s", o.OSType,
				enumNames(devicetype.OsType_name, "OS_UNSPECIFIED")))
		}
		if o.MinimumVersion != "" && !osVersionPattern.MatchString(o.MinimumVersion) {
			errs = append(errs, fmt.Errorf("devicePolicy: minimum version %q of %s is not a version; write major.minor.patch, e.g. 10.5.301",
				o.MinimumVersion, o.OSType))
		}
	}
	return errs
}

// ValidateCIDR accepts an IPv4 or IPv6 network written the way ACM
// requires: the network address with every host bit zero
// ("192.0.2.0/24", not "192.0.2.1/24").
func ValidateCIDR(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("%q is not a CIDR block; write a network such as 192.0.2.0/24 or 2001:db8::/32", s)
	}
	if masked := p.Masked(); masked != p {
		return fmt.Errorf("%q has host bits set; ACM accepts only the network address, use %q", s, masked.String())
	}
	return nil
}

// ShortName maps a Kubernetes object name (a DNS-1123 label: lower-case
// letters, digits and '-') to an ACM short name by replacing '-' with '_'.
// The mapping is one-to-one on such names, which never contain '_'. The
// result may still be invalid (a leading digit, more than 50 characters):
// check it with ValidShortName.
func ShortName(objectName string) string {
	return strings.ReplaceAll(objectName, "-", "_")
}

// ValidShortName reports whether s is an ACM access level short name: a
// letter, then letters, digits and '_', at most 50 characters.
func ValidShortName(s string) bool { return shortNamePattern.MatchString(s) }

func validateFullName(s string) error {
	if !fullNamePattern.MatchString(s) {
		return fmt.Errorf("%q is not a full access level name; write accessPolicies/POLICY_NUMBER/accessLevels/SHORT_NAME", s)
	}
	return nil
}

func validateRegion(code string) error {
	if !ValidRegion(code) {
		return fmt.Errorf("%q is not an assigned ISO 3166-1 alpha-2 code; write two upper-case letters such as US, GB or JP", code)
	}
	return nil
}

// validateMember accepts what Condition.members documents: "user:{emailid}"
// or "serviceAccount:{emailid}"; groups are not supported there.
func validateMember(m string) error {
	for _, prefix := range []string{"user:", "serviceAccount:"} {
		if email, ok := strings.CutPrefix(m, prefix); ok {
			local, domain, found := strings.Cut(email, "@")
			if !found || local == "" || domain == "" || strings.ContainsAny(email, " \t\n") {
				return fmt.Errorf("%q does not name an email address; write %sNAME@DOMAIN", m, prefix)
			}
			return nil
		}
	}
	return fmt.Errorf("%q is not accepted; ACM access levels take only user:EMAIL and serviceAccount:EMAIL members (no groups)", m)
}

// enumNames lists a proto enum's names in number order, leaving out skip.
func enumNames(names map[int32]string, skip ...string) string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if !slices.Contains(skip, names[n]) {
			out = append(out, names[n])
		}
	}
	return strings.Join(out, ", ")
}
