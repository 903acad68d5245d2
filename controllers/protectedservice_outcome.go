package controllers

import (
	"time"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
)

// outcomeKind orders how badly a pass ended; a higher kind needs more attention.
type outcomeKind int

const (
	// waiting is expected progress: a rollout, a service not deployed yet, a propagation delay.
	waiting outcomeKind = iota + 1
	// retrying is a transient Google failure, retried with backoff.
	retrying
	// stalled needs a human; retrying alone will not fix it.
	stalled
)

// outcome is how a phase ended its stage of the pass. A phase either records facts in the scope
// and returns nil, or returns an outcome. The outcome carries a reason and the error (if any);
// the words a user reads are written by the status function from the reason and the facts.
type outcome struct {
	kind   outcomeKind
	reason string
	// err is the Google error behind a retrying or stalled outcome, or the user's error (an
	// invalid condition, a policy too large).
	err error
	// after is when to look again: for waiting, 0 means back off; for retrying, a delay Google
	// asked for (google.rpc.RetryInfo).
	after time.Duration
}

func stall(reason string, err error) *outcome {
	return &outcome{kind: stalled, reason: reason, err: err}
}

func wait(reason string, after time.Duration) *outcome {
	return &outcome{kind: waiting, reason: reason, after: after}
}

// worst is the one rule that decides which outcome of a pass the status shows: the one that
// needs the most attention, the earlier on a tie. How soon the object is looked at again is
// decided separately (requeueAfter): the soonest any outcome asks for, so a transient failure of
// the lockdown is retried in seconds even while another step waits for a human.
func worst(a, b *outcome) *outcome {
	switch {
	case a == nil:
		return b
	case b == nil || a.kind >= b.kind:
		return a
	}
	return b
}

// googleFailure classifies a failed Google call: a human must act (stalled with a reason), or
// it is transient (retrying).
func googleFailure(err error) *outcome {
	if d, ok := gcp.Throttled(err); ok {
		// runguard's own pacing, not a failure: retried exactly when the call is due, with no
		// backoff, and a Ready object stays Ready meanwhile.
		return &outcome{kind: retrying, reason: iapv1alpha1.ReasonThrottled, err: err, after: d}
	}
	switch gcp.Classify(err) {
	case gcp.APIDisabled:
		return stall(iapv1alpha1.ReasonAPIDisabled, err)
	case gcp.PermissionDenied:
		return stall(iapv1alpha1.ReasonPermissionDenied, err)
	case gcp.Unauthenticated:
		return stall(iapv1alpha1.ReasonUnauthenticated, err)
	case gcp.Rejected:
		// Retrying the same request cannot succeed; a human must change something.
		return stall(iapv1alpha1.ReasonRequestRejected, err)
	}
	o := &outcome{kind: retrying, reason: iapv1alpha1.ReasonRetrying, err: err}
	if d, ok := gcp.RetryDelay(err); ok {
		o.after = d
	}
	return o
}

// isNotFound reports whether a Google call failed because the resource does not exist.
func isNotFound(err error) bool { return err != nil && gcp.Classify(err) == gcp.NotFound }

// transient is a failure outside Google (a Kubernetes read), retried with backoff.
func transient(err error) *outcome {
	return &outcome{kind: retrying, reason: iapv1alpha1.ReasonRetrying, err: err}
}
