package gcp_test

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/iapsettings"
)

// In an ObserveOnly context every write adapter decides and reports, and no write reaches Google.
func TestObserveOnly_DecidesButNeverWrites(t *testing.T) {
	c, fake := start(t)
	ctx := gcp.ObserveOnly(context.Background())
	target := gcp.Service{Project: "acme-prod", Number: 123456789012, Location: "us-central1", Name: "web"}

	plan, err := c.ServicePolicies().Update(ctx, target, nil, func(p *iampb.Policy) (iampolicy.Plan, error) {
		return iampolicy.PlanGrant(p, iampolicy.InvokerRole, "user:alice@acme.com"), nil
	})
	if err != nil || !plan.Changed || iampolicy.HasMember(plan.Policy, iampolicy.InvokerRole, "user:alice@acme.com") {
		t.Errorf("observed grant: changed %v, err %v, policy %v (want the plan, and the policy as it stands)", plan.Changed, err, plan.Policy)
	}
	svc, err := c.Services().Get(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if would, err := c.Services().Ensure(ctx, target, svc, gcp.IAPEnabled, true); err != nil || !would {
		t.Errorf("observed IAP switch: would=%v err=%v, want true", would, err)
	}
	declared := iapsettings.Declare(&iapv1alpha1.IAPSettings{Reauthentication: &iapv1alpha1.Reauthentication{
		Method: iapv1alpha1.ReauthLogin, MaxAge: metav1.Duration{Duration: time.Hour}}})
	if s, err := c.Settings().Apply(ctx, target, declared); err != nil || !s.Changed() {
		t.Errorf("observed settings: changed %v err %v", s.Changed(), err)
	}
	for _, call := range fake.Calls() {
		if call.Write {
			t.Errorf("an observing adapter wrote: %s %s", call.Method, call.Resource)
		}
	}
	if svc, _ := c.Services().Get(context.Background(), target); svc.GetIapEnabled() {
		t.Error("IAP is on after an observed switch")
	}
}
