package gcpfake

import (
	"sync"
	"time"

	"google.golang.org/grpc/codes"
)

// Call is one entry of the call log.
type Call struct {
	Method   string // short name, e.g. "run.UpdateService"
	Resource string // as the caller wrote it
	Code     codes.Code
	Time     time.Time // when the call arrived
	Write    bool      // Create/Update/Delete/SetIamPolicy
	Injected bool      // a fault rule decided the outcome
	// Throttled: the quota mode refused the call (RESOURCE_EXHAUSTED).
	Throttled bool
	Duration  time.Duration
	// Caller is who made the call, in member form ("serviceAccount:a@p.iam.gserviceaccount.com"):
	// the principal of its bearer token, else the seed's default caller; "" with access control
	// off and no token.
	Caller string
}

type callLog struct {
	mu     sync.Mutex
	calls  []Call
	counts map[string]int
}

func (l *callLog) add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
	l.counts[c.Method]++
}

// Calls returns the log in the order calls completed.
func (s *Server) Calls() []Call {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	return append([]Call(nil), s.calls.calls...)
}

// CallCounts counts calls by short method name.
func (s *Server) CallCounts() map[string]int {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	out := make(map[string]int, len(s.calls.counts))
	for k, v := range s.calls.counts {
		out[k] = v
	}
	return out
}

// CallCountsWithCode counts by short method name the calls that ended with code c.
func (s *Server) CallCountsWithCode(c codes.Code) map[string]int {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	out := map[string]int{}
	for _, call := range s.calls.calls {
		if call.Code == c {
			out[call.Method]++
		}
	}
	return out
}

// ResetCalls empties the log.
func (s *Server) ResetCalls() {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	s.calls.calls = nil
	s.calls.counts = map[string]int{}
}

// AddFault installs a rule and returns its id.
func (s *Server) AddFault(r FaultRule) (id int) { return s.faults.add(r) }

// RemoveFault removes one rule.
func (s *Server) RemoveFault(id int) bool { return s.faults.remove(id) }

// ClearFaults removes every rule.
func (s *Server) ClearFaults() { s.faults.clear() }
