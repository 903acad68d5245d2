package main

import (
	"context"
	"flag"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

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

func TestStartPubSub_CreatesTheAuditTopicAndSubscription(t *testing.T) {
	const topic, sub = "projects/p/topics/audit", "projects/q/subscriptions/audit"
	srv, err := startPubSub("127.0.0.1:0", topic, sub)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := pubsub.NewClient(ctx, "p", option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	got, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: sub})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetTopic() != topic {
		t.Errorf("subscription %s is on %q, want %q", sub, got.GetTopic(), topic)
	}
}

func TestStartPubSub_ReportsAnAddressInUseAsAnError(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	if srv, err := startPubSub(lis.Addr().String(), "projects/p/topics/t", "projects/p/subscriptions/s"); err == nil {
		srv.Close()
		t.Fatal("startPubSub on an address in use succeeded")
	}
}

func TestPerMinuteFlag_RefusesANegativeQuotaNamingTheFlag(t *testing.T) {
	fs := flag.NewFlagSet("gcpfake", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var n int
	perMinuteFlag(fs, &n, "quota-iap-writes-per-minute", "test")
	if err := fs.Parse([]string{"--quota-iap-writes-per-minute=60"}); err != nil || n != 60 {
		t.Fatalf("60 a minute: n=%d, err=%v", n, err)
	}
	for _, bad := range []string{"-5", "1.5", "many"} {
		err := fs.Parse([]string{"--quota-iap-writes-per-minute=" + bad})
		if err == nil || !strings.Contains(err.Error(), "quota-iap-writes-per-minute") {
			t.Errorf("%q: error = %v, want it to name the flag", bad, err)
		}
	}
}
