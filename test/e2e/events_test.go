package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// lateSubscription does not exist when the manager starts: the fake creates only the default
// one, and the test creates this one later, as when Pub/Sub is not ready before runguard.
const lateSubscription = "projects/runguard-demo/subscriptions/runguard-late"

// TestEndToEnd_DriftCorrectedByAuditEvents runs the built binaries with audit log events on and a
// 1-hour resync, so every correction after convergence is the work of an event. The fake
// publishes an Admin Activity entry for each change it makes; the test also publishes its own
// (duplicates, garbage, an unmanaged resource) straight to the topic. Events off is
// TestEndToEnd, which runs without the flags.
func TestEndToEnd_DriftCorrectedByAuditEvents(t *testing.T) {
	sys := newSystem(t)
	pubsubAddr := "127.0.0.1:" + freePorts(t, 1)[0]
	sys.startFake(filepath.Join(sys.root, "hack", "demo", "seed.yaml"), "--pubsub-listen", pubsubAddr)
	ps := newPubSub(t, pubsubAddr)

	steps := []step{
		{"ManagerStartsWhileTheSubscriptionIsMissing", func(s *system) {
			s.installCRDs()
			m := s.startManager("manager-events", "--resync-period=1h",
				"--audit-log-subscription", lateSubscription, "--pubsub-endpoint", pubsubAddr)
			s.waitForLease(m)
			s.mustKubectl("apply", "-f", "hack/demo/namespaces.yaml")
			s.mustKubectl("apply", "-f", "config/samples/iap_v1alpha1_protectedservice.yaml")
			s.waitCondition("finance", "billing-dashboard", "Ready")
			eventually(s.t, 30*time.Second, "the manager reports the missing subscription in its log and an Event", func() error {
				if !strings.Contains(m.logText(s.t), "audit log subscription failed") {
					return fmt.Errorf("not in the log yet")
				}
				out, err := s.kubectl("", "get", "events", "-A", "--field-selector", "reason=AuditSubscriptionFailed", "-o", "name")
				if err != nil || strings.TrimSpace(out) == "" {
					return fmt.Errorf("no AuditSubscriptionFailed Event yet (%v)", err)
				}
				return nil
			})
			ps.createSubscription(s.t, lateSubscription)
		}},
		{"OutOfBandGrantCorrectedByAnEvent", func(s *system) {
			// The manager retries the subscription with backoff; the first grant may precede it.
			eventually(s.t, 60*time.Second, "a grant corrected within 10 s by an event", func() error {
				took, err := grantAllUsersAndWait(s, 10*time.Second)
				if err == nil {
					s.t.Logf("drift corrected by event in %.1f s", took.Seconds())
				}
				return err
			})
		}},
		{"DuplicateMalformedAndUnmanagedEntriesChangeNothing", func(s *system) {
			before := writesOn(s, billing)
			entry := auditEntry("google.cloud.run.v2.Services.SetIamPolicy", "projects/acme-prod/locations/us-central1/services/billing-dashboard")
			ps.publish(s.t, entry, entry, []byte("{not json"), []byte(`{"logName":"x"}`),
				auditEntry("google.cloud.run.v2.Services.UpdateService", "projects/acme-prod/locations/us-central1/services/nobody-manages-this"))
			// The entries are only triggers: quiet passes follow, then a real change still works.
			took, err := grantAllUsersAndWait(s, 10*time.Second)
			if err != nil {
				s.t.Fatalf("after duplicate and malformed entries: %v", err)
			}
			s.t.Logf("still corrected by event in %.1f s", took.Seconds())
			if got := writesOn(s, billing) - before; got != 1 {
				s.t.Errorf("%d Google writes on the billing service, want exactly 1 (the correction): duplicates must cost reads only", got)
			}
			for _, c := range s.calls() {
				if strings.Contains(c.Resource, "nobody-manages-this") {
					s.t.Errorf("an entry for an unmanaged service led to a Google call: %s %s", c.Method, c.Resource)
				}
			}
		}},
	}
	sys.walk(steps)
}

// grantAllUsersAndWait grants allUsers the invoker role on the billing service out of band (the
// fake logs it, as gcloud's call would be) and waits for runguard to revoke it.
func grantAllUsersAndWait(s *system, timeout time.Duration) (time.Duration, error) {
	public := s.service(billing).ServicePolicy
	public.Etag = nil
	public.Bindings = append(slices.Clone(public.Bindings), adminapi.Binding{Role: invokerRole, Members: []string{"allUsers"}})
	start := time.Now()
	s.admin(http.MethodPut, adminapi.ServicePolicyPath+"/"+billing, public)
	for time.Since(start) < timeout {
		if !grants(s.service(billing).ServicePolicy, invokerRole, "allUsers") {
			return time.Since(start), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("allUsers still may invoke %s %s after the grant", billing, timeout)
}

// writesOn counts the fake's successful Google writes on one service (ref project/location/name)
// and its IAP resource.
func writesOn(s *system, ref string) int {
	parts := strings.Split(ref, "/")
	full := fmt.Sprintf("projects/%s/locations/%s/services/%s", parts[0], parts[1], parts[2])
	n := 0
	for _, c := range s.calls() {
		if c.Write && c.Code == "OK" && (c.Resource == full || strings.HasSuffix(c.Resource, "/iap_web/cloud_run-"+parts[1]+"/services/"+parts[2])) {
			n++
		}
	}
	return n
}

func auditEntry(method, resource string) []byte {
	return []byte(`{"logName":"projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity",` +
		`"timestamp":"` + time.Now().UTC().Format(time.RFC3339Nano) + `",` +
		`"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"run.googleapis.com",` +
		`"methodName":"` + method + `","resourceName":"` + resource + `","authenticationInfo":{"principalEmail":"someone@acme.com"}}}`)
}

// pubSub is the test's own client of the fake's Pub/Sub server.
type pubSub struct{ client *pubsub.Client }

func newPubSub(t *testing.T, addr string) *pubSub {
	t.Helper()
	client, err := pubsub.NewClient(context.Background(), "runguard-demo", option.WithEndpoint(addr),
		option.WithoutAuthentication(), option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return &pubSub{client: client}
}

func (p *pubSub) createSubscription(t *testing.T, name string) {
	t.Helper()
	if _, err := p.client.SubscriptionAdminClient.CreateSubscription(context.Background(), &pubsubpb.Subscription{
		Name: name, Topic: adminapi.DefaultAuditTopic, AckDeadlineSeconds: 10,
	}); err != nil {
		t.Fatalf("create subscription %s: %v", name, err)
	}
}

func (p *pubSub) publish(t *testing.T, messages ...[]byte) {
	t.Helper()
	req := &pubsubpb.PublishRequest{Topic: adminapi.DefaultAuditTopic}
	for _, m := range messages {
		req.Messages = append(req.Messages, &pubsubpb.PubsubMessage{Data: m})
	}
	if _, err := p.client.TopicAdminClient.Publish(context.Background(), req); err != nil {
		t.Fatalf("publish: %v", err)
	}
}
