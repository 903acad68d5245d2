package reach

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"
)

// customEnv evaluates custom access levels over the attributes ACM
// documents (https://cloud.google.com/access-context-manager/docs/custom-access-level-spec):
// origin, device, request and levels, the enums expressions compare them
// with, and the functions inIpRange and versionAtLeast. Functions about
// certificates answer unknown: runguard never sees one.
var customEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts := []cel.EnvOption{cel.ParserExpressionSizeLimit(maxExpressionBytes)}
	for _, v := range []string{"origin", "device", "request", "levels", "OsType", "DeviceEncryptionStatus", "DeviceManagementLevel"} {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	return cel.NewEnv(append(opts,
		cel.Function("inIpRange", cel.Overload("reach_inIpRange",
			[]*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType, cel.BinaryBinding(inIPRange))),
		cel.Function("versionAtLeast", cel.MemberOverload("reach_versionAtLeast",
			[]*cel.Type{cel.DynType, cel.StringType}, cel.BoolType, cel.BinaryBinding(versionAtLeast))),
		cel.Function("certificateBindingState", cel.Overload("reach_certificateBindingState",
			[]*cel.Type{cel.DynType, cel.DynType}, cel.IntType, cel.FunctionBinding(unknownValue))),
		cel.Function("clientCertFingerprint", cel.MemberOverload("reach_clientCertFingerprint",
			[]*cel.Type{cel.DynType}, cel.StringType, cel.FunctionBinding(unknownValue))),
	)...)
})

// enumValues are the enum constants custom expressions name
// (OsType.DESKTOP_MAC), as the values device attributes carry.
var enumValues = map[string]map[string]int32{
	"OsType":                 devicetype.OsType_value,
	"DeviceEncryptionStatus": devicetype.DeviceEncryptionStatus_value,
	"DeviceManagementLevel":  devicetype.DeviceManagementLevel_value,
}

// customLevel decides a custom level by evaluating its expression over the
// request's facts, the facts not given being unknown.
func (e *evaluator) customLevel(name, expression string) judgement {
	at := " (" + name + ")"
	env, err := customEnv()
	if err != nil {
		return undecided("what the custom expression means; runguard cannot evaluate it: " + err.Error() + at)
	}
	tree, prg, err := program(env, expression)
	switch {
	case tree == nil:
		return certain(false, "the custom expression does not parse"+at)
	case prg == nil:
		return undecided("what the custom expression means; runguard cannot evaluate it: " + err.Error() + at)
	}
	vars, unknown, assumed := e.customVars(name, tree.NativeRep())
	t, err := evalTruth(prg, vars, unknown.patterns)
	if err != nil {
		t, unknown.depends = isUnknown, []string{"what the custom expression means; runguard cannot evaluate it: " + err.Error() + at}
	}
	out := certain(t == isTrue, "the custom expression `"+expression+"` is false"+at)
	if t == isUnknown {
		out = undecided(unknown.depends...)
	}
	out.assumed = assumed
	return out
}

// customVars builds the attributes of a custom expression from the request
// and marks unknown every attribute tree selects that is not given.
func (e *evaluator) customVars(name string, tree *ast.AST) (map[string]any, *unknownAttributes, []string) {
	at := " (" + name + ")"
	device := deviceAttributes(e.req.Device)
	origin := map[string]any{}
	if e.req.IP != "" {
		origin["ip"] = e.req.IP
	}
	if e.req.RegionCode != "" {
		origin["region_code"] = e.req.RegionCode
	}
	vars := map[string]any{"origin": origin, "device": device, "request": map[string]any{}, "levels": map[string]any{}}
	for enum, values := range enumValues {
		m := make(map[string]int64, len(values))
		for k, v := range values {
			m[k] = int64(v)
		}
		vars[enum] = m
	}
	if !e.req.Time.IsZero() {
		vars["request"] = map[string]any{"time": e.req.Time}
	}
	unknown := &unknownAttributes{}
	var assumed []string
	policy := name[:strings.LastIndex(name, "/")+1]
	for _, c := range selectChains(tree) {
		if len(c) < 2 {
			continue
		}
		root, field := c[0], c[1]
		switch root {
		case "levels":
			sibling := e.level(policy + field)
			assumed = appendNew(assumed, sibling.assumed...)
			if sibling.truth == isUnknown {
				unknown.add(sibling.depends, root, field)
				continue
			}
			vars["levels"].(map[string]any)[field] = sibling.truth == isTrue
		case "origin", "device", "request":
			if _, known := vars[root].(map[string]any)[field]; !known {
				unknown.add([]string{attributePhrase(root, field) + at}, root, field)
			}
		}
	}
	if _, known := device["os_version"]; !known && callsFunction(tree, "versionAtLeast") {
		unknown.depends = appendNew(unknown.depends, "the device's OS version"+at)
	}
	for _, f := range []string{"certificateBindingState", "clientCertFingerprint"} {
		if callsFunction(tree, f) {
			unknown.depends = appendNew(unknown.depends, "the client certificate the device presents"+at)
		}
	}
	return vars, unknown, assumed
}

// deviceAttributes turns the device facts into the attributes custom
// expressions read (device.is_secured_with_screenlock, …).
func deviceAttributes(facts map[string]string) map[string]any {
	out := map[string]any{}
	for key, attribute := range map[string]string{
		DeviceScreenLock: "is_secured_with_screenlock", DeviceCorpOwned: "is_corp_owned_device",
		DeviceAdminApproved: "is_admin_approved_device", DeviceVerifiedChromeOS: "verified_chrome_os",
	} {
		if b, err := strconv.ParseBool(facts[key]); err == nil {
			out[attribute] = b
		}
	}
	if v, ok := devicetype.DeviceEncryptionStatus_value[strings.ToUpper(facts[DeviceEncryption])]; ok {
		out["encryption_status"] = int64(v)
	}
	if v, ok := devicetype.OsType_value[strings.ToUpper(facts[DeviceOS])]; ok {
		out["os_type"] = int64(v)
	}
	if v, ok := facts[DeviceOSVersion]; ok {
		out["os_version"] = v
	}
	return out
}

func attributePhrase(root, field string) string {
	switch root + "." + field {
	case "origin.ip":
		return "the request's address"
	case "origin.region_code":
		return "the region the request comes from"
	case "request.time":
		return "the time of the request"
	}
	if root != "device" {
		return root + "." + field
	}
	if words, ok := deviceWords[field]; ok {
		return "the device's " + words
	}
	return "the device's " + field
}

var deviceWords = map[string]string{
	"is_secured_with_screenlock": "screen lock", "encryption_status": "storage encryption",
	"os_type": "OS type", "os_version": "OS version", "is_corp_owned_device": "ownership",
	"is_admin_approved_device": "admin approval", "verified_chrome_os": "Chrome OS verification",
}

// inIpRange(ip, ranges): whether ip lies in one of the CIDR ranges.
func inIPRange(ip, ranges ref.Val) ref.Val {
	s, isString := ip.(types.String)
	list, isList := ranges.(traits.Lister)
	if !isString || !isList {
		return types.NewErr("inIpRange takes an address and a list of ranges")
	}
	addr, err := netip.ParseAddr(string(s))
	if err != nil {
		return types.False
	}
	it := list.Iterator()
	for it.HasNext() == types.True {
		s, ok := it.Next().(types.String)
		if p, err := netip.ParsePrefix(string(s)); ok && err == nil && p.Contains(addr.Unmap()) {
			return types.True
		}
	}
	return types.False
}

// device.versionAtLeast(minimum): the device's OS version against minimum.
func versionAtLeast(device, minimum ref.Val) ref.Val {
	m, isMap := device.(traits.Mapper)
	want, isString := minimum.(types.String)
	if !isMap || !isString {
		return types.NewErr("versionAtLeast is called on the device with a version")
	}
	found, ok := m.Find(types.String("os_version"))
	have, isVersion := found.(types.String)
	if !ok || !isVersion {
		return types.NewUnknown(0, nil)
	}
	cmp, comparable := compareVersions(string(have), string(want))
	if !comparable {
		return types.NewUnknown(0, nil)
	}
	return types.Bool(cmp >= 0)
}
