package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// floodSubscription is the manager's subscription in the flood phase, created on the fake's
// audit topic just before that manager starts, so it holds no entry of the earlier phases.
const floodSubscription = "projects/runguard-demo/subscriptions/scale-audit-flood"

// floodFigures are issue 27's audit flood: entries naming managed services that report no change
// (forged with runguard's own identity, or copies of one real entry of runguard's), and one real
// out-of-band change made halfway through to a service no flood entry names, so that only its own
// entry (or the hourly resync) can wake runguard to it.
type floodFigures struct {
	published, forged, repeated int
	repeatedOf                  string // the real entry copied: method and resource
	over                        time.Duration
	received                    map[string]float64 // by outcome, runguard_audit_events_total
	drained                     time.Duration      // first publish → the manager had received every entry; 0: not within the limit
	delta                       snapshot           // first publish → quiet again
	window                      time.Duration
	change                      floodChange
	corrections                 float64 // runguard_audit_event_correction_seconds: count and sum in the phase
	correctionSeconds           float64
}

// auditFloodPhase restarts the manager with the audit subscription and a resync of an hour, so
// every Google read of the phase is the flood's, publishes cfg.auditFlood entries over
// cfg.auditFloodOver, makes one service public out of band (as another tool would) halfway, and
// measures until the manager has received every entry and Google has been quiet for 5 s.
func (h *harness) auditFloodPhase(ctx context.Context, res *results) error {
	ps, err := pubsub.NewClient(ctx, "runguard-demo", option.WithEndpoint(h.pubsubAddr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	defer ps.Close()
	fig := &floodFigures{}
	res.flood = fig
	copied, about, copiedService, err := captureRealEntry(ctx, ps)
	if err != nil {
		logf("no real entry to repeat (%v); every flood entry is forged", err)
	}
	fig.repeatedOf = about

	h.mgr.stop()
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: floodSubscription, Topic: adminapi.DefaultAuditTopic}); err != nil {
		return fmt.Errorf("create %s: %w", floodSubscription, err)
	}
	if err := h.startManager("manager-audit", time.Hour, "--audit-log-subscription", floodSubscription, "--pubsub-endpoint", h.pubsubAddr); err != nil {
		return err
	}
	if err := h.waitStartupPass(ctx); err != nil {
		return err
	}
	if err := h.waitAuditSubscription(ctx); err != nil {
		return err
	}
	h.waitQuiet(ctx, 3*time.Second, time.Minute)

	before, auditBefore := h.snapshot(), h.auditMetrics()
	numbers := map[string]int64{}
	for k := range h.cfg.projects {
		numbers[projectID(k)] = projectNumber(k)
	}
	var named []declared // by the forged entries: every object but the target
	target := len(res.world.objects) / 2
	if res.world.objects[target].service == copiedService {
		target = (target + 1) % len(res.world.objects)
	}
	for i, d := range res.world.objects {
		if i != target {
			named = append(named, d)
		}
	}
	if len(named) == 0 {
		return errors.New("audit-flood needs at least 2 objects: one for the real change, the others for the flood")
	}
	batches := max(1, int(h.cfg.auditFloodOver/(100*time.Millisecond)))
	perBatch := (h.cfg.auditFlood + batches - 1) / batches
	logf("publishing %d audit entries over %s; %s made public out of band halfway", h.cfg.auditFlood, h.cfg.auditFloodOver, res.world.objects[target].fullName())
	start := time.Now()
	changed := make(chan struct{})
	for b := 0; fig.published < h.cfg.auditFlood; b++ {
		var batch []*pubsubpb.PubsubMessage
		for i := fig.published; i < min(fig.published+perBatch, h.cfg.auditFlood); i++ {
			now := time.Now()
			data := copied
			if i%2 == 0 || copied == nil {
				data = forgedEntry(named[(i/2)%len(named)], numbers, i, now)
				fig.forged++
			} else {
				fig.repeated++
			}
			batch = append(batch, &pubsubpb.PubsubMessage{Data: data, Attributes: map[string]string{"logging.googleapis.com/timestamp": now.UTC().Format(time.RFC3339Nano)}})
		}
		if _, err := ps.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{Topic: adminapi.DefaultAuditTopic, Messages: batch}); err != nil {
			return fmt.Errorf("publish the flood: %w", err)
		}
		fig.published += len(batch)
		if b == batches/2 {
			before := auditBefore.sum("runguard_audit_events_total", `method="`+realChangeMethod+`"`)
			go func() {
				defer close(changed)
				fig.change = h.makePublicOutOfBand(ctx, res.world.objects[target], start, before)
			}()
		}
		select {
		case <-time.After(time.Until(start.Add(time.Duration(b+1) * h.cfg.auditFloodOver / time.Duration(batches)))):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fig.over = time.Since(start)

	// Every entry, the real one and the entry of runguard's correction come through.
	deadline := time.Now().Add(5 * time.Minute)
	for logged := time.Now(); ctx.Err() == nil && time.Now().Before(deadline); {
		got := received(h.auditMetrics()) - received(auditBefore)
		if got >= float64(fig.published+1) {
			fig.drained = time.Since(start)
			break
		}
		if time.Since(logged) > 10*time.Second {
			logf("the manager has received %.0f of %d entries", got, fig.published+1)
			logged = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		return ctx.Err()
	}
	h.waitQuiet(ctx, 5*time.Second, 5*time.Minute)
	to := h.snapshot()
	fig.delta, fig.window = to.minus(before), to.at.Sub(before.at)
	after := h.auditMetrics()
	fig.received = map[string]float64{}
	for _, outcome := range []string{"enqueued", "unmatched", "irrelevant", "malformed"} {
		fig.received[outcome] = after.sum("runguard_audit_events_total", `outcome="`+outcome+`"`) - auditBefore.sum("runguard_audit_events_total", `outcome="`+outcome+`"`)
	}
	fig.corrections = after.sum("runguard_audit_event_correction_seconds_count") - auditBefore.sum("runguard_audit_event_correction_seconds_count")
	fig.correctionSeconds = after.sum("runguard_audit_event_correction_seconds_sum") - auditBefore.sum("runguard_audit_event_correction_seconds_sum")
	return nil
}

// realChangeMethod is how the fake logs an out-of-band change of a Cloud Run service's IAM
// policy (gcloud's v1 call). No flood entry and no write of runguard's (v2) is logged so, so the
// manager's count of entries of this method tells when it received the real one.
const realChangeMethod = "google.cloud.run.v1.Services.SetIamPolicy"

// floodChange is the real change made during the flood and how long each step took after it.
type floodChange struct {
	object    string
	madeAt    time.Duration // since the first flood entry was published
	received  time.Duration // change → the manager counted its entry; 0: not seen
	corrected time.Duration // change → Google no longer lets allUsers invoke
	err       error
}

// makePublicOutOfBand lets allUsers invoke the object's service, through the fake's admin
// endpoint as another tool would (logged as realChangeMethod by admin@example.com), and times
// until the manager has received its entry and until runguard has taken the grant out again.
func (h *harness) makePublicOutOfBand(ctx context.Context, d declared, start time.Time, receivedBefore float64) floodChange {
	fc := floodChange{object: key(d.namespace, d.name), madeAt: time.Since(start)}
	path := d.project + "/" + d.location + "/" + d.service
	var ss adminapi.ServiceState
	if fc.err = h.fake.do("GET", adminapi.ServicesPath+"/"+path, nil, &ss); fc.err != nil {
		return fc
	}
	policy := ss.ServicePolicy
	policy.Bindings = append(slices.Clone(policy.Bindings), adminapi.Binding{Role: invokerRole, Members: []string{"allUsers"}})
	if fc.err = h.fake.do("PUT", adminapi.ServicePolicyPath+"/"+path, policy, nil); fc.err != nil {
		return fc
	}
	changed := time.Now()
	received := make(chan time.Duration, 1)
	go func() {
		defer close(received)
		for ctx.Err() == nil && time.Since(changed) < 5*time.Minute {
			if h.auditMetrics().sum("runguard_audit_events_total", `method="`+realChangeMethod+`"`) > receivedBefore {
				received <- time.Since(changed)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for fc.err = errors.New("allUsers may still invoke after 5 minutes"); ctx.Err() == nil && time.Since(changed) < 5*time.Minute; {
		if err := h.fake.do("GET", adminapi.ServicesPath+"/"+path, nil, &ss); err == nil && !publiclyInvokable(ss.ServicePolicy) {
			fc.corrected, fc.err = time.Since(changed), nil
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	fc.received = <-received
	return fc
}

func publiclyInvokable(p adminapi.Policy) bool {
	for _, b := range p.Bindings {
		if b.Role == invokerRole && (slices.Contains(b.Members, "allUsers") || slices.Contains(b.Members, "allAuthenticatedUsers")) {
			return true
		}
	}
	return false
}

// captureRealEntry reads one entry of runguard's own IAP writes from the subscription the fake
// creates at start (which nothing else reads), and deletes that subscription: it would keep
// every later entry in the fake's memory. service is the Cloud Run service the entry names.
func captureRealEntry(ctx context.Context, ps *pubsub.Client) (data []byte, about, service string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	defer func() {
		_ = ps.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: adminapi.DefaultAuditSubscription})
	}()
	for range 20 {
		resp, err := ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: adminapi.DefaultAuditSubscription, MaxMessages: 100})
		if err != nil {
			return nil, "", "", err
		}
		for _, m := range resp.ReceivedMessages {
			var e struct {
				ProtoPayload struct {
					MethodName, ResourceName string
				} `json:"protoPayload"`
			}
			if json.Unmarshal(m.Message.Data, &e) == nil && strings.HasSuffix(e.ProtoPayload.MethodName, "IdentityAwareProxyAdminService.SetIamPolicy") &&
				strings.Contains(e.ProtoPayload.ResourceName, "/services/") {
				r := e.ProtoPayload.ResourceName
				return m.Message.Data, e.ProtoPayload.MethodName + " " + r, r[strings.LastIndex(r, "/")+1:], nil
			}
		}
	}
	return nil, "", "", errors.New("none of runguard's IAP writes among the first entries")
}

// forgedEntry is an Admin Activity entry as a sink publishes it, reporting that runguard's own
// service account set the IAM policy of the object's service: of the Cloud Run service (v2) when
// i%4 is 2, else of its IAP resource. Nothing changed in Google.
func forgedEntry(d declared, numbers map[string]int64, i int, now time.Time) []byte {
	type payload struct {
		Type               string `json:"@type"`
		ServiceName        string `json:"serviceName"`
		MethodName         string `json:"methodName"`
		ResourceName       string `json:"resourceName"`
		AuthenticationInfo struct {
			PrincipalEmail string `json:"principalEmail"`
		} `json:"authenticationInfo"`
	}
	p := payload{Type: "type.googleapis.com/google.cloud.audit.AuditLog", ServiceName: "iap.googleapis.com",
		MethodName:   "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy",
		ResourceName: fmt.Sprintf("projects/%d/iap_web/cloud_run-%s/services/%s", numbers[d.project], d.location, d.service)}
	resource := map[string]any{"type": "gce_backend_service", "labels": map[string]string{"backend_service_id": "", "location": "", "project_id": d.project}}
	if i%4 == 2 {
		p.ServiceName, p.MethodName, p.ResourceName = "run.googleapis.com", "google.cloud.run.v2.Services.SetIamPolicy", d.fullName()
		resource = map[string]any{"type": "cloud_run_revision", "labels": map[string]string{"location": d.location, "project_id": d.project, "service_name": d.service}}
	}
	p.AuthenticationInfo.PrincipalEmail = "runguard@" + d.project + ".iam.gserviceaccount.com"
	at := now.UTC().Format(time.RFC3339Nano)
	raw, _ := json.Marshal(map[string]any{
		"insertId": fmt.Sprintf("scaleflood%06d", i), "logName": "projects/" + d.project + "/logs/cloudaudit.googleapis.com%2Factivity",
		"protoPayload": p, "receiveTimestamp": at, "resource": resource, "severity": "NOTICE", "timestamp": at,
	})
	return raw
}

// auditMetrics are the manager's metrics now; empty when it does not answer.
func (h *harness) auditMetrics() samples {
	m, _ := scrape(h.metricsURL)
	return m
}

func received(m samples) float64 { return m.sum("runguard_audit_events_total") }

// waitAuditSubscription waits until the manager receives from its audit subscription.
func (h *harness) waitAuditSubscription(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for ctx.Err() == nil && time.Now().Before(deadline) && !h.mgr.exited() {
		if h.auditMetrics().sum("runguard_audit_subscription_up") == 1 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the manager did not receive from %s within a minute", floodSubscription)
}

// waitQuiet waits until the fake has answered no call for `quiet`, or `limit` has passed.
func (h *harness) waitQuiet(ctx context.Context, quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, since := -1, time.Now()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		var counts map[string]int
		if err := h.fake.do("GET", adminapi.CallCountsPath, nil, &counts); err == nil {
			if n := total(counts); n != last {
				last, since = n, time.Now()
			} else if time.Since(since) >= quiet {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
}
