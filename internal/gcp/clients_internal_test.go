package gcp

import "testing"

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
