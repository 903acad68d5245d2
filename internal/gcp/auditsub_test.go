package gcp_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/runguard/runguard/internal/gcp"
)

// Google's in-memory Pub/Sub server stands in for the sink's topic; the subscription is read
// through the real Pub/Sub client.
func startPubSub(t *testing.T, withSubscription bool) *pstest.Server {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	if _, err := srv.GServer.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/p/topics/audit"}); err != nil {
		t.Fatal(err)
	}
	if withSubscription {
		if _, err := srv.GServer.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: "projects/p/subscriptions/audit", Topic: "projects/p/topics/audit", AckDeadlineSeconds: 10,
		}); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

func TestAuditSubscription_HandsOverAndAcksEveryMessage(t *testing.T) {
	srv := startPubSub(t, true)
	sub, err := gcp.NewAuditSubscription(context.Background(), "projects/p/subscriptions/audit", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	want := []string{"one", "two", "not even JSON {"}
	for _, m := range want {
		srv.Publish("projects/p/topics/audit", []byte(m), nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []string
	err = sub.Receive(ctx, func(data []byte) {
		mu.Lock()
		defer mu.Unlock()
		if got = append(got, string(data)); len(got) == len(want) {
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("Receive = %v", err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("received %q, want %q", got, want)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, m := range srv.Messages() {
		for m.Acks == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			m = srv.Message(m.ID)
		}
		if m.Acks == 0 {
			t.Errorf("message %q was not acked", m.Data)
		}
	}
}

func TestAuditSubscription_AMissingSubscriptionIsAnError(t *testing.T) {
	srv := startPubSub(t, false)
	sub, err := gcp.NewAuditSubscription(context.Background(), "projects/p/subscriptions/audit", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sub.Receive(ctx, func([]byte) {}); err == nil || ctx.Err() != nil {
		t.Errorf("Receive on a missing subscription = %v (context %v), want an error before the deadline", err, ctx.Err())
	}
}

func TestNewAuditSubscription_RejectsAMalformedName(t *testing.T) {
	if _, err := gcp.NewAuditSubscription(context.Background(), "audit", "localhost:1"); err == nil {
		t.Error("a subscription name that is not projects/P/subscriptions/S was accepted")
	}
}

// An unreachable Pub/Sub is reported by Check within its timeout: Receive alone would retry it
// silently forever.
func TestAuditSubscription_CheckReportsAnUnreachablePubSub(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close() // nothing listens there now
	sub, err := gcp.NewAuditSubscription(context.Background(), "projects/p/subscriptions/audit", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := sub.Check(ctx); err == nil {
		t.Error("Check on a Pub/Sub that is not there = nil, want an error")
	}
	live := startPubSub(t, true)
	ok, err := gcp.NewAuditSubscription(context.Background(), "projects/p/subscriptions/audit", live.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ok.Close)
	if err := ok.Check(context.Background()); err != nil {
		t.Errorf("Check on a live subscription = %v", err)
	}
}
