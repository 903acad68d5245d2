package gcpfake_test

import (
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runguard/runguard/internal/gcpfake"
)

func getPolicy(f *fake, t *testing.T, resource string) error {
	_, err := f.run.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: resource})
	return err
}

func TestFault_TimesFailsExactlyTheNextNMatchingCalls(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		f.AddFault(gcpfake.FaultRule{Method: "run.GetIamPolicy", Code: codes.Internal, Times: 2})
		var got []codes.Code
		for range 4 {
			got = append(got, codeOf(getPolicy(f, t, helloName)))
		}
		want := []codes.Code{codes.Internal, codes.Internal, codes.OK, codes.OK}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("codes = %v, want %v", got, want)
			}
		}
		if n := f.CallCounts()["run.GetIamPolicy"]; n != 4 {
			t.Errorf("call count = %d, want 4", n)
		}
	})
}

func TestFault_ProbabilityIsReproducibleFromTheSeed(t *testing.T) {
	pattern := func() []bool {
		f := startFake(t, gcpfake.Options{FaultSeed: 42})
		f.AddFault(gcpfake.FaultRule{Method: "run.GetIamPolicy", Code: codes.Internal, Probability: 0.5})
		var out []bool
		for range 40 {
			out = append(out, getPolicy(f, t, helloName) != nil)
		}
		return out
	}
	a, b := pattern(), pattern()
	failures := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed gave different failure patterns:\n%v\n%v", a, b)
		}
		if a[i] {
			failures++
		}
	}
	if failures < 8 || failures > 32 {
		t.Errorf("%d of 40 calls failed at probability 0.5", failures)
	}
}

func TestFault_ProbabilityWithTimesStopsAfterNFailures(t *testing.T) {
	f := startFake(t, gcpfake.Options{FaultSeed: 7})
	f.AddFault(gcpfake.FaultRule{Method: "*", Code: codes.Internal, Probability: 0.5, Times: 3})
	failures := 0
	for range 60 {
		if getPolicy(f, t, helloName) != nil {
			failures++
		}
	}
	if failures != 3 {
		t.Errorf("%d failures, want exactly 3", failures)
	}
}

func TestFault_ResourceScopedRuleSparesOtherResources(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		f.AddFault(gcpfake.FaultRule{Method: "run.*", Resource: privateName, Code: codes.PermissionDenied})
		if err := getPolicy(f, t, helloName); err != nil {
			t.Errorf("other resource failed: %v", err)
		}
		wantCode(t, getPolicy(f, t, privateName), codes.PermissionDenied)
	})
}

func TestFault_ResourceExhaustedCarriesRetryInfoAndErrorInfo(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		f.AddFault(gcpfake.FaultRule{Method: "iap.GetIamPolicy", Code: codes.ResourceExhausted, RetryDelay: 3 * time.Second})
		_, err := f.iap.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: helloIAP})
		st := wantCode(t, err, codes.ResourceExhausted)
		if ri := retryInfo(st); ri.GetRetryDelay().AsDuration() != 3*time.Second {
			t.Errorf("RetryInfo = %v", ri)
		}
		if ei := errorInfo(st); ei.GetReason() != "RATE_LIMIT_EXCEEDED" || ei.GetMetadata()["service"] != "iap.googleapis.com" {
			t.Errorf("ErrorInfo = %v", ei)
		}
		calls := f.Calls()
		if last := calls[len(calls)-1]; !last.Injected || last.Code != codes.ResourceExhausted {
			t.Errorf("call log entry = %+v", last)
		}
	})
}

func TestFault_LatencyDelaysTheCall(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		f.AddFault(gcpfake.FaultRule{Method: "run.GetService", Latency: 150 * time.Millisecond, Times: 1})
		start := time.Now()
		if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("call took %v, want at least 150ms", d)
		}
		start = time.Now()
		if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("second call took %v; the rule was for one call", d)
		}
	})
}

func TestFault_UnavailableOnGetServiceIsRetriedByTheClient(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		f.AddFault(gcpfake.FaultRule{Method: "run.GetService", Code: codes.Unavailable, Times: 1})
		// The generated clients retry GetService on UNAVAILABLE (REST: 503);
		// a short backoff keeps the test fast.
		backoff := gax.Backoff{Initial: time.Millisecond, Max: time.Millisecond}
		retry := gax.WithRetry(func() gax.Retryer { return gax.OnCodes([]codes.Code{codes.Unavailable}, backoff) })
		if f.transport == overREST {
			retry = gax.WithRetry(func() gax.Retryer { return gax.OnHTTPCodes(backoff, http.StatusServiceUnavailable) })
		}
		if _, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName}, retry); err != nil {
			t.Fatal(err)
		}
		if n := f.CallCounts()["run.GetService"]; n != 2 {
			t.Errorf("server saw %d GetService calls, want 2", n)
		}
	})
}

func TestFault_UnavailableCarriesRetryInfoOverBothTransports(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		f.AddFault(gcpfake.FaultRule{Method: "run.SetIamPolicy", Code: codes.Unavailable, RetryDelay: 2 * time.Second})
		_, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: helloName, Policy: &iampb.Policy{}})
		// Over REST wantCode also checks the answer was HTTP 503.
		st := wantCode(t, err, codes.Unavailable)
		if ri := retryInfo(st); ri.GetRetryDelay().AsDuration() != 2*time.Second {
			t.Errorf("RetryInfo = %v, want a 2s delay", ri)
		}
		calls := f.Calls()
		if len(calls) != 1 || calls[0].Method != "run.SetIamPolicy" || !calls[0].Injected || !calls[0].Write || calls[0].Code != codes.Unavailable {
			t.Errorf("call log = %+v, want one injected UNAVAILABLE run.SetIamPolicy", calls)
		}
	})
}

func TestFault_AfterApplyCommitsTheChangeAndFailsTheCall(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		f.AddFault(gcpfake.FaultRule{Method: "run.UpdateService", Code: codes.DeadlineExceeded, AfterApply: true, Times: 1})
		_, err := f.run.UpdateService(ctxT(t), &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: helloName, IapEnabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}},
		})
		wantCode(t, err, codes.DeadlineExceeded)
		if svc, _ := f.GetService(helloName); !svc.IapEnabled {
			t.Error("the change did not take effect")
		}
	})
}

func TestFault_ClearFaultsAndRemoveFaultStopRules(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		id := f.AddFault(gcpfake.FaultRule{Method: "*", Code: codes.Internal})
		f.AddFault(gcpfake.FaultRule{Method: "*", Code: codes.Internal})
		f.RemoveFault(id)
		wantCode(t, getPolicy(f, t, helloName), codes.Internal)
		f.ClearFaults()
		if err := getPolicy(f, t, helloName); err != nil {
			t.Error(err)
		}
	})
}

func TestCalls_RecordEveryCallWithFinalCodeAndWriteFlag(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		_, _ = f.run.GetService(ctx, &runpb.GetServiceRequest{Name: "projects/proj-alpha/locations/us-central1/services/nope"})
		_, _ = f.run.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: helloName, Policy: &iampb.Policy{}})
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, IapEnabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		calls := f.Calls()
		want := []gcpfake.Call{
			{Method: "run.GetService", Resource: "projects/proj-alpha/locations/us-central1/services/nope", Code: codes.NotFound},
			{Method: "run.SetIamPolicy", Resource: helloName, Write: true},
			{Method: "run.UpdateService", Resource: helloName, Write: true},
			{Method: "operations.GetOperation", Resource: op.Name()},
		}
		if len(calls) != len(want) {
			t.Fatalf("calls = %+v", calls)
		}
		for i, w := range want {
			c := calls[i]
			if c.Method != w.Method || c.Resource != w.Resource || c.Code != w.Code || c.Write != w.Write || c.Time.IsZero() {
				t.Errorf("call %d = %+v, want %+v", i, c, w)
			}
		}
		f.ResetCalls()
		if len(f.Calls()) != 0 || len(f.CallCounts()) != 0 {
			t.Error("ResetCalls left entries")
		}
	})
}
