package main

import (
	"math"
	"strings"
	"testing"

	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/gcp"
)

// A nonsensical rate or concurrency fails at start, naming the flag.
func TestValidateFlags_NamesTheFlag(t *testing.T) {
	ok := controllers.DefaultOptions()
	if err := validateFlags(ok, gcp.DefaultRates()); err != nil {
		t.Fatalf("the defaults are refused: %v", err)
	}
	for flag, change := range map[string]func(*controllers.Options, *gcp.Rates){
		"--run-writes-per-minute":     func(_ *controllers.Options, r *gcp.Rates) { r.RunWritesPerMinute = -1 },
		"--run-reads-per-minute":      func(_ *controllers.Options, r *gcp.Rates) { r.RunReadsPerMinute = math.Inf(1) },
		"--iap-writes-per-minute":     func(_ *controllers.Options, r *gcp.Rates) { r.IAPWritesPerMinute = math.NaN() },
		"--iap-reads-per-minute":      func(_ *controllers.Options, r *gcp.Rates) { r.IAPReadsPerMinute = -0.5 },
		"--max-concurrent-reconciles": func(o *controllers.Options, _ *gcp.Rates) { o.MaxConcurrentReconciles = 0 },
		"--resync-period":             func(o *controllers.Options, _ *gcp.Rates) { o.ResyncPeriod = -1 },
	} {
		o, r := controllers.DefaultOptions(), gcp.DefaultRates()
		change(&o, &r)
		err := validateFlags(o, r)
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s: error %v does not name the flag", flag, err)
		}
	}
}
