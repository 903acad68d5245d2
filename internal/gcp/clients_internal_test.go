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

// Clients acting as a namespace's identity have no Access Context Manager client: access levels
// are read and written as runguard's own identity.
func TestAccessLevels_NotOnANamespacesIdentity(t *testing.T) {
	namespaces := &Clients{}
	if _, err := namespaces.AccessLevels().Get(context.Background(), "accessPolicies/1/accessLevels/l"); !errors.Is(err, errNoAccessContextManager) {
		t.Errorf("Get on a namespace's clients = %v", err)
	}
}
