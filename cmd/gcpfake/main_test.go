package main

import "testing"

func TestRequireLoopback_RefusesNonLoopbackAddresses(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8791": true, "localhost:1": true, "[::1]:8791": true,
		"0.0.0.0:8791": false, ":8791": false, "10.0.0.1:8791": false, "example.com:80": false,
	} {
		if err := requireLoopback(addr); (err == nil) != ok {
			t.Errorf("requireLoopback(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}
