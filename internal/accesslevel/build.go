package accesslevel

import (
	"slices"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
	"google.golang.org/genproto/googleapis/type/expr"
)

// Build returns the level to send for s under fullName
// (accessPolicies/N/accessLevels/SHORT), owned by o. Lists whose order
// means nothing to ACM are sorted and deduplicated, so comparing what
// Build returns with what Google holds is stable (see Mask). The
// description is the user's text followed by the ownership marker, kept
// within MaxDescriptionLength (see ownedDescription).
//
// s is expected to have passed Validate: an enum name Validate would
// reject becomes the enum's zero value, and when both Basic and Custom are
// set Basic wins.
func Build(s Spec, fullName string, o Owner) *accesscontextmanagerpb.AccessLevel {
	level := &accesscontextmanagerpb.AccessLevel{
		Name:        fullName,
		Title:       s.Title,
		Description: ownedDescription(s.Description, o),
	}
	switch {
	case s.Basic != nil:
		level.Level = &accesscontextmanagerpb.AccessLevel_Basic{Basic: canonicalBasic(basicProto(*s.Basic))}
	case s.Custom != "":
		level.Level = &accesscontextmanagerpb.AccessLevel_Custom{Custom: &accesscontextmanagerpb.CustomLevel{
			Expr: &expr.Expr{Expression: s.Custom},
		}}
	}
	return level
}

// FromProto is the reverse of Build, for `runguard export`: the Spec a
// level found in Google corresponds to (lists in canonical order), with the
// ownership marker stripped from the description, and the owner when the
// level is runguard's. A custom level keeps only its expression; ACM's Expr
// title, description and location have no place in Spec.
func FromProto(level *accesscontextmanagerpb.AccessLevel) (Spec, Owner, bool) {
	description, owner, owned := splitDescription(level.GetDescription())
	if !owned {
		description = level.GetDescription()
	}
	s := Spec{Title: level.GetTitle(), Description: description}
	switch l := level.GetLevel().(type) {
	case *accesscontextmanagerpb.AccessLevel_Basic:
		b := basicSpec(canonicalBasic(l.Basic))
		s.Basic = &b
	case *accesscontextmanagerpb.AccessLevel_Custom:
		s.Custom = l.Custom.GetExpr().GetExpression()
	}
	return s, owner, owned
}

func basicProto(b Basic) *accesscontextmanagerpb.BasicLevel {
	out := &accesscontextmanagerpb.BasicLevel{
		CombiningFunction: accesscontextmanagerpb.BasicLevel_ConditionCombiningFunction(
			accesscontextmanagerpb.BasicLevel_ConditionCombiningFunction_value[b.CombiningFunction]),
	}
	for _, c := range b.Conditions {
		out.Conditions = append(out.Conditions, &accesscontextmanagerpb.Condition{
			IpSubnetworks:        slices.Clone(c.IPSubnetworks),
			Regions:              slices.Clone(c.Regions),
			Members:              slices.Clone(c.Members),
			DevicePolicy:         devicePolicyProto(c.DevicePolicy),
			RequiredAccessLevels: slices.Clone(c.RequiredAccessLevels),
			Negate:               c.Negate,
		})
	}
	return out
}

func devicePolicyProto(p *DevicePolicy) *accesscontextmanagerpb.DevicePolicy {
	if p == nil {
		return nil
	}
	out := &accesscontextmanagerpb.DevicePolicy{
		RequireScreenlock:    p.RequireScreenLock,
		RequireCorpOwned:     p.RequireCorpOwned,
		RequireAdminApproval: p.RequireAdminApproval,
	}
	for _, name := range p.AllowedEncryptionStatuses {
		out.AllowedEncryptionStatuses = append(out.AllowedEncryptionStatuses,
			devicetype.DeviceEncryptionStatus(devicetype.DeviceEncryptionStatus_value[name]))
	}
	for _, name := range p.AllowedDeviceManagementLevels {
		out.AllowedDeviceManagementLevels = append(out.AllowedDeviceManagementLevels,
			devicetype.DeviceManagementLevel(devicetype.DeviceManagementLevel_value[name]))
	}
	for _, o := range p.OSConstraints {
		out.OsConstraints = append(out.OsConstraints, &accesscontextmanagerpb.OsConstraint{
			OsType:                  devicetype.OsType(devicetype.OsType_value[o.OSType]),
			MinimumVersion:          o.MinimumVersion,
			RequireVerifiedChromeOs: o.RequireVerifiedChromeOS,
		})
	}
	return out
}

func basicSpec(b *accesscontextmanagerpb.BasicLevel) Basic {
	out := Basic{CombiningFunction: b.GetCombiningFunction().String()}
	for _, c := range b.GetConditions() {
		out.Conditions = append(out.Conditions, Condition{
			IPSubnetworks:        c.GetIpSubnetworks(),
			Regions:              c.GetRegions(),
			Members:              c.GetMembers(),
			DevicePolicy:         devicePolicySpec(c.GetDevicePolicy()),
			RequiredAccessLevels: c.GetRequiredAccessLevels(),
			Negate:               c.GetNegate(),
		})
	}
	return out
}

// devicePolicySpec writes enum values by their proto names; a number the
// proto does not know comes out as its decimal text, which Validate then
// names as unknown.
func devicePolicySpec(p *accesscontextmanagerpb.DevicePolicy) *DevicePolicy {
	if p == nil {
		return nil
	}
	out := &DevicePolicy{
		RequireScreenLock:    p.GetRequireScreenlock(),
		RequireCorpOwned:     p.GetRequireCorpOwned(),
		RequireAdminApproval: p.GetRequireAdminApproval(),
	}
	for _, e := range p.GetAllowedEncryptionStatuses() {
		out.AllowedEncryptionStatuses = append(out.AllowedEncryptionStatuses, e.String())
	}
	for _, m := range p.GetAllowedDeviceManagementLevels() {
		out.AllowedDeviceManagementLevels = append(out.AllowedDeviceManagementLevels, m.String())
	}
	for _, o := range p.GetOsConstraints() {
		out.OSConstraints = append(out.OSConstraints, OSConstraint{
			OSType:                  o.GetOsType().String(),
			MinimumVersion:          o.GetMinimumVersion(),
			RequireVerifiedChromeOS: o.GetRequireVerifiedChromeOs(),
		})
	}
	return out
}
