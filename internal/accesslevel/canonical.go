package accesslevel

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/proto"
)

// canonicalBasic returns a copy of b in which everything whose order means
// nothing to ACM is sorted and deduplicated: conditions (AND and OR are
// both commutative and idempotent), and inside each condition every list
// (each is an OR, or for required levels an AND, of its elements). Two
// levels that mean the same then compare equal with proto.Equal, whatever
// order a user wrote or ACM returned. nil stays nil.
func canonicalBasic(b *accesscontextmanagerpb.BasicLevel) *accesscontextmanagerpb.BasicLevel {
	if b == nil {
		return nil
	}
	out := &accesscontextmanagerpb.BasicLevel{CombiningFunction: b.GetCombiningFunction()}
	for _, c := range b.GetConditions() {
		out.Conditions = append(out.Conditions, canonicalCondition(c))
	}
	out.Conditions = sortUniqueBy(out.Conditions, conditionKey)
	return out
}

func canonicalCondition(c *accesscontextmanagerpb.Condition) *accesscontextmanagerpb.Condition {
	ips := make([]string, 0, len(c.GetIpSubnetworks()))
	for _, s := range c.GetIpSubnetworks() {
		ips = append(ips, canonicalCIDR(s))
	}
	return &accesscontextmanagerpb.Condition{
		IpSubnetworks:        sortUnique(ips),
		Regions:              sortUnique(slices.Clone(c.GetRegions())),
		Members:              sortUnique(slices.Clone(c.GetMembers())),
		DevicePolicy:         canonicalDevicePolicy(c.GetDevicePolicy()),
		RequiredAccessLevels: sortUnique(slices.Clone(c.GetRequiredAccessLevels())),
		Negate:               c.GetNegate(),
	}
}

// canonicalDevicePolicy returns nil for a policy that sets nothing: ACM
// ignores unset fields, so an empty policy and none allow the same devices.
func canonicalDevicePolicy(p *accesscontextmanagerpb.DevicePolicy) *accesscontextmanagerpb.DevicePolicy {
	if p == nil {
		return nil
	}
	var oses []*accesscontextmanagerpb.OsConstraint
	for _, o := range p.GetOsConstraints() {
		oses = append(oses, proto.CloneOf(o))
	}
	out := &accesscontextmanagerpb.DevicePolicy{
		RequireScreenlock:             p.GetRequireScreenlock(),
		AllowedEncryptionStatuses:     sortUnique(slices.Clone(p.GetAllowedEncryptionStatuses())),
		OsConstraints:                 sortUniqueBy(oses, osConstraintKey),
		AllowedDeviceManagementLevels: sortUnique(slices.Clone(p.GetAllowedDeviceManagementLevels())),
		RequireAdminApproval:          p.GetRequireAdminApproval(),
		RequireCorpOwned:              p.GetRequireCorpOwned(),
	}
	if proto.Equal(out, &accesscontextmanagerpb.DevicePolicy{}) {
		return nil
	}
	return out
}

// canonicalCIDR writes a valid network in netip's canonical text (lower
// case, shortest IPv6 form) so "2001:DB8::/32" and "2001:db8::/32" compare
// equal. Anything else is returned as written for validation to report.
func canonicalCIDR(s string) string {
	p, err := netip.ParsePrefix(s)
	if err != nil || p != p.Masked() {
		return s
	}
	return p.String()
}

// sortUnique sorts s in place and drops repeats; an empty result is nil so
// that it compares equal to an unset repeated field.
func sortUnique[T cmp.Ordered](s []T) []T {
	slices.Sort(s)
	s = slices.Compact(s)
	if len(s) == 0 {
		return nil
	}
	return s
}

// sortUniqueBy orders items by key and drops items whose key repeats. An
// empty result is nil.
func sortUniqueBy[T any](items []T, key func(T) string) []T {
	if len(items) == 0 {
		return nil
	}
	type keyed struct {
		key  string
		item T
	}
	ks := make([]keyed, 0, len(items))
	for _, it := range items {
		ks = append(ks, keyed{key(it), it})
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	ks = slices.CompactFunc(ks, func(a, b keyed) bool { return a.key == b.key })
	out := make([]T, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.item)
	}
	return out
}

// conditionKey encodes a canonical condition so that two conditions have
// the same key exactly when they are equal. Strings are quoted, so no
// value can imitate a separator; it does not depend on proto marshaling,
// which refuses invalid UTF-8.
func conditionKey(c *accesscontextmanagerpb.Condition) string {
	var b strings.Builder
	for _, list := range [][]string{c.GetIpSubnetworks(), c.GetRegions(), c.GetMembers(), c.GetRequiredAccessLevels()} {
		writeQuotedList(&b, list)
	}
	fmt.Fprintf(&b, "negate=%t;", c.GetNegate())
	if p := c.GetDevicePolicy(); p != nil {
		fmt.Fprintf(&b, "device=%t,%t,%t,%v,%v;", p.GetRequireScreenlock(), p.GetRequireCorpOwned(), p.GetRequireAdminApproval(),
			p.GetAllowedEncryptionStatuses(), p.GetAllowedDeviceManagementLevels())
		for _, o := range p.GetOsConstraints() {
			b.WriteString(osConstraintKey(o))
		}
	}
	return b.String()
}

func osConstraintKey(o *accesscontextmanagerpb.OsConstraint) string {
	return fmt.Sprintf("os=%08d,%s,%t;", o.GetOsType(), strconv.Quote(o.GetMinimumVersion()), o.GetRequireVerifiedChromeOs())
}

func writeQuotedList(b *strings.Builder, list []string) {
	for _, s := range list {
		b.WriteString(strconv.Quote(s))
		b.WriteByte(',')
	}
	b.WriteByte(';')
}
