package gcp

import (
	"context"
	"sync/atomic"
	"time"
)

// Booking is a pass's turn at the Cloud Run write rate of one project and region, taken before
// the pass reads anything. A pass that will have to wait for its writes is not started: it comes
// back when its turn is due, so it neither holds a worker nor spends reads it would have to make
// again. Its Cloud Run writes in that project and region then draw on the booking instead of
// waiting for the rate.
type Booking struct {
	quota string
	at    time.Time
	// left are the prepaid writes not spent yet; used every Cloud Run write the pass made in
	// the booking's project and region.
	left, used atomic.Int32
}

// BookRunWrites books writes Cloud Run writes in project and location from now on, in turn with
// every other booking and call there. With no write limit, or no writes, the turn is now.
func (c *Clients) BookRunWrites(project, location string, writes int, now time.Time) *Booking {
	b := &Booking{quota: project + "/" + location, at: now}
	l, _ := c.pacer.limiter("run", true, b.quota)
	if l == nil || writes <= 0 {
		return b
	}
	// A reservation larger than the bucket's burst can never be served.
	writes = min(writes, l.Burst())
	r := l.ReserveN(now, writes)
	if !r.OK() {
		return b
	}
	b.at = now.Add(r.DelayFrom(now))
	b.left.Store(int32(writes))
	return b
}

// Due is how long until the booking's turn.
func (b *Booking) Due(now time.Time) time.Duration { return max(b.at.Sub(now), 0) }

// At is when the booking's turn comes.
func (b *Booking) At() time.Time { return b.at }

// Used is how many Cloud Run writes the pass made in the booking's project and region.
func (b *Booking) Used() int { return int(b.used.Load()) }

type bookingKey struct{}

// WithBooking makes the calls under ctx draw their Cloud Run writes on b.
func WithBooking(ctx context.Context, b *Booking) context.Context {
	return context.WithValue(ctx, bookingKey{}, b)
}

// booked reports whether a call is a Cloud Run write of a pass admitted on a booking in the
// call's project and region; it counts the write. Such a write never waits: a pass that started
// on its turn finishes on it, even when it writes more than it booked (the overdraft is charged
// to the rate, and later turns move back).
func booked(ctx context.Context, api string, write bool, quota string) (b *Booking, prepaid bool) {
	b, _ = ctx.Value(bookingKey{}).(*Booking)
	if b == nil || api != "run" || !write || b.quota != quota {
		return nil, false
	}
	b.used.Add(1)
	return b, b.left.Add(-1) >= 0
}

type urgentKey struct{}

// Urgent marks the calls under ctx as a revocation's: they count toward runguard's pace but
// never wait for it, so access being taken away is never queued behind routine work. Only passes
// that remove access are marked, and they are few: Google's quota, a little above runguard's
// pace, absorbs them.
func Urgent(ctx context.Context) context.Context { return context.WithValue(ctx, urgentKey{}, true) }

type readsFirstKey struct{}

// ReadsFirst marks the calls under ctx as a user's edit's: its reads count toward runguard's
// pace but never wait for it; its writes wait as any others (or draw on a booking).
func ReadsFirst(ctx context.Context) context.Context {
	return context.WithValue(ctx, readsFirstKey{}, true)
}

// urgent reports whether a call goes without waiting for the pace: every call of a revocation,
// the reads of an edit.
func urgent(ctx context.Context, write bool) bool {
	if v, _ := ctx.Value(urgentKey{}).(bool); v {
		return true
	}
	v, _ := ctx.Value(readsFirstKey{}).(bool)
	return v && !write
}
