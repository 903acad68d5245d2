package gcp_test

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/protobuf/types/known/durationpb"

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
	declared := iapsettings.Declare(&iapsettings.Spec{Reauthentication: &iappb.ReauthSettings{
		Method: iappb.ReauthSettings_LOGIN, MaxAge: durationpb.New(time.Hour), PolicyType: iappb.ReauthSettings_MINIMUM}})
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
