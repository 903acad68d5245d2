package testenv

import (
	"testing"
	"time"
)

// Eventually polls check until it returns nil, and fails the test with the last error once
// timeout has passed. Tests wait on outcomes with it; they never assert on durations.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
