package gcpfake

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// FaultRule makes matching calls fail, slow down, or both.
type FaultRule struct {
	// Method is a short method name ("run.UpdateService"), a pattern
	// ("run.*", "*.SetIamPolicy") or "*" for any.
	Method string
	// Resource, if set, must equal the call's resource exactly as the
	// caller wrote it.
	Resource string
	Code     codes.Code
	Message  string // default: Google's usual text for the code
	// Times: fire on the next N matching calls; 0 = no limit.
	Times int
	// Probability: 0 fires every time (subject to Times); otherwise each
	// matching call fires with this probability, drawn from a source seeded
	// with Options.FaultSeed.
	Probability float64
	// RetryDelay attaches a google.rpc.RetryInfo with this delay.
	RetryDelay time.Duration
	// Latency is added before the call; with Code OK the rule only delays.
	Latency time.Duration
	// AfterApply lets the call take effect and then fails it with Code, as
	// when a response is lost after the server committed a change.
	AfterApply bool
}

type faultState struct {
	id        int
	rule      FaultRule
	remaining int // -1: unlimited
}

type faultSet struct {
	mu     sync.Mutex
	nextID int
	rules  []*faultState
	rng    *rand.Rand
}

func newFaultSet(seed int64) *faultSet {
	return &faultSet{rng: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))}
}

func (f *faultSet) add(r FaultRule) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	remaining := r.Times
	if remaining <= 0 {
		remaining = -1
	}
	f.rules = append(f.rules, &faultState{id: f.nextID, rule: r, remaining: remaining})
	return f.nextID
}

func (f *faultSet) remove(id int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.rules {
		if r.id == id {
			f.rules = append(f.rules[:i], f.rules[i+1:]...)
			return true
		}
	}
	return false
}

func (f *faultSet) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// decision is what the matching rules do to one call.
type decision struct {
	latency time.Duration
	fail    *FaultRule // nil: the call proceeds
}

// decide walks the rules in the order they were added. Every rule that
// fires adds its latency; the first firing rule with a non-OK code decides
// the failure and stops the walk.
func (f *faultSet) decide(method, resource string) decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d decision
	for _, st := range f.rules {
		r := st.rule
		if st.remaining == 0 || !methodMatches(r.Method, method) || (r.Resource != "" && r.Resource != resource) {
			continue
		}
		if r.Probability > 0 && f.rng.Float64() >= r.Probability {
			continue
		}
		if st.remaining > 0 {
			st.remaining--
		}
		d.latency += r.Latency
		if r.Code != codes.OK {
			rule := r
			d.fail = &rule
			break
		}
	}
	return d
}

func methodMatches(pattern, method string) bool {
	if pattern == "" || pattern == "*" || pattern == method {
		return true
	}
	ok, err := path.Match(pattern, method)
	return err == nil && ok
}

// ParseFaultRule decodes the admin endpoint's form of a rule, adminapi.FaultRule.
func ParseFaultRule(data []byte) (FaultRule, error) {
	var in adminapi.FaultRule
	if err := decodeStrict(bytes.NewReader(data), &in); err != nil {
		return FaultRule{}, fmt.Errorf("fault rule: %w", err)
	}
	r := FaultRule{Method: in.Method, Resource: in.Resource, Message: in.Message, Times: in.Times, Probability: in.Probability, AfterApply: in.AfterApply}
	if in.Code != "" {
		c, ok := CodeByName(in.Code)
		if !ok {
			return FaultRule{}, fmt.Errorf("fault rule: unknown code %q", in.Code)
		}
		r.Code = c
	}
	var err error
	if in.RetryDelay != "" {
		if r.RetryDelay, err = time.ParseDuration(in.RetryDelay); err != nil {
			return FaultRule{}, fmt.Errorf("fault rule retryDelay: %w", err)
		}
	}
	if in.Latency != "" {
		if r.Latency, err = time.ParseDuration(in.Latency); err != nil {
			return FaultRule{}, fmt.Errorf("fault rule latency: %w", err)
		}
	}
	if r.Probability < 0 || r.Probability > 1 {
		return FaultRule{}, fmt.Errorf("fault rule: probability %v is not in [0, 1]", r.Probability)
	}
	return r, nil
}

var codeNames = []string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
}

// CodeName is the google.rpc.Code name of c ("UNAVAILABLE").
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return c.String()
}

// CodeByName parses a google.rpc.Code name, case-insensitively.
func CodeByName(name string) (codes.Code, bool) {
	for i, n := range codeNames {
		if strings.EqualFold(n, name) {
			return codes.Code(i), true
		}
	}
	return 0, false
}
