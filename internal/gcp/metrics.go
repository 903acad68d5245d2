package gcp

import "github.com/prometheus/client_golang/prometheus"

var googleCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "runguard_google_api_calls_total",
	Help: "Calls to Google Cloud APIs by method and gRPC code.",
}, []string{"method", "code"})

// Metrics are the collectors of this package, for the caller to register: the manager
// registers them with controller-runtime's registry, so this package stays free of it.
func Metrics() []prometheus.Collector {
	return []prometheus.Collector{googleCalls, throttleWait, rateLimit}
}

// countCall counts one call to Google by method and the gRPC code it ended with.
func countCall(method string, err error) {
	googleCalls.WithLabelValues(method, Code(err).String()).Inc()
}
