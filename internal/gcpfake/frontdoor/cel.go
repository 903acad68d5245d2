package frontdoor

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	devicetype "google.golang.org/genproto/googleapis/identity/accesscontextmanager/type"

	// Conditions may name any IANA time zone (request.time.getHours("Europe/Berlin")); the
	// answer must not depend on the machine's zoneinfo.
	_ "time/tzdata"
)

// levelNameRE is a full access level name, as IAP's conditions name levels.
var levelNameRE = regexp.MustCompile(`^accessPolicies/[^/]+/accessLevels/[^/]+$`)

// conditionEnv declares what an IAM condition on an IAP resource may read: request (path, host,
// time, auth.access_levels) and resource, whose attributes the front door does not give, so a
// condition reading them fails to evaluate.
var conditionEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("request", cel.DynType), cel.Variable("resource", cel.DynType))
})

// customEnv declares what a custom access level may read (the custom access level
// specification): origin, device, request, levels, the enums device attributes are compared
// with, inIpRange and device.versionAtLeast.
var customEnv = sync.OnceValues(func() (*cel.Env, error) {
	var opts []cel.EnvOption
	for _, v := range []string{"origin", "device", "request", "levels", "OsType", "DeviceEncryptionStatus", "DeviceManagementLevel"} {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	opts = append(opts,
		cel.Function("inIpRange", cel.Overload("frontdoor_inIpRange",
			[]*cel.Type{cel.DynType, cel.DynType}, cel.BoolType, cel.BinaryBinding(inIPRange))),
		cel.Function("versionAtLeast", cel.MemberOverload("frontdoor_versionAtLeast",
			[]*cel.Type{cel.DynType, cel.StringType}, cel.BoolType, cel.BinaryBinding(versionAtLeast))))
	return cel.NewEnv(opts...)
})

// enums are the enum types of device attributes by name, as custom levels compare them
// (device.os_type == OsType.DESKTOP_MAC).
var enums = map[string]any{
	"OsType":                 enumValues(devicetype.OsType_value),
	"DeviceEncryptionStatus": enumValues(devicetype.DeviceEncryptionStatus_value),
	"DeviceManagementLevel":  enumValues(devicetype.DeviceManagementLevel_value),
}

func enumValues(m map[string]int32) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = int64(v)
	}
	return out
}

// compiled is one expression, ready to run, with the access levels it names.
type compiled struct {
	program cel.Program
	levels  []string
	err     error
}

// celCache compiles each expression once.
type celCache struct {
	mu       sync.Mutex
	programs map[string]compiled
}

func newCELCache() *celCache { return &celCache{programs: map[string]compiled{}} }

func (c *celCache) condition(expression string) compiled {
	return c.compile("condition", conditionEnv, expression)
}

func (c *celCache) custom(expression string) compiled {
	return c.compile("custom", customEnv, expression)
}

func (c *celCache) compile(kind string, env func() (*cel.Env, error), expression string) compiled {
	key := kind + "\x00" + expression
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.programs[key]; ok {
		return p
	}
	p := compileWith(env, expression)
	c.programs[key] = p
	return p
}

func compileWith(envOf func() (*cel.Env, error), expression string) compiled {
	env, err := envOf()
	if err != nil {
		return compiled{err: err}
	}
	checked, iss := env.Compile(expression)
	if iss.Err() != nil {
		return compiled{err: iss.Err()}
	}
	prg, err := env.Program(checked)
	if err != nil {
		return compiled{err: err}
	}
	return compiled{program: prg, levels: namedLevels(checked.NativeRep())}
}

// namedLevels are the string literals of an expression that are access level names.
func namedLevels(tree *ast.AST) []string {
	var out []string
	ast.PostOrderVisit(tree.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.LiteralKind {
			return
		}
		if s, ok := e.AsLiteral().(types.String); ok && levelNameRE.MatchString(string(s)) {
			out = append(out, string(s))
		}
	}))
	return out
}

// run evaluates a compiled expression; anything but true (false, an error, another type) is
// false.
func (p compiled) run(vars map[string]any) (bool, error) {
	if p.err != nil {
		return false, fmt.Errorf("does not compile: %w", p.err)
	}
	out, _, err := p.program.Eval(vars)
	if err != nil {
		return false, fmt.Errorf("fails to evaluate: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("evaluates to %v, not a bool", out.Value())
	}
	return b, nil
}

// inIPRange(ip, ranges): whether ip lies in one of ranges, a CIDR block or address or a list of
// them ("inIpRange(origin.ip, ["203.0.113.24"])", custom access level specification).
func inIPRange(ip, ranges ref.Val) ref.Val {
	s, ok := ip.(types.String)
	if !ok {
		return types.NewErr("inIpRange: the address is not a string")
	}
	addr, err := netip.ParseAddr(string(s))
	if err != nil {
		return types.NewErr("inIpRange: %q is not an IP address", string(s))
	}
	var blocks []ref.Val
	switch r := ranges.(type) {
	case types.String:
		blocks = []ref.Val{r}
	case traits.Lister:
		for it := r.Iterator(); it.HasNext() == types.True; {
			blocks = append(blocks, it.Next())
		}
	default:
		return types.NewErr("inIpRange: the ranges are neither a string nor a list")
	}
	for _, b := range blocks {
		if inBlock(addr.Unmap(), fmt.Sprint(b.Value())) {
			return types.True
		}
	}
	return types.False
}

func inBlock(addr netip.Addr, block string) bool {
	if p, err := netip.ParsePrefix(block); err == nil {
		return p.Contains(addr)
	}
	a, err := netip.ParseAddr(block)
	return err == nil && a.Unmap() == addr
}

// versionAtLeast(device, minimum): the device's OS version, major.minor.patch compared part by
// part, against minimum.
func versionAtLeast(device, minimum ref.Val) ref.Val {
	m, ok := device.(traits.Mapper)
	if !ok {
		return types.NewErr("versionAtLeast is called on the device")
	}
	v, found := m.Find(types.String("os_version"))
	if !found {
		return types.NewErr("the device's OS version is not known")
	}
	cmp, ok := compareVersions(fmt.Sprint(v.Value()), fmt.Sprint(minimum.Value()))
	if !ok {
		return types.NewErr("versionAtLeast: not a major.minor.patch version")
	}
	return types.Bool(cmp >= 0)
}

// compareVersions compares dotted versions numerically, a missing part counting as 0; false when
// either is not such a version.
func compareVersions(a, b string) (int, bool) {
	x, okA := versionParts(a)
	y, okB := versionParts(b)
	if !okA || !okB {
		return 0, false
	}
	for len(x) < len(y) {
		x = append(x, 0)
	}
	for len(y) < len(x) {
		y = append(y, 0)
	}
	return slices.Compare(x, y), true
}

func versionParts(v string) ([]uint64, bool) {
	var out []uint64
	for _, p := range strings.Split(v, ".") {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}
