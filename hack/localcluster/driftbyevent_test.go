package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

const (
	billing      = "projects/acme-prod/locations/us-central1/services/billing-dashboard"
	billingAdmin = adminapi.ServicePolicyPath + "/acme-prod/us-central1/billing-dashboard"
	iapAgent     = "serviceAccount:service-512345678901@gcp-sa-iap.iam.gserviceaccount.com"
	scheduler    = "serviceAccount:scheduler@acme-prod.iam.gserviceaccount.com"
)

// fakeAdmin stands in for gcpfake's admin API: /audit, /state with one service, and PUT of that
// service's policy. revokeAfter > 0 plays runguard: that long after a PUT it drops allUsers.
type fakeAdmin struct {
	mu           sync.Mutex
	auditEnabled bool
	policy       adminapi.Policy
	puts         []adminapi.Policy
	revokeAfter  time.Duration
}

func (f *fakeAdmin) serve(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+adminapi.AuditPath, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(adminapi.AuditStats{Enabled: f.auditEnabled})
	})
	mux.HandleFunc("GET "+adminapi.StatePath, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(adminapi.State{Services: []adminapi.ServiceState{{Name: billing, ServicePolicy: f.policy}}})
	})
	mux.HandleFunc("PUT "+billingAdmin, func(w http.ResponseWriter, r *http.Request) {
		var p adminapi.Policy
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.policy = p
		f.puts = append(f.puts, p)
		f.mu.Unlock()
		if f.revokeAfter > 0 {
			time.AfterFunc(f.revokeAfter, func() {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.policy = adminapi.Policy{Bindings: []adminapi.Binding{{Role: invokerRole, Members: []string{iapAgent, scheduler}}}}
			})
		}
		_ = json.NewEncoder(w).Encode(p)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func convergedBilling() adminapi.Policy {
	return adminapi.Policy{Bindings: []adminapi.Binding{
		{Role: invokerRole, Members: []string{iapAgent, scheduler}},
		{Role: "roles/run.developer", Members: []string{"group:finance-dev@acme.com"}},
	}}
}

func probe(srv *httptest.Server) driftProbe {
	return driftProbe{admin: srv.URL, service: billing, member: "allUsers", poll: 5 * time.Millisecond, client: srv.Client()}
}

func TestDriftByEvent_PrintsTheDelayOnceRunguardRevokesTheGrant(t *testing.T) {
	f := &fakeAdmin{auditEnabled: true, policy: convergedBilling(), revokeAfter: 150 * time.Millisecond}
	srv := f.serve(t)
	var out strings.Builder
	if err := probe(srv).run(context.Background(), 2*time.Second, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`(?m)^drift corrected by event in (\d+\.\d) s$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no 'drift corrected by event in N.N s' line:\n%s", out.String())
	}
	if got, _ := strconv.ParseFloat(m[1], 64); got < 0.1 || got > 1 {
		t.Errorf("measured %s s for a revocation 0.15 s after the grant", m[1])
	}
	if len(f.puts) != 1 {
		t.Fatalf("want exactly one out-of-band write, got %d", len(f.puts))
	}
	if !holds(f.puts[0], invokerRole, "allUsers") {
		t.Errorf("the write did not grant allUsers: %+v", f.puts[0])
	}
}

func TestDriftByEvent_FailsWhenTheGrantOutlivesTheTimeout(t *testing.T) {
	f := &fakeAdmin{auditEnabled: true, policy: convergedBilling()}
	srv := f.serve(t)
	var out strings.Builder
	err := probe(srv).run(context.Background(), 200*time.Millisecond, &out)
	if err == nil || !strings.Contains(err.Error(), "allUsers still may invoke "+billing) {
		t.Fatalf("want an error saying allUsers still may invoke, got %v", err)
	}
	if strings.Contains(out.String(), "drift corrected") {
		t.Errorf("reported a correction that did not happen:\n%s", out.String())
	}
}

func TestDriftByEvent_RefusesWithoutAuditEntries(t *testing.T) {
	f := &fakeAdmin{policy: convergedBilling(), revokeAfter: time.Millisecond}
	srv := f.serve(t)
	err := probe(srv).run(context.Background(), time.Second, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "--pubsub-listen") {
		t.Fatalf("want an error pointing at --pubsub-listen, got %v", err)
	}
	if len(f.puts) != 0 {
		t.Errorf("changed Google Cloud although no event could report it: %+v", f.puts)
	}
}

func TestDriftByEvent_RefusesWhenTheMemberAlreadyInvokes(t *testing.T) {
	f := &fakeAdmin{auditEnabled: true, policy: withMember(convergedBilling(), invokerRole, "allUsers")}
	srv := f.serve(t)
	err := probe(srv).run(context.Background(), time.Second, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "no drift to introduce") {
		t.Fatalf("want a refusal, got %v", err)
	}
	if len(f.puts) != 0 {
		t.Errorf("wrote the policy: %+v", f.puts)
	}
}

func TestWithMember_AddsTheMemberAndKeepsEveryOtherBinding(t *testing.T) {
	conditional := adminapi.Binding{Role: invokerRole, Members: []string{"user:temp@acme.com"}, Condition: &adminapi.Condition{Expression: "request.time < timestamp(\"2027-01-01T00:00:00Z\")"}}
	tests := []struct {
		name string
		in   adminapi.Policy
		want adminapi.Policy
	}{
		{
			name: "joins the unconditional invoker binding",
			in:   convergedBilling(),
			want: adminapi.Policy{Bindings: []adminapi.Binding{
				{Role: invokerRole, Members: []string{iapAgent, scheduler, "allUsers"}},
				{Role: "roles/run.developer", Members: []string{"group:finance-dev@acme.com"}},
			}},
		},
		{
			name: "adds a binding when only a conditional one exists",
			in:   adminapi.Policy{Version: 3, Bindings: []adminapi.Binding{conditional}},
			want: adminapi.Policy{Version: 3, Bindings: []adminapi.Binding{conditional, {Role: invokerRole, Members: []string{"allUsers"}}}},
		},
		{
			name: "adds a binding to an empty policy",
			in:   adminapi.Policy{Etag: []byte("abc")},
			want: adminapi.Policy{Bindings: []adminapi.Binding{{Role: invokerRole, Members: []string{"allUsers"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := json.Marshal(tt.in)
			got := withMember(tt.in, invokerRole, "allUsers")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			// The caller's policy must not change in place (it is compared with the state later).
			if after, _ := json.Marshal(tt.in); string(after) != string(before) {
				t.Errorf("the input policy was modified:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}
