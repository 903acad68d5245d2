package gcp

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var googleCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "runguard_google_api_calls_total",
	Help: "Calls to Google Cloud APIs by method and gRPC code.",
}, []string{"method", "code"})

func init() {
	ctrlmetrics.Registry.MustRegister(googleCalls)
}

func observe(method string, err error) {
	googleCalls.WithLabelValues(method, Code(err).String()).Inc()
}
