package frontdoor

import (
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
)

// levels decides the access levels IAP may use for one request: those of the organization's
// organization-level access policy, each evaluated at most once.
type levels struct {
	defs     map[string]*accesscontextmanagerpb.AccessLevel
	req      request
	cel      *celCache
	met      map[string]bool
	visiting map[string]bool
}

func newLevels(defs map[string]*accesscontextmanagerpb.AccessLevel, req request, c *celCache) *levels {
	return &levels{defs: defs, req: req, cel: c, met: map[string]bool{}, visiting: map[string]bool{}}
}

// granted are the full names of the levels the request meets: request.auth.access_levels.
func (l *levels) granted() []string {
	var out []string
	for _, name := range sortedKeys(l.defs) {
		if l.satisfied(name) {
			out = append(out, name)
		}
	}
	return out
}

// satisfied reports whether the request meets a level; a level that does not exist, or that
// requires itself (which ACM refuses), is not met.
func (l *levels) satisfied(name string) bool {
	if v, ok := l.met[name]; ok {
		return v
	}
	def, ok := l.defs[name]
	if !ok || l.visiting[name] {
		return false
	}
	l.visiting[name] = true
	v := false
	switch {
	case def.GetBasic() != nil:
		v = l.basic(def.GetBasic())
	case def.GetCustom() != nil:
		v = l.custom(name, def.GetCustom().GetExpr().GetExpression())
	}
	delete(l.visiting, name)
	l.met[name] = v
	return v
}

// basic: "A list of requirements for the AccessLevel to be granted" combined by AND (the
// default: all must be satisfied) or OR (at least one) (access_level.proto, BasicLevel).
func (l *levels) basic(b *accesscontextmanagerpb.BasicLevel) bool {
	or := b.GetCombiningFunction() == accesscontextmanagerpb.BasicLevel_OR
	for _, c := range b.GetConditions() {
		if met := l.condition(c); met == or {
			return met
		}
	}
	return !or
}

// condition is an AND over its non-empty fields; negated, "the Condition becomes a NAND over its
// non-empty fields" (access_level.proto, Condition.negate).
func (l *levels) condition(c *accesscontextmanagerpb.Condition) bool {
	var fields []bool
	if s := c.GetIpSubnetworks(); len(s) > 0 {
		fields = append(fields, slices.ContainsFunc(s, func(b string) bool { return l.req.ip.IsValid() && inBlock(l.req.ip, b) }))
	}
	if r := c.GetRegions(); len(r) > 0 {
		fields = append(fields, l.req.region != "" && slices.ContainsFunc(r, func(x string) bool { return strings.EqualFold(x, l.req.region) }))
	}
	if m := c.GetMembers(); len(m) > 0 {
		fields = append(fields, l.req.principal != "" && slices.ContainsFunc(m, func(x string) bool { return strings.EqualFold(x, l.req.principal) }))
	}
	if d := c.GetDevicePolicy(); d != nil {
		fields = append(fields, l.device(d))
	}
	if req := c.GetRequiredAccessLevels(); len(req) > 0 {
		// "All access levels listed must be granted for the Condition to be true."
		fields = append(fields, !slices.ContainsFunc(req, func(n string) bool { return !l.satisfied(n) }))
	}
	all := !slices.Contains(fields, false)
	if c.GetNegate() {
		return !all
	}
	return all
}

// device: "DevicePolicy acts as an AND over all specified fields, and each repeated field is an
// OR over its elements. Any unset fields are ignored" (access_level.proto). A fact the device
// header does not give meets no requirement.
func (l *levels) device(p *accesscontextmanagerpb.DevicePolicy) bool {
	facts := l.req.device
	ok := (!p.GetRequireScreenlock() || isTrue(facts[DeviceScreenLock])) &&
		(!p.GetRequireAdminApproval() || isTrue(facts[DeviceAdminApproved])) &&
		(!p.GetRequireCorpOwned() || isTrue(facts[DeviceCorpOwned])) &&
		oneOf(facts[DeviceEncryption], enumNames(p.GetAllowedEncryptionStatuses())) &&
		oneOf(facts[DeviceManagement], enumNames(p.GetAllowedDeviceManagementLevels()))
	if !ok || len(p.GetOsConstraints()) == 0 {
		return ok
	}
	return slices.ContainsFunc(p.GetOsConstraints(), func(o *accesscontextmanagerpb.OsConstraint) bool {
		if !strings.EqualFold(facts[DeviceOS], o.GetOsType().String()) {
			return false
		}
		if min := o.GetMinimumVersion(); min != "" {
			// "The minimum allowed OS version. If not set, any version of this OS satisfies the
			// constraint."
			if cmp, comparable := compareVersions(facts[DeviceOSVersion], min); !comparable || cmp < 0 {
				return false
			}
		}
		return !o.GetRequireVerifiedChromeOs() || isTrue(facts[DeviceVerifiedChromeOS])
	})
}

// custom evaluates a custom level's CEL expression; one that fails to evaluate (a fact not
// known, as "origin.region_code evaluates to an error" when the region cannot be determined)
// is not met.
func (l *levels) custom(self, expression string) bool {
	met, _ := l.cel.custom(expression).run(l.customVars(self))
	return met
}

// customVars are the attributes a custom level reads: origin, device, request.time, and levels
// (the other levels of the same policy by short name).
func (l *levels) customVars(self string) map[string]any {
	origin := map[string]any{}
	if l.req.ip.IsValid() {
		origin["ip"] = l.req.ip.String()
	}
	if l.req.region != "" {
		origin["region_code"] = l.req.region
	}
	vars := map[string]any{"origin": origin, "device": deviceAttributes(l.req.device),
		"request": map[string]any{"time": l.req.time}, "levels": l.siblings(self)}
	for k, v := range enums {
		vars[k] = v
	}
	return vars
}

// siblings are the other levels of self's access policy, by short name, as levels.NAME reads
// them.
func (l *levels) siblings(self string) map[string]any {
	policy := self[:strings.Index(self, "/accessLevels/")]
	out := map[string]any{}
	for name := range l.defs {
		if short, ok := strings.CutPrefix(name, policy+"/accessLevels/"); ok && name != self {
			out[short] = l.satisfied(name)
		}
	}
	return out
}

// The device facts as a custom level's device attributes: booleans, and enums by their numbers
// (device.os_type == OsType.DESKTOP_MAC).
var (
	deviceBools = map[string]string{DeviceScreenLock: "is_secured_with_screenlock", DeviceCorpOwned: "is_corp_owned_device",
		DeviceAdminApproved: "is_admin_approved_device", DeviceVerifiedChromeOS: "verified_chrome_os"}
	deviceEnums = map[string]struct{ attribute, enum string }{DeviceOS: {"os_type", "OsType"},
		DeviceEncryption: {"encryption_status", "DeviceEncryptionStatus"}, DeviceManagement: {"management_level", "DeviceManagementLevel"}}
)

func deviceAttributes(facts map[string]string) map[string]any {
	out := map[string]any{}
	for key, attribute := range deviceBools {
		if b, err := strconv.ParseBool(facts[key]); err == nil {
			out[attribute] = b
		}
	}
	for key, e := range deviceEnums {
		if v, ok := enums[e.enum].(map[string]any)[strings.ToUpper(facts[key])]; ok {
			out[e.attribute] = v
		}
	}
	if v := facts[DeviceOSVersion]; v != "" {
		out["os_version"] = v
	}
	return out
}

func isTrue(v string) bool { b, err := strconv.ParseBool(v); return err == nil && b }

// oneOf: an empty list allows any value ("an empty list allows all statuses").
func oneOf(v string, allowed []string) bool {
	return len(allowed) == 0 || slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, v) })
}

func enumNames[E interface{ String() string }](values []E) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		out = append(out, v.String())
	}
	return out
}
