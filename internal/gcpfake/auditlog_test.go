package gcpfake_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

const (
	auditTopic        = "projects/audit-sink/topics/audit"
	auditSubscription = "projects/audit-sink/subscriptions/audit"
	activityLog       = "projects/proj-alpha/logs/cloudaudit.googleapis.com%2Factivity"
	runguardIdentity  = "runguard@proj-alpha.iam.gserviceaccount.com"
)

// sinkEntry reads what a logging sink publishes, independently of the fake's
// own types: the LogEntry fields Google documents, protoPayload kept raw.
type sinkEntry struct {
	InsertID         string    `json:"insertId"`
	LogName          string    `json:"logName"`
	Severity         string    `json:"severity"`
	Timestamp        time.Time `json:"timestamp"`
	ReceiveTimestamp time.Time `json:"receiveTimestamp"`
	Resource         struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
	} `json:"resource"`
	ProtoPayload json.RawMessage `json:"protoPayload"`

	auditLog *audit.AuditLog
}

func parseSinkEntry(t *testing.T, data []byte) sinkEntry {
	t.Helper()
	var e sinkEntry
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("entry is not JSON: %v\n%s", err, data)
	}
	// protoPayload must be an Any holding a google.cloud.audit.AuditLog.
	var packed anypb.Any
	if err := protojson.Unmarshal(e.ProtoPayload, &packed); err != nil {
		t.Fatalf("protoPayload is not a protojson Any: %v\n%s", err, e.ProtoPayload)
	}
	e.auditLog = &audit.AuditLog{}
	if err := packed.UnmarshalTo(e.auditLog); err != nil {
		t.Fatalf("protoPayload is not an AuditLog (%s): %v", packed.GetTypeUrl(), err)
	}
	return e
}

type auditFake struct {
	*fake
	pubsub *pstest.Server
	client *pubsub.Client
}

// startAuditFake runs Google's in-memory Pub/Sub with the audit topic and a
// subscription, and the fake publishing to it.
func startAuditFake(t *testing.T, audit gcpfake.AuditOptions) *auditFake {
	t.Helper()
	return startAuditFakeOver(t, overGRPC, audit)
}

// startAuditFakeOver is startAuditFake with the clients on transport tr.
func startAuditFakeOver(t *testing.T, tr transport, audit gcpfake.AuditOptions) *auditFake {
	t.Helper()
	return startAuditFakeSeeded(t, tr, audit, testSeed())
}

// startAuditFakeSeeded is startAuditFakeOver with its own seed.
func startAuditFakeSeeded(t *testing.T, tr transport, audit gcpfake.AuditOptions, seed gcpfake.Seed) *auditFake {
	t.Helper()
	ps := pstest.NewServer()
	t.Cleanup(func() { _ = ps.Close() })
	ctx := ctxT(t)
	client, err := pubsub.NewClient(ctx, "audit-sink", option.WithEndpoint(ps.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: auditTopic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: auditSubscription, Topic: auditTopic}); err != nil {
		t.Fatal(err)
	}
	audit.PubSubEndpoint, audit.Topic = ps.Addr, auditTopic
	return &auditFake{fake: startFakeOver(t, tr, gcpfake.Options{Audit: audit, Seed: seed}), pubsub: ps, client: client}
}

// published waits until the fake has published n entries in all and has
// none waiting, then returns what reached the topic, oldest first.
func (f *auditFake) published(t *testing.T, n int64) []sinkEntry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := f.AuditStats()
		if st.Failed > 0 {
			t.Fatalf("audit publishing failed: %+v", st)
		}
		if st.Published >= n && st.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %d published entries: %+v", n, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var out []sinkEntry
	for _, m := range f.pubsub.Messages() {
		out = append(out, parseSinkEntry(t, m.Data))
	}
	return out
}

// aMarkerChange is an out-of-band edit whose entry, published after
// everything before it, shows that nothing else was published.
func aMarkerChange(t *testing.T, f *auditFake) {
	t.Helper()
	if err := f.SetServicePolicy(privateName, &iampb.Policy{}); err != nil {
		t.Fatal(err)
	}
}

func wantOnlyMarker(t *testing.T, got []sinkEntry) {
	t.Helper()
	if len(got) != 1 || got[0].auditLog.GetMethodName() != "google.cloud.run.v1.Services.SetIamPolicy" || got[0].auditLog.GetResourceName() != privateName {
		var methods []string
		for _, e := range got {
			methods = append(methods, e.auditLog.GetMethodName()+" "+e.auditLog.GetResourceName())
		}
		t.Fatalf("published %d entries %v, want only the marker", len(got), methods)
	}
}

func TestAudit_EveryMutatingCallEmitsOneEntry(t *testing.T) {
	for _, tc := range []struct {
		name         string
		call         func(ctx context.Context, f *auditFake) error
		wantService  string
		wantMethod   string
		wantResource string
		wantType     string
		wantLabels   map[string]string
	}{
		{
			name: "run.CreateService",
			call: func(ctx context.Context, f *auditFake) error {
				_, err := f.run.CreateService(ctx, &runpb.CreateServiceRequest{Parent: "projects/proj-alpha/locations/us-central1", ServiceId: "fresh", Service: &runpb.Service{Template: template("img")}})
				return err
			},
			wantService: "run.googleapis.com", wantMethod: "google.cloud.run.v2.Services.CreateService",
			wantResource: "projects/proj-alpha/locations/us-central1/services/fresh", wantType: "cloud_run_revision",
			wantLabels: map[string]string{"project_id": alpha, "location": region, "service_name": "fresh", "revision_name": "", "configuration_name": ""},
		},
		{
			name: "run.UpdateService",
			call: func(ctx context.Context, f *auditFake) error {
				_, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, IapEnabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}}})
				return err
			},
			wantService: "run.googleapis.com", wantMethod: "google.cloud.run.v2.Services.UpdateService",
			wantResource: helloName, wantType: "cloud_run_revision",
			wantLabels: map[string]string{"project_id": alpha, "location": region, "service_name": "hello", "revision_name": "", "configuration_name": ""},
		},
		{
			name: "run.DeleteService",
			call: func(ctx context.Context, f *auditFake) error {
				_, err := f.run.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: helloName})
				return err
			},
			wantService: "run.googleapis.com", wantMethod: "google.cloud.run.v2.Services.DeleteService",
			wantResource: helloName, wantType: "cloud_run_revision",
			wantLabels: map[string]string{"project_id": alpha, "location": region, "service_name": "hello", "revision_name": "", "configuration_name": ""},
		},
		{
			name: "run.SetIamPolicy",
			call: func(ctx context.Context, f *auditFake) error {
				_, err := f.run.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: helloName, Policy: &iampb.Policy{}})
				return err
			},
			wantService: "run.googleapis.com", wantMethod: "google.cloud.run.v2.Services.SetIamPolicy",
			wantResource: helloName, wantType: "cloud_run_revision",
			wantLabels: map[string]string{"project_id": alpha, "location": region, "service_name": "hello", "revision_name": "", "configuration_name": ""},
		},
		{
			// resourceName is the name as called; logName and labels carry the project ID.
			name: "run.SetIamPolicy by project number",
			call: func(ctx context.Context, f *auditFake) error {
				_, err := f.run.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/123456789012/locations/us-central1/services/hello", Policy: &iampb.Policy{}})
				return err
			},
			wantService: "run.googleapis.com", wantMethod: "google.cloud.run.v2.Services.SetIamPolicy",
			wantResource: "projects/123456789012/locations/us-central1/services/hello", wantType: "cloud_run_revision",
			wantLabels: map[string]string{"project_id": alpha, "location": region, "service_name": "hello", "revision_name": "", "configuration_name": ""},
		},
		{
			name: "iap.SetIamPolicy",
			call: func(ctx context.Context, f *auditFake) error {
				_, err := f.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: helloIAP, Policy: &iampb.Policy{}})
				return err
			},
			wantService: "iap.googleapis.com", wantMethod: "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy",
			wantResource: helloIAP, wantType: "gce_backend_service",
			wantLabels: map[string]string{"project_id": alpha, "backend_service_id": "", "location": ""},
		},
	} {
		for _, tr := range transports {
			t.Run(string(tr)+"/"+tc.name, func(t *testing.T) {
				f := startAuditFakeOver(t, tr, gcpfake.AuditOptions{})
				before := time.Now()
				if err := tc.call(ctxT(t), f); err != nil {
					t.Fatal(err)
				}
				aMarkerChange(t, f)
				got := f.published(t, 2)
				if len(got) != 2 {
					t.Fatalf("published %d entries, want the call's and the marker's", len(got))
				}
				e := got[0]
				al := e.auditLog
				if al.GetServiceName() != tc.wantService || al.GetMethodName() != tc.wantMethod || al.GetResourceName() != tc.wantResource {
					t.Errorf("serviceName, methodName, resourceName = %q, %q, %q; want %q, %q, %q",
						al.GetServiceName(), al.GetMethodName(), al.GetResourceName(), tc.wantService, tc.wantMethod, tc.wantResource)
				}
				if e.LogName != activityLog || e.Severity != "NOTICE" {
					t.Errorf("logName, severity = %q, %q; want %q, NOTICE", e.LogName, e.Severity, activityLog)
				}
				if got := al.GetAuthenticationInfo().GetPrincipalEmail(); got != runguardIdentity {
					t.Errorf("principalEmail = %q, want %q", got, runguardIdentity)
				}
				if e.Resource.Type != tc.wantType || !mapsEqual(e.Resource.Labels, tc.wantLabels) {
					t.Errorf("resource = %s %v, want %s %v", e.Resource.Type, e.Resource.Labels, tc.wantType, tc.wantLabels)
				}
				if e.Timestamp.Before(before) || e.ReceiveTimestamp.Before(e.Timestamp) || e.InsertID == "" || e.InsertID == got[1].InsertID {
					t.Errorf("timestamp %v, receiveTimestamp %v, insertIds %q %q: want a fresh timestamp, receive no earlier, unique ids",
						e.Timestamp, e.ReceiveTimestamp, e.InsertID, got[1].InsertID)
				}
			})
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestAudit_LongRunningCallNamesItsOperation(t *testing.T) {
	f := startAuditFake(t, gcpfake.AuditOptions{})
	op, err := f.run.UpdateService(ctxT(t), &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, Description: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
	if err != nil {
		t.Fatal(err)
	}
	f.published(t, 1)
	var e struct {
		Operation struct {
			ID       string `json:"id"`
			Producer string `json:"producer"`
			First    bool   `json:"first"`
		} `json:"operation"`
	}
	if err := json.Unmarshal(f.pubsub.Messages()[0].Data, &e); err != nil {
		t.Fatal(err)
	}
	if e.Operation.ID != op.Name() || e.Operation.Producer != "run.googleapis.com" || !e.Operation.First {
		t.Errorf("operation = %+v, want the first entry of %s", e.Operation, op.Name())
	}
}

func TestAudit_ReadsEmitNothing(t *testing.T) {
	f := startAuditFake(t, gcpfake.AuditOptions{})
	ctx := ctxT(t)
	if _, err := f.run.GetService(ctx, &runpb.GetServiceRequest{Name: helloName}); err != nil {
		t.Fatal(err)
	}
	it := f.run.ListServices(ctx, &runpb.ListServicesRequest{Parent: "projects/proj-alpha/locations/us-central1"})
	for {
		if _, err := it.Next(); err == iterator.Done {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.run.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: helloName}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: helloName, Permissions: []string{"run.services.get"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: helloIAP}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.rm.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + alpha}); err != nil {
		t.Fatal(err)
	}
	// Cloud Run's own status changes are nobody's admin call.
	if err := f.FailRollout(helloName, "boom"); err != nil {
		t.Fatal(err)
	}
	if err := f.UpdateServiceOutOfBand(helloName, func(s *runpb.Service) { s.Reconciling = true }); err != nil {
		t.Fatal(err)
	}
	aMarkerChange(t, f)
	wantOnlyMarker(t, f.published(t, 1))
}

func TestAudit_FailedCallsEmitNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(ctx context.Context, f *auditFake) error
	}{
		{"update of a missing service fails NOT_FOUND", func(ctx context.Context, f *auditFake) error {
			_, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: "projects/proj-alpha/locations/us-central1/services/nope", Template: template("i")}})
			return err
		}},
		{"set policy with a stale etag fails ABORTED", func(ctx context.Context, f *auditFake) error {
			_, err := f.run.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: helloName, Policy: &iampb.Policy{Etag: []byte("stale")}})
			return err
		}},
		{"IAP write in a project with the API disabled fails PERMISSION_DENIED", func(ctx context.Context, f *auditFake) error {
			_, err := f.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/222222222222/iap_web/cloud_run-us-central1/services/svc", Policy: &iampb.Policy{}})
			return err
		}},
		{"injected fault before the change", func(ctx context.Context, f *auditFake) error {
			f.AddFault(gcpfake.FaultRule{Method: "iap.SetIamPolicy", Code: codes.Unavailable})
			_, err := f.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: helloIAP, Policy: &iampb.Policy{}})
			return err
		}},
		{"create of an existing service fails ALREADY_EXISTS", func(ctx context.Context, f *auditFake) error {
			_, err := f.run.CreateService(ctx, &runpb.CreateServiceRequest{Parent: "projects/proj-alpha/locations/us-central1", ServiceId: "hello", Service: &runpb.Service{Template: template("i")}})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startAuditFake(t, gcpfake.AuditOptions{})
			if err := tc.call(ctxT(t), f); err == nil {
				t.Fatal("the call succeeded; the test needs it to fail")
			}
			aMarkerChange(t, f)
			wantOnlyMarker(t, f.published(t, 1))
		})
	}
}

func TestAudit_ValidateOnlyChangesNothingAndEmitsNothing(t *testing.T) {
	f := startAuditFake(t, gcpfake.AuditOptions{})
	if _, err := f.run.UpdateService(ctxT(t), &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, Description: "x"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}, ValidateOnly: true}); err != nil {
		t.Fatal(err)
	}
	aMarkerChange(t, f)
	wantOnlyMarker(t, f.published(t, 1))
}

func TestAudit_LostResponseOfAnAppliedChangeStillEmits(t *testing.T) {
	f := startAuditFake(t, gcpfake.AuditOptions{})
	f.AddFault(gcpfake.FaultRule{Method: "run.SetIamPolicy", Code: codes.DeadlineExceeded, AfterApply: true, Times: 1})
	_, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: helloName, Policy: &iampb.Policy{}})
	wantCode(t, err, codes.DeadlineExceeded)
	got := f.published(t, 1)
	if len(got) != 1 || got[0].auditLog.GetMethodName() != "google.cloud.run.v2.Services.SetIamPolicy" {
		t.Fatalf("published %d entries, want the SetIamPolicy that took effect", len(got))
	}
}

func TestAudit_OutOfBandEditsEmitWhatGcloudWouldLog(t *testing.T) {
	for _, tc := range []struct {
		name         string
		edit         func(t *testing.T, f *auditFake) error
		wantService  string
		wantMethod   string
		wantResource string
	}{
		{"service policy", func(t *testing.T, f *auditFake) error {
			return f.SetServicePolicy(helloName, &iampb.Policy{})
		}, "run.googleapis.com", "google.cloud.run.v1.Services.SetIamPolicy", helloName},
		{"IAP policy", func(t *testing.T, f *auditFake) error {
			return f.SetIAPPolicy(helloIAP, &iampb.Policy{})
		}, "iap.googleapis.com", "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy", helloIAP},
		{"service update", func(t *testing.T, f *auditFake) error {
			return f.UpdateServiceOutOfBand(helloName, func(s *runpb.Service) { s.IapEnabled = true })
		}, "run.googleapis.com", "google.cloud.run.v1.Services.ReplaceService", "namespaces/proj-alpha/services/hello"},
		{"service created", func(t *testing.T, f *auditFake) error {
			return f.AddService(gcpfake.Service{Project: alpha, Location: region, Name: "added"})
		}, "run.googleapis.com", "google.cloud.run.v1.Services.CreateService", "namespaces/proj-alpha/services/added"},
		{"service deleted", func(t *testing.T, f *auditFake) error {
			return f.DeleteService(helloName)
		}, "run.googleapis.com", "google.cloud.run.v1.Services.DeleteService", "namespaces/proj-alpha/services/hello"},
		{"allUsers granted through the admin endpoint", func(t *testing.T, f *auditFake) error {
			srv := httptest.NewServer(f.AdminHandler())
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/policies/service/proj-alpha/us-central1/private",
				strings.NewReader(`{"bindings":[{"role":"roles/run.invoker","members":["allUsers"]}]}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT: %s", resp.Status)
			}
			return nil
		}, "run.googleapis.com", "google.cloud.run.v1.Services.SetIamPolicy", privateName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startAuditFake(t, gcpfake.AuditOptions{})
			if err := tc.edit(t, f); err != nil {
				t.Fatal(err)
			}
			got := f.published(t, 1)
			if len(got) != 1 {
				t.Fatalf("published %d entries, want 1", len(got))
			}
			al := got[0].auditLog
			if al.GetServiceName() != tc.wantService || al.GetMethodName() != tc.wantMethod || al.GetResourceName() != tc.wantResource {
				t.Errorf("serviceName, methodName, resourceName = %q, %q, %q; want %q, %q, %q",
					al.GetServiceName(), al.GetMethodName(), al.GetResourceName(), tc.wantService, tc.wantMethod, tc.wantResource)
			}
			if got[0].LogName != activityLog {
				t.Errorf("logName = %q, want %q", got[0].LogName, activityLog)
			}
			if p := al.GetAuthenticationInfo().GetPrincipalEmail(); p != gcpfake.DefaultOutOfBandCaller {
				t.Errorf("principalEmail = %q, want %q", p, gcpfake.DefaultOutOfBandCaller)
			}
		})
	}
}

func TestAudit_PrincipalIsTheCallerWhenIdentitiesAreModelled(t *testing.T) {
	f := startAuditFakeSeeded(t, overGRPC, gcpfake.AuditOptions{Caller: "configured@ops.iam.gserviceaccount.com"}, identitySeed())
	asA, _, err := f.MintAccessToken(tenantA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	g := connectAs(t, f.Server, overGRPC, static(asA))
	if _, err := g.iap.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: helloIAP, Policy: &iampb.Policy{}}); err != nil {
		t.Fatal(err)
	}
	aMarkerChange(t, f)
	if p := f.published(t, 2)[0].auditLog.GetAuthenticationInfo().GetPrincipalEmail(); p != tenantA {
		t.Errorf("principalEmail = %q, want the caller %s", p, tenantA)
	}
}

func TestAudit_CallerIdentitiesAreConfigurable(t *testing.T) {
	f := startAuditFake(t, gcpfake.AuditOptions{Caller: "controller@ops.iam.gserviceaccount.com", OutOfBandCaller: "mallory@example.com"})
	if _, err := f.iap.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: helloIAP, Policy: &iampb.Policy{}}); err != nil {
		t.Fatal(err)
	}
	aMarkerChange(t, f)
	got := f.published(t, 2)
	for i, want := range []string{"controller@ops.iam.gserviceaccount.com", "mallory@example.com"} {
		if p := got[i].auditLog.GetAuthenticationInfo().GetPrincipalEmail(); p != want {
			t.Errorf("entry %d principalEmail = %q, want %q", i, p, want)
		}
	}
}

func TestAudit_DeliveryDelayIsHonouredAndCallOrderKept(t *testing.T) {
	const delay = 300 * time.Millisecond
	f := startAuditFake(t, gcpfake.AuditOptions{DeliveryDelay: delay})
	ctx := ctxT(t)
	start := time.Now()
	var descriptions []string
	for i := range 5 {
		d := string(rune('a' + i))
		descriptions = append(descriptions, d)
		if _, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, Description: d}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took >= delay {
		t.Fatalf("five calls took %v; the delay must not hold up calls", took)
	}
	if st := f.AuditStats(); st.Published != 0 {
		t.Errorf("published %d entries before the delivery delay passed", st.Published)
	}
	f.published(t, 5)
	msgs := f.pubsub.Messages()
	if len(msgs) != 5 {
		t.Fatalf("published %d entries, want 5", len(msgs))
	}
	var last time.Time
	for i, m := range msgs {
		e := parseSinkEntry(t, m.Data)
		if lag := m.PublishTime.Sub(e.Timestamp); lag < delay {
			t.Errorf("entry %d published %v after its timestamp, want at least %v", i, lag, delay)
		}
		if e.Timestamp.Before(last) {
			t.Errorf("entry %d (timestamp %v) published after a later one (%v)", i, e.Timestamp, last)
		}
		last = e.Timestamp
	}
}

func TestAudit_SubscriberReceivesSinkJSON(t *testing.T) {
	f := startAuditFake(t, gcpfake.AuditOptions{})
	if err := f.SetIAPPolicy(helloIAP, &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/iap.httpsResourceAccessor", Members: []string{"allUsers"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run.UpdateService(ctxT(t), &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, IapEnabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}}}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []*pubsub.Message
	err := f.client.Subscriber(auditSubscription).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		if got = append(got, m); len(got) == 2 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("received %d messages, want 2", len(got))
	}
	methods := map[string]bool{}
	for _, m := range got {
		e := parseSinkEntry(t, m.Data)
		methods[e.auditLog.GetMethodName()] = true
		if ts := m.Attributes["logging.googleapis.com/timestamp"]; ts != e.Timestamp.Format(time.RFC3339Nano) {
			t.Errorf("attribute logging.googleapis.com/timestamp = %q, want the entry's timestamp %s", ts, e.Timestamp.Format(time.RFC3339Nano))
		}
		if !strings.HasSuffix(e.LogName, "cloudaudit.googleapis.com%2Factivity") {
			t.Errorf("logName = %q", e.LogName)
		}
	}
	if !methods["google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy"] || !methods["google.cloud.run.v2.Services.UpdateService"] {
		t.Errorf("received methods %v", methods)
	}
}

func TestAudit_UnreachablePubSubNeverHoldsUpOrFailsACall(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close()
	f := startFake(t, gcpfake.Options{Audit: gcpfake.AuditOptions{PubSubEndpoint: dead, Topic: auditTopic}})
	start := time.Now()
	if _, err := f.iap.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: helloIAP, Policy: &iampb.Policy{}}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the call took %v with Pub/Sub unreachable", took)
	}
	if st := f.AuditStats(); st.Emitted != 1 || st.Published != 0 {
		t.Errorf("stats = %+v, want 1 emitted and none published", st)
	}
}

func TestAudit_OffWithoutOptions(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	if err := f.SetServicePolicy(helloName, &iampb.Policy{}); err != nil {
		t.Fatal(err)
	}
	if st := f.AuditStats(); st != (gcpfake.AuditStats{}) {
		t.Errorf("stats = %+v, want none", st)
	}
}

func TestAdmin_AuditEndpointReportsPublishedEntries(t *testing.T) {
	f := startAuditFake(t, gcpfake.AuditOptions{})
	aMarkerChange(t, f)
	f.published(t, 1)
	srv := httptest.NewServer(f.AdminHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/audit")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got adminapi.AuditStats
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if want := (adminapi.AuditStats{Enabled: true, Topic: auditTopic, DeliveryDelay: "0s", Emitted: 1, Published: 1}); got != want {
		t.Errorf("GET /audit = %+v, want %+v", got, want)
	}
}
