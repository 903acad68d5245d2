package gcp

import (
	"context"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/iap/apiv1/iappb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runguard/runguard/internal/iapsettings"
)

// getIAPPolicy reads who may pass IAP, always as version 3 (see getServicePolicy).
func (c *Clients) getIAPPolicy(ctx context.Context, svc Service) (*iampb.Policy, error) {
	resource := svc.IAPResource()
	var p *iampb.Policy
	err := c.paced(ctx, "iap", false, svc.quota("iap"), func() (err error) {
		p, err = c.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{
			Resource: resource, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3},
		})
		return err
	})
	countCall("iap.GetIamPolicy", err)
	if err != nil {
		return nil, callError("read the IAP access policy of", resource, "iap.webServices.getIamPolicy", err)
	}
	return p, nil
}

// setIAPPolicy writes the IAP access policy; p carries the etag it was read with.
func (c *Clients) setIAPPolicy(ctx context.Context, svc Service, p *iampb.Policy) (*iampb.Policy, error) {
	resource := svc.IAPResource()
	var out *iampb.Policy
	err := c.paced(ctx, "iap", true, svc.quota("iap"), func() (err error) {
		out, err = c.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: resource, Policy: p})
		return err
	})
	countCall("iap.SetIamPolicy", err)
	if err != nil {
		return nil, callError("write the IAP access policy of", resource, "iap.webServices.setIamPolicy", err)
	}
	return out, nil
}

// getIAPSettings reads the IAP settings of resource.
func (c *Clients) getIAPSettings(ctx context.Context, svc Service) (*iappb.IapSettings, error) {
	resource := svc.IAPResource()
	var s *iappb.IapSettings
	err := c.paced(ctx, "iap", false, svc.quota("iap"), func() (err error) {
		s, err = c.iap.GetIapSettings(ctx, &iappb.GetIapSettingsRequest{Name: resource})
		return err
	})
	countCall("iap.GetIapSettings", err)
	if err != nil {
		return nil, callError("read the IAP settings of", resource, "iap.webServices.getSettings", err)
	}
	return s, nil
}

// updateIAPSettings writes only the settings mask names.
func (c *Clients) updateIAPSettings(ctx context.Context, svc Service, s *iappb.IapSettings, mask []string) (*iappb.IapSettings, error) {
	resource := svc.IAPResource()
	s = proto.Clone(s).(*iappb.IapSettings)
	s.Name = resource
	var out *iappb.IapSettings
	err := c.paced(ctx, "iap", true, svc.quota("iap"), func() (err error) {
		out, err = c.iap.UpdateIapSettings(ctx, &iappb.UpdateIapSettingsRequest{IapSettings: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}})
		return err
	})
	countCall("iap.UpdateIapSettings", err)
	if err != nil {
		return nil, callError("write the IAP settings of", resource, "iap.webServices.updateSettings", err)
	}
	return out, nil
}

// Settings is the adapter for IAP resources' settings.
type Settings struct{ c *Clients }

// Settings reads and writes IAP resources' settings.
func (c *Clients) Settings() Settings { return Settings{c} }

// Apply makes the declared settings of the service's IAP resource hold: one read, and one masked write of the
// declared settings that differ. IapSettings has no etag, so a concurrent writer of the same
// setting is not detected here; the next pass sees its change as drift.
func (s Settings) Apply(ctx context.Context, svc Service, declared iapsettings.Declaration) (iapsettings.Plan, error) {
	current, err := s.c.getIAPSettings(ctx, svc)
	if err != nil {
		return iapsettings.Plan{}, err
	}
	plan := iapsettings.PlanUpdate(current, declared)
	if !plan.Changed() || observeOnly(ctx) {
		return plan, nil
	}
	if _, err := s.c.updateIAPSettings(ctx, svc, plan.Update, plan.Mask); err != nil {
		return iapsettings.Plan{}, err
	}
	return plan, nil
}

// testIAPPermissions asks which of want the identity holds on the service's IAP resource.
func (c *Clients) testIAPPermissions(ctx context.Context, svc Service, want []string) (*iampb.TestIamPermissionsResponse, error) {
	var resp *iampb.TestIamPermissionsResponse
	err := c.paced(ctx, "iap", false, svc.quota("iap"), func() (err error) {
		resp, err = c.iap.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: svc.IAPResource(), Permissions: want})
		return err
	})
	countCall("iap.TestIamPermissions", err)
	if err != nil {
		return nil, callError("test runguard's permissions on IAP resource", svc.IAPResource(), "", err)
	}
	return resp, nil
}
