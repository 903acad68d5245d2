package adminapi

// The standalone fake's Pub/Sub defaults (cmd/gcpfake --audit-topic and --audit-subscription):
// the topic the fake publishes audit entries to and the subscription created on it. The entries
// themselves have no type here on purpose: a subscriber parses them as Google writes them.
const (
	DefaultAuditTopic        = "projects/runguard-demo/topics/runguard-audit"
	DefaultAuditSubscription = "projects/runguard-demo/subscriptions/runguard-audit"
)

// AuditPath answers GET with AuditStats.
const AuditPath = "/audit"

// AuditStats is the answer to GET AuditPath: how many audit entries the fake has written and
// published to Pub/Sub since it started.
type AuditStats struct {
	// Enabled is false when the fake publishes no audit entries (no --pubsub-listen).
	Enabled bool   `json:"enabled"`
	Topic   string `json:"topic,omitempty"`
	// DeliveryDelay is a Go duration string ("2s").
	DeliveryDelay string `json:"deliveryDelay,omitempty"`
	Emitted       int64  `json:"emitted"`
	Published     int64  `json:"published"`
	// Failed entries could not be published; the fake logs each failure.
	Failed  int64 `json:"failed"`
	Pending int   `json:"pending"`
}
