package gcpfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

func TestAdmin_EndpointsDriveAndInspectTheFake(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	do := adminClient(t, f.Server)

	do("GET", "/healthz", "", http.StatusOK)

	do("POST", "/services", `{"project":"proj-alpha","location":"us-central1","name":"added","iapEnabled":true,
		"iapPolicy":{"bindings":[{"role":"roles/iap.httpsResourceAccessor","members":["user:alice@example.com"]}]}}`, http.StatusCreated)
	do("PUT", "/policies/service/proj-alpha/us-central1/added", `{"bindings":[{"role":"roles/run.invoker","members":["user:bob@example.com"]}]}`, http.StatusOK)

	var st adminapi.State
	if err := json.Unmarshal(do("GET", "/state", "", http.StatusOK), &st); err != nil {
		t.Fatal(err)
	}
	onlyMember := func(p adminapi.Policy, member string) bool {
		return len(p.Bindings) == 1 && slices.Equal(p.Bindings[0].Members, []string{member})
	}
	var found bool
	for _, s := range st.Services {
		if s.Name == "projects/proj-alpha/locations/us-central1/services/added" {
			found = true
			if !s.IAPEnabled || !onlyMember(s.ServicePolicy, "user:bob@example.com") || !onlyMember(s.IAPPolicy, "user:alice@example.com") {
				t.Errorf("state of added service = %+v", s)
			}
		}
	}
	if !found {
		t.Fatal("added service missing from /state")
	}

	do("PUT", "/policies/iap/proj-alpha/us-central1/hello", `{"bindings":[{"role":"roles/iap.httpsResourceAccessor","members":["group:team@example.com"]}]}`, http.StatusOK)
	if p, _ := f.IAPPolicy(helloIAP); len(p.Bindings) != 1 {
		t.Errorf("IAP policy after PUT = %v", p)
	}

	do("POST", "/faults", `{"method":"run.GetIamPolicy","code":"UNAVAILABLE","times":1,"retryDelay":"2s"}`, http.StatusCreated)
	do("POST", "/faults", `{"method":"run.GetIamPolicy","code":"NOPE"}`, http.StatusBadRequest)
	_, err := f.run.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: helloName})
	wantCode(t, err, codes.Unavailable)

	var calls []adminapi.Call
	if err := json.Unmarshal(do("GET", "/calls", "", http.StatusOK), &calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Code != "UNAVAILABLE" || calls[0].Method != "run.GetIamPolicy" || !calls[0].Injected {
		t.Errorf("calls = %v", calls)
	}
	var counts map[string]int
	if err := json.Unmarshal(do("GET", "/calls/counts", "", http.StatusOK), &counts); err != nil || counts["run.GetIamPolicy"] != 1 {
		t.Errorf("counts = %v %v", counts, err)
	}
	do("DELETE", "/calls", "", http.StatusNoContent)
	do("DELETE", "/faults", "", http.StatusNoContent)
	if len(f.Calls()) != 0 {
		t.Error("DELETE /calls left entries")
	}

	var one adminapi.ServiceState
	if err := json.Unmarshal(do("GET", "/services/proj-alpha/us-central1/added", "", http.StatusOK), &one); err != nil ||
		one.Name != "projects/proj-alpha/locations/us-central1/services/added" || !one.IAPEnabled || !onlyMember(one.IAPPolicy, "user:alice@example.com") {
		t.Errorf("GET one service = %+v, %v", one, err)
	}
	do("DELETE", "/services/proj-alpha/us-central1/added", "", http.StatusNoContent)
	do("DELETE", "/services/proj-alpha/us-central1/added", "", http.StatusNotFound)
	do("GET", "/services/proj-alpha/us-central1/added", "", http.StatusNotFound)
	if _, ok := f.GetService("projects/proj-alpha/locations/us-central1/services/added"); ok {
		t.Error("service still there after DELETE")
	}
}

func TestAdmin_GrantsAndTokenCreatorsChangeAtRunTime(t *testing.T) {
	s := startIdentityFake(t, identitySeed())
	admin := adminClient(t, s)
	do := func(method, path string, wantStatus int) []byte {
		t.Helper()
		return admin(method, path, "", wantStatus)
	}
	f := startFakeWith(t, s)
	get := func() error {
		_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName})
		return err
	}
	wantCode(t, get(), codes.PermissionDenied)
	do("PUT", adminapi.GrantPath(alpha, runguardMember, "roles/run.viewer"), http.StatusNoContent)
	if err := get(); err != nil {
		t.Fatalf("after PUT grant: %v", err)
	}
	var access adminapi.Access
	if err := json.Unmarshal(do("GET", adminapi.AccessPath, http.StatusOK), &access); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(access.Grants[alpha][runguardMember], "roles/run.viewer") {
		t.Errorf("GET /access = %+v", access)
	}
	do("DELETE", adminapi.GrantPath(alpha, runguardMember, "roles/run.viewer"), http.StatusNoContent)
	wantCode(t, get(), codes.PermissionDenied)
	do("DELETE", adminapi.GrantPath(alpha, runguardMember, "roles/run.viewer"), http.StatusNotFound)
	do("PUT", adminapi.GrantPath(alpha, runguardMember, "roles/no.such"), http.StatusBadRequest)

	var calls []adminapi.Call
	if err := json.Unmarshal(do("GET", adminapi.CallsPath, http.StatusOK), &calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 || calls[len(calls)-1].Caller != runguardMember {
		t.Errorf("GET /calls does not name the caller: %+v", calls)
	}

	do("DELETE", adminapi.TokenCreatorPath(tenantA, runguardMember), http.StatusNoContent)
	_, err := credentialsClient(t, s, nil).GenerateAccessToken(ctxT(t), &credentialspb.GenerateAccessTokenRequest{Name: "projects/-/serviceAccounts/" + tenantA, Scope: []string{cloudPlatform}})
	wantCode(t, err, codes.PermissionDenied)
	do("DELETE", adminapi.TokenCreatorPath(tenantA, runguardMember), http.StatusNotFound)
	do("PUT", adminapi.TokenCreatorPath(tenantA, runguardMember), http.StatusNoContent)
	if _, err := impersonated(t, s, tenantA).Token(); err != nil {
		t.Errorf("after PUT token creator: %v", err)
	}

	adminClient(t, startIdentityFake(t, testSeed()))("PUT", adminapi.GrantPath(alpha, runguardMember, "roles/run.admin"), "", http.StatusConflict)
}

// adminClient serves s's admin API and returns a function that sends one request to it and
// fails the test unless it is answered wantStatus.
func adminClient(t *testing.T, s *gcpfake.Server) func(method, path, body string, wantStatus int) []byte {
	srv := httptest.NewServer(s.AdminHandler())
	t.Cleanup(srv.Close)
	return func(method, path, body string, wantStatus int) []byte {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, raw)
		}
		return raw
	}
}
