package gcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
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
	opts, err := endpointOptions(endpoint, extra, nil)
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

// Check reads the subscription's configuration, bounded by a short timeout. Receive alone would
// retry an unreachable Pub/Sub forever without a word; Check makes an outage, a missing
// subscription or a missing permission an error the caller can report.
func (a *AuditSubscription) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	_, err := a.client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: a.name})
	countCall("pubsub.GetSubscription", err)
	// roles/pubsub.subscriber may consume without reading the configuration: a denied read says
	// nothing about receiving, so it is not an error here (Receive reports a denied consume).
	if err != nil && Classify(err) != PermissionDenied {
		return callError("read Pub/Sub subscription", a.name, "pubsub.subscriptions.get", err)
	}
	return nil
}

// checkTimeout bounds Check.
const checkTimeout = 10 * time.Second

// Receive hands every message's data to handle and then acks it: a message is only a trigger to
// re-read Google, so a malformed one is not worth a redelivery either. It blocks until ctx ends
// (nil) or the subscription fails (missing, permission, outage), and may be called again.
func (a *AuditSubscription) Receive(ctx context.Context, handle func([]byte)) error {
	err := a.client.Subscriber(a.name).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		handle(m.Data)
		m.Ack()
	})
	countCall("pubsub.StreamingPull", err)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("receive from %s: %w", a.name, err)
	}
	return nil
}

// Close closes the client.
func (a *AuditSubscription) Close() { _ = a.client.Close() }
