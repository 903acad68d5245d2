package gcpfake_test

import (
	"time"

	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/iap/apiv1/iappb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake"
)

func TestIAP_DisabledAPIFailsServiceDisabledLikeGoogle(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		resource := "projects/222222222222/iap_web/cloud_run-us-central1/services/svc"
		ctx := ctxT(t)
		calls := map[string]error{}
		_, calls["get"] = f.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: resource})
		_, calls["set"] = f.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: resource, Policy: &iampb.Policy{}})
		_, calls["test"] = f.iap.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: resource, Permissions: []string{"iap.webServices.getIamPolicy"}})
		_, calls["missing service"] = f.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/222222222222/iap_web/cloud_run-us-central1/services/nope"})
		for name, err := range calls {
			st := wantCode(t, err, codes.PermissionDenied)
			ei := errorInfo(st)
			if ei.GetReason() != "SERVICE_DISABLED" || ei.GetDomain() != "googleapis.com" ||
				ei.GetMetadata()["service"] != "iap.googleapis.com" || ei.GetMetadata()["consumer"] != "projects/222222222222" {
				t.Errorf("%s: ErrorInfo = %v", name, ei)
			}
			if !strings.Contains(st.Message(), "has not been used in project 222222222222 before or it is disabled") {
				t.Errorf("%s: message = %q", name, st.Message())
			}
			var help bool
			for _, d := range st.Details() {
				if _, ok := d.(*errdetails.Help); ok {
					help = true
				}
			}
			if !help {
				t.Errorf("%s: no google.rpc.Help with the activation link", name)
			}
		}
	})
}

func TestIAP_GrantingAMissingServiceAgentFailsNamingIt(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		agent := "serviceAccount:service-333333333333@gcp-sa-iap.iam.gserviceaccount.com"
		_, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{
			Resource: "projects/proj-noagent/locations/europe-west1/services/svc",
			Policy:   &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{agent}}}},
		})
		st := wantCode(t, err, codes.InvalidArgument)
		if st.Message() != "Service account service-333333333333@gcp-sa-iap.iam.gserviceaccount.com does not exist." {
			t.Errorf("message = %q", st.Message())
		}
		// A project whose agent exists accepts it without listing it.
		if _, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{
			Resource: helloName,
			Policy:   &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{fmt.Sprintf("serviceAccount:service-%d@gcp-sa-iap.iam.gserviceaccount.com", alphaNumber)}}}},
		}); err != nil {
			t.Errorf("granting an existing IAP service agent: %v", err)
		}
	})
}

func TestIAP_ProjectIDFormFailsInvalidArgument(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.iap.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: "projects/proj-alpha/iap_web/cloud_run-us-central1/services/hello"})
		st := wantCode(t, err, codes.InvalidArgument)
		if br := badRequest(st); len(br.GetFieldViolations()) != 1 || br.FieldViolations[0].Field != "resource" {
			t.Errorf("field violations = %v", br)
		}
	})
}

func TestIAP_UnknownProjectNumberFailsPermissionDenied(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.iap.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: "projects/999/iap_web/cloud_run-us-central1/services/hello"})
		wantCode(t, err, codes.PermissionDenied)
	})
}

func TestIAP_ResourceExistsWhetherIAPIsOnOrOff(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		for _, resource := range []string{helloIAP, fmt.Sprintf("projects/%d/iap_web/cloud_run-us-central1/services/private", alphaNumber)} {
			if _, err := f.iap.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: resource}); err != nil {
				t.Errorf("%s: %v", resource, err)
			}
		}
	})
}

func TestIAP_ResourceDisappearsWithItsService(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		if _, err := f.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: helloIAP, Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/iap.httpsResourceAccessor", Members: []string{"user:alice@example.com"}}}}}); err != nil {
			t.Fatal(err)
		}
		op, err := f.run.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: helloName})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = f.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: helloIAP})
		wantCode(t, err, codes.NotFound)
		if _, ok := f.IAPPolicy(helloIAP); ok {
			t.Error("IAPPolicy still reports the resource")
		}
		// A service created again under the same name starts with an empty IAP policy.
		if err := f.AddService(gcpfake.Service{Project: alpha, Location: region, Name: "hello"}); err != nil {
			t.Fatal(err)
		}
		p, err := f.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: helloIAP})
		if err != nil || len(p.Bindings) != 0 {
			t.Errorf("recreated service's IAP policy = %v, %v", p, err)
		}
	})
}

func TestIAP_OutOfBandDeleteTakesIAPResourceToo(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		if err := f.DeleteService(helloName); err != nil {
			t.Fatal(err)
		}
		_, err := f.iap.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: helloIAP})
		wantCode(t, err, codes.NotFound)
	})
}

func TestIAP_RegionWideResourceHasItsOwnPolicy(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		regionWide := fmt.Sprintf("projects/%d/iap_web/cloud_run-us-central1", alphaNumber)
		if _, err := f.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: regionWide, Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/iap.httpsResourceAccessor", Members: []string{"group:team@example.com"}}}}}); err != nil {
			t.Fatal(err)
		}
		p, _ := f.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: helloIAP})
		if len(p.Bindings) != 0 {
			t.Errorf("service-level policy picked up the region-wide binding: %v", p)
		}
	})
}

func TestIAP_SeededForeignBindingIsVisible(t *testing.T) {
	seed := testSeed()
	seed.Services[0].IAPPolicy = &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/iap.httpsResourceAccessor", Members: []string{"user:someone-else@example.org"}}}}
	forEachTransport(t, gcpfake.Options{Seed: seed}, func(t *testing.T, f *fake) {
		p, err := f.iap.GetIamPolicy(ctxT(t), &iampb.GetIamPolicyRequest{Resource: helloIAP})
		if err != nil || len(p.Bindings) != 1 {
			t.Errorf("seeded IAP policy = %v, %v", p, err)
		}
	})
}

func TestIAP_OtherMethodsAreUnimplemented(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.iap.ValidateIapAttributeExpression(ctxT(t), &iappb.ValidateIapAttributeExpressionRequest{Name: helloIAP, Expression: "true"})
		wantCode(t, err, codes.Unimplemented)
	})
}

// For a while after `gcloud beta services identity create`, IAM still rejects the new IAP agent.
func TestCreateIAPServiceAgent_IsRejectedUntilItHasPropagated(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	if err := f.CreateIAPServiceAgent("proj-noagent", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	name := "projects/proj-noagent/locations/europe-west1/services/svc"
	agent := "serviceAccount:service-333333333333@gcp-sa-iap.iam.gserviceaccount.com"
	grant := func() error {
		p := &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{agent}}}}
		_, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: name, Policy: p})
		return err
	}
	wantCode(t, grant(), codes.InvalidArgument)
	time.Sleep(400 * time.Millisecond)
	if err := grant(); err != nil {
		t.Errorf("after propagation: %v", err)
	}
}
