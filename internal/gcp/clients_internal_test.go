package gcp

import (
	"context"
	"errors"
	"testing"
)

func TestIsLoopback_OnlyLoopbackEndpointsGoPlaintext(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"127.0.0.1:8790":          true,
		"localhost:8790":          true,
		"[::1]:8790":              true,
		"run.googleapis.com:443":  false,
		"10.0.0.5:8790":           false,
		"127.0.0.1.evil.com:8790": false,
	} {
		got, err := isLoopback(endpoint)
		if err != nil || got != want {
			t.Errorf("isLoopback(%q) = %v, %v; want %v", endpoint, got, err, want)
		}
	}
}

// Clients acting as another identity write no access level: levels belong to the organization,
// and only runguard's own identity writes them. Nothing is dialled for the refusal.
func TestAccessLevels_NoWritesOnAnotherIdentity(t *testing.T) {
	acting := &Clients{}
	ctx := context.Background()
	_, createErr := acting.AccessLevels().Create(ctx, nil)
	deleteErr := acting.AccessLevels().Delete(ctx, "accessPolicies/1/accessLevels/l")
	for _, err := range []error{createErr, deleteErr} {
		if !errors.Is(err, errNotOwnIdentity) {
			t.Errorf("a write on another identity's clients = %v, want errNotOwnIdentity", err)
		}
	}
	if acting.acm != nil {
		t.Error("a refused write dialled Access Context Manager")
	}
}
