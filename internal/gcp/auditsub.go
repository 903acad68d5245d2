package gcp

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
)

// AuditSubscription receives the Admin Activity audit entries a Cloud Logging sink publishes to
// a Pub/Sub topic (docs/drift-events.md).
type AuditSubscription struct {
	name   string
	client *pubsub.Client
}

// NewAuditSubscription connects to subscription (projects/P/subscriptions/S). An empty endpoint
// means Google's; a loopback one is reached in plaintext without credentials, as for the other APIs.
func NewAuditSubscription(ctx context.Context, subscription, endpoint string, extra ...option.ClientOption) (*AuditSubscription, error) {
	parts := strings.Split(subscription, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "subscriptions" || parts[1] == "" || parts[3] == "" {
		return nil, fmt.Errorf("audit log subscription %q is not projects/PROJECT/subscriptions/NAME", subscription)
	}
	opts, err := endpointOptions(endpoint, extra)
	if err != nil {
		return nil, fmt.Errorf("Pub/Sub endpoint: %w", err)
	}
	client, err := pubsub.NewClient(ctx, parts[1], opts...)
	if err != nil {
		return nil, fmt.Errorf("create Pub/Sub client: %w", err)
	}
	return &AuditSubscription{name: subscription, client: client}, nil
}

// Name is the subscription's full name.
func (a *AuditSubscription) Name() string { return a.name }

// Receive hands every message's data to handle and then acks it: a message is only a trigger to
// re-read Google, so a malformed one is not worth a redelivery either. It blocks until ctx ends
// (nil) or the subscription fails (missing, permission, outage), and may be called again.
func (a *AuditSubscription) Receive(ctx context.Context, handle func([]byte)) error {
	err := a.client.Subscriber(a.name).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		handle(m.Data)
		m.Ack()
	})
	observe("pubsub.StreamingPull", err)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("receive from %s: %w", a.name, err)
	}
	return nil
}

// Close closes the client.
func (a *AuditSubscription) Close() { _ = a.client.Close() }
