package gcp

import "context"

type observeOnlyKey struct{}

// ObserveOnly marks a context in which no Google write is sent (spec.mode: Observe). The
// adapters still read and decide as they would, and report a write as made — Policies.Update
// with the plan and the policy as it stands, Services.Ensure as "would write", Settings.Apply
// with its plan — so the caller records exactly what Enforce would do. Writes are refused here,
// at the edge, rather than in each phase, so no phase can forget.
func ObserveOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, observeOnlyKey{}, true)
}

func observeOnly(ctx context.Context) bool {
	v, _ := ctx.Value(observeOnlyKey{}).(bool)
	return v
}

type urgentKey struct{}

// Urgent marks a context whose calls serve a user's change (an edit, a deletion): when the rate
// limit hands such a call back, it comes back at the bucket's next free turn instead of at the
// end of the line of calls handed back before it, so an edit does not wait behind an adoption.
func Urgent(ctx context.Context) context.Context {
	return context.WithValue(ctx, urgentKey{}, true)
}

func urgent(ctx context.Context) bool {
	v, _ := ctx.Value(urgentKey{}).(bool)
	return v
}
