package reach

import (
	"fmt"
	"net/netip"
	"strings"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"github.com/runguard/runguard/internal/accesslevel"
	"github.com/runguard/runguard/internal/iampolicy"
	"google.golang.org/protobuf/proto"
)

// evaluator decides one request: it holds the request, the level
// definitions and what it has already decided about each level.
type evaluator struct {
	req    Request
	levels map[string]*accesscontextmanagerpb.AccessLevel
	memo   map[string]judgement
	active map[string]bool
}

func newEvaluator(req Request, levels map[string]*accesscontextmanagerpb.AccessLevel) *evaluator {
	return &evaluator{req: req, levels: levels, memo: map[string]judgement{}, active: map[string]bool{}}
}

// level decides whether the request satisfies the access level named
// (accessPolicies/P/accessLevels/NAME), from its definition.
func (e *evaluator) level(name string) judgement {
	if got, ok := e.memo[name]; ok {
		return got
	}
	if e.active[name] {
		// ACM refuses levels that require themselves; one read in the middle
		// of an edit could still show a cycle.
		return certain(false, name+" requires itself")
	}
	def := e.levels[name]
	if def == nil {
		// ACM refuses to require a level that does not exist; runguard cannot
		// tell a missing level from one not passed in.
		out := certain(false, name+" is not among the access levels known to runguard")
		out.assumed = []string{name + " is not among the access levels given: taken as not satisfied"}
		e.memo[name] = out
		return out
	}
	e.active[name] = true
	var out judgement
	switch l := def.GetLevel().(type) {
	case *accesscontextmanagerpb.AccessLevel_Basic:
		out = e.basicLevel(name, l.Basic)
	case *accesscontextmanagerpb.AccessLevel_Custom:
		out = e.customLevel(name, l.Custom.GetExpr().GetExpression())
	default:
		out = certain(false, name+" has no definition")
	}
	delete(e.active, name)
	e.memo[name] = out
	return out
}

// basicLevel: "If AND is used, each Condition in conditions must be
// satisfied … If OR is used, at least one Condition" (BasicLevel,
// access_level.proto).
func (e *evaluator) basicLevel(name string, b *accesscontextmanagerpb.BasicLevel) judgement {
	parts := make([]judgement, 0, len(b.GetConditions()))
	for _, c := range b.GetConditions() {
		parts = append(parts, e.levelCondition(name, c))
	}
	if b.GetCombiningFunction() == accesscontextmanagerpb.BasicLevel_OR {
		return anyOf(parts)
	}
	return allOf(parts)
}

// levelCondition: "A condition … is an AND over its fields"; an empty field
// allows everything, so only the fields set are tested.
func (e *evaluator) levelCondition(level string, c *accesscontextmanagerpb.Condition) judgement {
	var parts []judgement
	if ips := c.GetIpSubnetworks(); len(ips) > 0 {
		parts = append(parts, judgeIP(level, e.req.IP, ips))
	}
	if regions := c.GetRegions(); len(regions) > 0 {
		parts = append(parts, judgeRegion(level, e.req.RegionCode, regions))
	}
	if members := c.GetMembers(); len(members) > 0 {
		parts = append(parts, judgeLevelMembers(level, e.req.Member, members))
	}
	if p := c.GetDevicePolicy(); p != nil && !proto.Equal(p, &accesscontextmanagerpb.DevicePolicy{}) {
		parts = append(parts, judgeDevice(level, e.req.Device, p))
	}
	for _, required := range c.GetRequiredAccessLevels() {
		// "All access levels listed must be granted for the Condition to be
		// true."
		parts = append(parts, e.level(required))
	}
	all := allOf(parts)
	if c.GetNegate() {
		// "If true, the Condition becomes a NAND over its non-empty fields"
		// — NOT of the AND above, as accesslevel.Describe reads it too.
		return negated(all, fmt.Sprintf("the request is %s, which a negated condition of %s excludes", conditionWords(c), level))
	}
	return all
}

// judgeIP: "The originating IP of a request must be in one of the listed
// subnets".
func judgeIP(level, ip string, subnets []string) judgement {
	list := strings.Join(subnets, " or ")
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return undecided(fmt.Sprintf("the request comes from %s (%s)", list, level))
	}
	for _, s := range subnets {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(addr.Unmap()) {
			return certain(true, "")
		}
	}
	return certain(false, fmt.Sprintf("the request's address %s is not in %s (%s)", ip, list, level))
}

// judgeRegion: "The request must originate from one of the provided
// countries/regions."
func judgeRegion(level, region string, regions []string) judgement {
	return judgeListed(level, region, regions, strings.EqualFold, "the request comes from %s", "the request comes from %[2]s, not %[1]s")
}

// judgeLevelMembers: "The request must be made by one of the provided user
// or service accounts. Groups are not supported."
func judgeLevelMembers(level, who string, members []string) judgement {
	return judgeListed(level, who, members, iampolicy.SameMember, "the request is made as %s", "%[2]s is not %[1]s")
}

// judgeListed decides whether got is one of listed; got empty is unknown.
// The phrases take the list and got, and are followed by the level.
func judgeListed(level, got string, listed []string, same func(a, b string) bool, undecidedWords, failedWords string) judgement {
	list := strings.Join(listed, " or ")
	if got == "" {
		return undecided(fmt.Sprintf(undecidedWords+" (%s)", list, level))
	}
	for _, l := range listed {
		if same(l, got) {
			return certain(true, "")
		}
	}
	return certain(false, fmt.Sprintf(failedWords+" (%[3]s)", list, got, level))
}

// conditionWords names what a level condition tests, in accesslevel's
// words, for the message of a negated one that the request met.
func conditionWords(c *accesscontextmanagerpb.Condition) string {
	plain := proto.CloneOf(c)
	plain.Negate = false
	return accesslevel.Describe(&accesscontextmanagerpb.AccessLevel{Level: &accesscontextmanagerpb.AccessLevel_Basic{
		Basic: &accesscontextmanagerpb.BasicLevel{Conditions: []*accesscontextmanagerpb.Condition{plain}},
	}})
}
