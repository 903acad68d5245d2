package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// readiness is the object's runguard_protectedservice_ready_status series, condition → value.
func readiness(t *testing.T, ns, name string) map[string]float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "runguard_protectedservice_ready_status" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == ns && labels["name"] == name {
				out[labels["condition"]] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// One series per Ready status, 1 on the current one (like certmanager_certificate_ready_status),
// read from the cache at each scrape: a deleted object's series go with it.
func TestReadiness_OneSeriesPerStatusAndGoneWithTheObject(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("gauged", group("devs", "user:alice@acme.com")))
	w.waitReady("gauged")
	eventually(t, 10*time.Second, "the readiness series say True", func() error {
		if got := readiness(t, w.ns, "gauged"); got["True"] != 1 || got["False"] != 0 || got["Unknown"] != 0 || len(got) != 3 {
			return fmt.Errorf("series %v, want True 1, False 0, Unknown 0", got)
		}
		return nil
	})
	if err := k8s.Delete(context.Background(), w.get("gauged")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the readiness series gone with the object", func() error {
		if got := readiness(t, w.ns, "gauged"); len(got) != 0 {
			return fmt.Errorf("series %v left", got)
		}
		return nil
	})
}
