package gcpfake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// 120 a minute: a full bucket is 120 calls, then one call each 500 ms.
const testQuota = 120

func setRunPolicy(f *fake, t *testing.T, resource string) error {
	_, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: resource, Policy: &iampb.Policy{}})
	return err
}

func setIAPPolicy(f *fake, t *testing.T, resource string) error {
	_, err := f.iap.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: resource, Policy: &iampb.Policy{}})
	return err
}

// spendQuota calls until the quota refuses a call, and returns that refusal. A bucket holds a
// minute of quota, so that is after about perMinute calls (more when calls are slow enough
// for it to refill meanwhile).
func spendQuota(t *testing.T, perMinute int, call func() error) *status.Status {
	t.Helper()
	for i := 0; i < 2*perMinute; i++ {
		err := call()
		if err == nil {
			continue
		}
		st := wantCode(t, err, codes.ResourceExhausted)
		if i < perMinute {
			t.Fatalf("refused after %d calls, want at least %d: %v", i, perMinute, err)
		}
		return st
	}
	t.Fatalf("%d calls admitted at %d a minute", 2*perMinute, perMinute)
	return nil
}

func TestQuota_WritesAboveTheRateAreRefusedWithRetryInfoUntilTheDelayPasses(t *testing.T) {
	forEachTransport(t, gcpfake.Options{Quotas: gcpfake.Quotas{RunWritesPerMinute: testQuota}}, func(t *testing.T, f *fake) {
		st := spendQuota(t, testQuota, func() error { return setRunPolicy(f, t, helloName) })

		want := fmt.Sprintf("Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per region' of service 'run.googleapis.com' for consumer 'project_number:%d'.", alphaNumber)
		if st.Message() != want {
			t.Errorf("message = %q, want %q", st.Message(), want)
		}
		ei := errorInfo(st)
		if ei.GetReason() != "RATE_LIMIT_EXCEEDED" || ei.GetDomain() != "googleapis.com" {
			t.Errorf("ErrorInfo = %v", ei)
		}
		for k, v := range map[string]string{"service": "run.googleapis.com", "consumer": fmt.Sprintf("projects/%d", alphaNumber),
			"quota_location": region, "quota_limit_value": "120", "quota_metric": "run.googleapis.com/write_regional"} {
			if got := ei.GetMetadata()[k]; got != v {
				t.Errorf("ErrorInfo metadata %s = %q, want %q", k, got, v)
			}
		}
		delay := retryInfo(st).GetRetryDelay().AsDuration()
		if delay <= 0 || delay > 501*time.Millisecond {
			t.Fatalf("RetryInfo delay = %v, want (0, 500ms]: one call each 500 ms", delay)
		}
		// Reads have their own quota, off here.
		if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}); err != nil {
			t.Errorf("a read was refused with only writes metered: %v", err)
		}

		time.Sleep(delay)
		if err := setRunPolicy(f, t, helloName); err != nil {
			t.Fatalf("refused after waiting the RetryInfo delay %v: %v", delay, err)
		}

		calls := f.Calls()
		throttled := 0
		for _, c := range calls {
			if c.Throttled {
				throttled++
				if c.Code != codes.ResourceExhausted || c.Injected || !c.Write {
					t.Errorf("throttled call logged as %+v", c)
				}
			}
		}
		if throttled != 1 {
			t.Errorf("%d calls logged as throttled, want 1", throttled)
		}
		if got := f.CallCountsWithCode(codes.ResourceExhausted)["run.SetIamPolicy"]; got != 1 {
			t.Errorf("RESOURCE_EXHAUSTED count for run.SetIamPolicy = %d, want 1", got)
		}
	})
}

func TestQuota_EachProjectAndRegionHasItsOwnBucket(t *testing.T) {
	f := startFake(t, gcpfake.Options{Quotas: gcpfake.Quotas{RunWritesPerMinute: testQuota}})
	for _, svc := range []gcpfake.Service{
		{Project: alpha, Location: "europe-west1", Name: "far"},
		{Project: "proj-noiap", Location: region, Name: "near"},
	} {
		if err := f.AddService(svc); err != nil {
			t.Fatal(err)
		}
	}
	spendQuota(t, testQuota, func() error { return setRunPolicy(f, t, helloName) })

	// The same project by its number is the same consumer.
	byNumber := fmt.Sprintf("projects/%d/locations/%s/services/private", alphaNumber, region)
	wantCode(t, setRunPolicy(f, t, byNumber), codes.ResourceExhausted)
	for _, other := range []string{
		"projects/proj-alpha/locations/europe-west1/services/far", // same project, other region
		"projects/proj-noiap/locations/us-central1/services/near", // other project, same region
	} {
		if err := setRunPolicy(f, t, other); err != nil {
			t.Errorf("%s: %v; its bucket is full", other, err)
		}
	}
}

func TestQuota_IAPWritesAreCountedApartFromCloudRun(t *testing.T) {
	forEachTransport(t, gcpfake.Options{Quotas: gcpfake.Quotas{IAPWritesPerMinute: testQuota}}, func(t *testing.T, f *fake) {
		st := spendQuota(t, testQuota, func() error { return setIAPPolicy(f, t, helloIAP) })
		if ei := errorInfo(st); ei.GetMetadata()["service"] != "iap.googleapis.com" {
			t.Errorf("ErrorInfo = %v", ei)
		}
		if err := setRunPolicy(f, t, helloName); err != nil {
			t.Errorf("a Cloud Run write was refused with only IAP metered: %v", err)
		}
		if _, err := f.iap.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: helloIAP}); err != nil {
			t.Errorf("an IAP read was refused with only IAP writes metered: %v", err)
		}
	})
}

func TestQuota_ReadsAreCountedApartFromWritesAndIncludeOperations(t *testing.T) {
	f := startFake(t, gcpfake.Options{Quotas: gcpfake.Quotas{RunReadsPerMinute: testQuota}})
	op, err := f.run.UpdateService(ctxT(t), &runpb.UpdateServiceRequest{
		Service: &runpb.Service{Name: helloName, IapEnabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := spendQuota(t, testQuota, func() error {
		_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName})
		return err
	})
	if want := "Read requests per minute per region"; !strings.Contains(st.Message(), want) {
		t.Errorf("message = %q, want it to name %q", st.Message(), want)
	}
	// Polling a Cloud Run operation is a Cloud Run read in the operation's project and region.
	_, err = op.Poll(ctxT(t))
	wantCode(t, err, codes.ResourceExhausted)
	if err := setRunPolicy(f, t, helloName); err != nil {
		t.Errorf("a write was refused with only reads metered: %v", err)
	}
}

func TestQuota_AdminAPIChangesTheQuotasAndCountsRefusals(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	do := adminClient(t, f.Server)
	do("PUT", adminapi.QuotasPath, `{"runWritesPerMinute": -1}`, http.StatusBadRequest)
	do("PUT", adminapi.QuotasPath, `{"runWritesPerMinut": 1}`, http.StatusBadRequest)
	do("PUT", adminapi.QuotasPath, `{"runWritesPerMinute": 1}`, http.StatusOK)
	var q adminapi.Quotas
	if err := json.Unmarshal(do("GET", adminapi.QuotasPath, "", http.StatusOK), &q); err != nil || q != (adminapi.Quotas{RunWritesPerMinute: 1}) {
		t.Fatalf("GET /quotas = %+v, %v", q, err)
	}
	if err := setRunPolicy(f, t, helloName); err != nil {
		t.Fatal(err)
	}
	wantCode(t, setRunPolicy(f, t, helloName), codes.ResourceExhausted)

	var counts map[string]int
	if err := json.Unmarshal(do("GET", adminapi.CallCountsPath+"?code=RESOURCE_EXHAUSTED", "", http.StatusOK), &counts); err != nil ||
		len(counts) != 1 || counts["run.SetIamPolicy"] != 1 {
		t.Errorf("refusals by method = %v, %v", counts, err)
	}
	if err := json.Unmarshal(do("GET", adminapi.CallCountsPath, "", http.StatusOK), &counts); err != nil || counts["run.SetIamPolicy"] != 2 {
		t.Errorf("calls by method = %v, %v", counts, err)
	}
	do("GET", adminapi.CallCountsPath+"?code=NOPE", "", http.StatusBadRequest)
	var calls []adminapi.Call
	if err := json.Unmarshal(do("GET", adminapi.CallsPath, "", http.StatusOK), &calls); err != nil || len(calls) != 2 || !calls[1].Throttled || calls[0].Throttled {
		t.Errorf("calls = %+v, %v", calls, err)
	}

	do("PUT", adminapi.QuotasPath, `{}`, http.StatusOK)
	if err := setRunPolicy(f, t, helloName); err != nil {
		t.Errorf("refused with every quota off: %v", err)
	}
}

func TestQuota_StartRefusesANegativeQuota(t *testing.T) {
	if _, err := gcpfake.Start(gcpfake.Options{Seed: testSeed(), Quotas: gcpfake.Quotas{IAPReadsPerMinute: -1}}); err == nil {
		t.Fatal("Start accepted a negative quota")
	}
}
