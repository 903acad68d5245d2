package gcp

import (
	"context"
	"testing"
	"time"
)

// Bookings take turns at the write rate: at 60 a minute with a burst of 6, three passes of two
// writes go at once and the fourth a second after the burst is spent.
func TestBookRunWrites_TakesTurnsAtTheWriteRate(t *testing.T) {
	c := &Clients{pacer: newPacer(Rates{RunWritesPerMinute: 60})}
	now := time.Now()
	var due []time.Duration
	for range 5 {
		due = append(due, c.BookRunWrites("p", "r", 2, now).Due(now))
	}
	want := []time.Duration{0, 0, 0, 2 * time.Second, 4 * time.Second}
	for i := range want {
		if (due[i] - want[i]).Abs() > 10*time.Millisecond {
			t.Fatalf("turns %v, want %v", due, want)
		}
	}
	if other := c.BookRunWrites("p", "other-region", 2, now); other.Due(now) != 0 {
		t.Errorf("another region waits %s behind this one's bookings", other.Due(now))
	}
}

// A booked pass's writes in its project and region draw on the booking: they do not wait for
// the rate, which the bookings already spent, not even past the booking; the pass counts them.
func TestBooking_PrepaysItsWritesAndCountsThem(t *testing.T) {
	c := &Clients{pacer: newPacer(Rates{RunWritesPerMinute: 60})}
	now := time.Now()
	for range 3 {
		c.BookRunWrites("p", "r", 2, now)
	}
	b := c.BookRunWrites("p", "r", 2, now)
	ctx := WithBooking(context.Background(), b)
	for range 2 {
		if err := c.pacer.wait(ctx, "run", true, "p/r"); err != nil {
			t.Fatalf("a prepaid write waited: %v", err)
		}
	}
	if err := c.pacer.wait(ctx, "run", true, "p/r"); err != nil {
		t.Errorf("a third write beyond the booking waited: a pass admitted on its turn finishes on it: %v", err)
	}
	if next := c.BookRunWrites("p", "r", 1, now); next.Due(now) < 3*time.Second {
		t.Errorf("the overdraft was not charged to the rate: the next turn is in %s", next.Due(now))
	}
	for range 3 {
		c.BookRunWrites("q", "r", 3, now)
	}
	if _, throttled := Throttled(c.pacer.wait(ctx, "run", true, "q/r")); !throttled {
		t.Error("a write in another project drew on the booking")
	}
	if b.Used() != 3 {
		t.Errorf("used %d, want 3 (two prepaid, one overdrawn)", b.Used())
	}
}

// A revocation's calls count toward the pace but never wait for it.
func TestUrgent_NeverWaitsForThePace(t *testing.T) {
	c := &Clients{pacer: newPacer(Rates{RunWritesPerMinute: 60})}
	for range 20 {
		c.BookRunWrites("p", "r", 5, time.Now())
	}
	if err := c.pacer.wait(Urgent(context.Background()), "run", true, "p/r"); err != nil {
		t.Fatalf("an urgent write waited: %v", err)
	}
	if _, throttled := Throttled(c.pacer.wait(context.Background(), "run", true, "p/r")); !throttled {
		t.Error("an ordinary write did not wait behind the bookings")
	}
}

// An edit's reads never wait for the pace; its writes do.
func TestReadsFirst_OnlyReads(t *testing.T) {
	c := &Clients{pacer: newPacer(Rates{RunWritesPerMinute: 60, RunReadsPerMinute: 60})}
	for range 20 {
		c.BookRunWrites("p", "r", 5, time.Now())
		c.pacer.wait(Urgent(context.Background()), "run", false, "p/r")
	}
	ctx := ReadsFirst(context.Background())
	if err := c.pacer.wait(ctx, "run", false, "p/r"); err != nil {
		t.Errorf("an edit's read waited: %v", err)
	}
	if _, throttled := Throttled(c.pacer.wait(ctx, "run", true, "p/r")); !throttled {
		t.Error("an edit's write did not wait behind the bookings")
	}
}
