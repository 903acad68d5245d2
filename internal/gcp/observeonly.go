package gcp

import "context"

type observeOnlyKey struct{}

// ObserveOnly marks a context in which no Google write is sent (spec.mode: Observe). The
// adapters still read and decide as they would, and report a write as made — Policies.Update
// with the plan and the policy as it stands, Services.Ensure as "would write", Settings.Apply
// with its plan — so the caller records exactly what Enforce would do. AccessLevels' writes,
// which decide nothing themselves, fail with ErrObserveOnly instead. Writes are refused here,
// at the edge, rather than in each phase, so no phase can forget.
func ObserveOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, observeOnlyKey{}, true)
}

func observeOnly(ctx context.Context) bool {
	v, _ := ctx.Value(observeOnlyKey{}).(bool)
	return v
}
