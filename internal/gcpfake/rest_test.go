package gcpfake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake"
)

// These tests speak raw HTTP to the REST surface, to pin down the wire
// form the clients in the other tests hide.

type rawResponse struct {
	code        int
	contentType string
	body        []byte
}

func rawCall(t *testing.T, f *fake, method, path, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, "http://"+f.HTTPEndpoint()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: b}
}

func (r rawResponse) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("HTTP %d body is not a JSON object: %v\n%s", r.code, err, r.body)
	}
	return m
}

func keys(m map[string]any) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestREST_ErrorIsGooglesEnvelopeNotConnects(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	r := rawCall(t, f, http.MethodGet, "/v2/projects/proj-alpha/locations/us-central1/services/nope", "")
	if r.code != http.StatusNotFound || r.contentType != "application/json; charset=UTF-8" {
		t.Errorf("HTTP %d %q, want 404 application/json; charset=UTF-8", r.code, r.contentType)
	}
	top := r.object(t)
	if keys(top) != "error" {
		t.Fatalf("top-level keys %s, want only error:\n%s", keys(top), r.body)
	}
	e := top["error"].(map[string]any)
	if keys(e) != "code,message,status" || e["code"] != float64(404) || e["status"] != "NOT_FOUND" ||
		e["message"] != "Resource 'nope' of kind 'SERVICE' in region 'us-central1' in project 'proj-alpha' does not exist." {
		t.Errorf("error = %v, want code 404, status NOT_FOUND and Cloud Run's message, no details", e)
	}
}

func TestREST_InjectedUnavailableIs503WithRetryInfoInDetails(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	f.AddFault(gcpfake.FaultRule{Method: "run.GetService", Code: codes.Unavailable, RetryDelay: 3 * time.Second})
	r := rawCall(t, f, http.MethodGet, "/v2/"+helloName, "")
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("HTTP %d, want 503:\n%s", r.code, r.body)
	}
	e := r.object(t)["error"].(map[string]any)
	details, _ := e["details"].([]any)
	if e["code"] != float64(503) || e["status"] != "UNAVAILABLE" || len(details) != 1 {
		t.Fatalf("error = %v", e)
	}
	d := details[0].(map[string]any)
	if d["@type"] != "type.googleapis.com/google.rpc.RetryInfo" || d["retryDelay"] != "3s" {
		t.Errorf("detail = %v, want a google.rpc.RetryInfo with retryDelay 3s", d)
	}
	if calls := f.Calls(); len(calls) != 1 || !calls[0].Injected || calls[0].Code != codes.Unavailable {
		t.Errorf("call log = %+v, want the injected call", calls)
	}
}

func TestREST_EncodesJSONAsGoogleDoes(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	for _, alt := range []string{"", "?alt=json", "?%24alt=json"} {
		r := rawCall(t, f, http.MethodGet, "/v2/"+helloName+alt, "")
		if r.code != http.StatusOK {
			t.Fatalf("%q: HTTP %d:\n%s", alt, r.code, r.body)
		}
		svc := r.object(t)
		// int64 as a string, lowerCamelCase names, enums by name, nothing unpopulated.
		if svc["generation"] != "1" || svc["observedGeneration"] != "1" || svc["ingress"] != "INGRESS_TRAFFIC_ALL" {
			t.Errorf("%q: generation %#v, observedGeneration %#v, ingress %#v", alt, svc["generation"], svc["observedGeneration"], svc["ingress"])
		}
		for _, k := range []string{"observed_generation", "description", "iapEnabled", "reconciling"} {
			if _, ok := svc[k]; ok {
				t.Errorf("%q: key %q present", alt, k)
			}
		}
		// Google indents unless prettyPrint=false.
		if !bytes.Contains(r.body, []byte("\n  \"name\": ")) {
			t.Errorf("%q: body not indented:\n%s", alt, r.body)
		}
	}
	// What the generated REST clients ask for.
	r := rawCall(t, f, http.MethodGet, "/v2/"+helloName+"?"+url.Values{"$alt": {"json;enum-encoding=int"}, "prettyPrint": {"false"}}.Encode(), "")
	svc := r.object(t)
	if svc["ingress"] != float64(1) || svc["generation"] != "1" {
		t.Errorf("enum-encoding=int: ingress %#v, generation %#v; want 1 and \"1\"", svc["ingress"], svc["generation"])
	}
	if bytes.ContainsAny(r.body, "\n ") {
		t.Errorf("prettyPrint=false body is not compact:\n%s", r.body)
	}
}

func TestREST_UpdateMaskQueryAndOperationPolledByREST(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{ReconcileDelay: 50 * time.Millisecond})
	r := rawCall(t, f, http.MethodPatch, "/v2/"+helloName+"?updateMask=iapEnabled,description", `{"iapEnabled": true, "labels": {"not": "masked"}}`)
	if r.code != http.StatusOK {
		t.Fatalf("PATCH: HTTP %d:\n%s", r.code, r.body)
	}
	op := r.object(t)
	name, _ := op["name"].(string)
	if !strings.HasPrefix(name, "projects/proj-alpha/locations/us-central1/operations/") || op["done"] != nil {
		t.Fatalf("operation = %v, want a pending one", op)
	}
	deadline := time.Now().Add(5 * time.Second)
	for op["done"] != true {
		if time.Now().After(deadline) {
			t.Fatalf("operation never done: %v", op)
		}
		time.Sleep(20 * time.Millisecond)
		op = rawCall(t, f, http.MethodGet, "/v2/"+name, "").object(t)
	}
	resp := op["response"].(map[string]any)
	if resp["@type"] != "type.googleapis.com/google.cloud.run.v2.Service" || resp["iapEnabled"] != true || resp["labels"] != nil {
		t.Errorf("response = %v, want the Service with only the masked fields changed", resp)
	}
	calls := f.Calls()
	if len(calls) < 2 || calls[0].Method != "run.UpdateService" || !calls[0].Write || calls[len(calls)-1].Method != "operations.GetOperation" {
		t.Errorf("call log = %+v, want UpdateService then GetOperation polls", calls)
	}
}

func TestREST_RejectsWhatItCannotBind(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	for _, tc := range []struct {
		method, path, body string
		want               codes.Code
	}{
		{http.MethodGet, "/v2/" + helloName + "?pageSize=2", "", codes.InvalidArgument},
		{http.MethodGet, "/v2/" + helloName + "?alt=proto", "", codes.InvalidArgument},
		{http.MethodPatch, "/v2/" + helloName + "?updateMask=description", `{"description": "x", "colour": "red"}`, codes.InvalidArgument},
		{http.MethodPatch, "/v2/" + helloName + "?updateMask=description", `{"description":`, codes.InvalidArgument},
		{http.MethodGet, "/v2/projects/proj-alpha/nothing", "", codes.NotFound},
		{http.MethodPut, "/v2/" + helloName, "{}", codes.NotFound},
		{http.MethodGet, "/google.cloud.run.v2.Services/GetService", "", codes.NotFound},
	} {
		r := rawCall(t, f, tc.method, tc.path, tc.body)
		st, err := statusFromEnvelope(r.code, r.body)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
			continue
		}
		if st.Code() != tc.want {
			t.Errorf("%s %s: %v %q, want %v", tc.method, tc.path, st.Code(), st.Message(), tc.want)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("requests that bind to no call reached the handlers: %+v", calls)
	}
}

func TestREST_CloudRunV1IAMPathsShareTheV2Policy(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	set := rawCall(t, f, http.MethodPost, "/v1/"+helloName+":setIamPolicy",
		`{"policy": {"bindings": [{"role": "roles/run.invoker", "members": ["user:alice@example.com"]}]}}`)
	if set.code != http.StatusOK {
		t.Fatalf("v1 setIamPolicy: HTTP %d:\n%s", set.code, set.body)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		body := ""
		if method == http.MethodPost {
			body = `{"options": {"requestedPolicyVersion": 3}}`
		}
		r := rawCall(t, f, method, "/v1/"+helloName+":getIamPolicy", body)
		if r.code != http.StatusOK || !bytes.Contains(r.body, []byte(`"user:alice@example.com"`)) {
			t.Errorf("v1 getIamPolicy by %s: HTTP %d:\n%s", method, r.code, r.body)
		}
	}
	if p, _ := f.ServicePolicy(helloName); len(bindingMembers(p, "roles/run.invoker")) != 1 || bindingMembers(p, "roles/run.invoker")[0] != "user:alice@example.com" {
		t.Errorf("stored policy = %v", p)
	}
	// The IAP resource is not mistaken for a Cloud Run one on the same /v1 prefix.
	if r := rawCall(t, f, http.MethodPost, "/v1/"+helloIAP+":getIamPolicy", "{}"); r.code != http.StatusOK || bytes.Contains(r.body, []byte("alice")) {
		t.Errorf("IAP getIamPolicy: HTTP %d:\n%s", r.code, r.body)
	}
}

func TestREST_V1ProjectNumberIsAString(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	r := rawCall(t, f, http.MethodGet, "/v1/projects/proj-alpha?alt=json", "")
	p := r.object(t)
	if r.code != http.StatusOK || p["projectNumber"] != "123456789012" || p["projectId"] != alpha || p["lifecycleState"] != "ACTIVE" || p["name"] != alpha {
		t.Errorf("HTTP %d: %v", r.code, p)
	}
	r = rawCall(t, f, http.MethodGet, "/v1/projects/proj-ghost", "")
	if st, err := statusFromEnvelope(r.code, r.body); err != nil || st.Code() != codes.PermissionDenied {
		t.Errorf("unknown project: %v %v", st, err)
	}
}
