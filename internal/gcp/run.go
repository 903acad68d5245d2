package gcp

import (
	"context"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// GetService reads a Cloud Run service by its full name.
func (c *Clients) GetService(ctx context.Context, name string) (*runpb.Service, error) {
	svc, err := c.run.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	observe("run.GetService", err)
	if err != nil {
		return nil, callError("read Cloud Run service", name, "run.services.get", err)
	}
	return svc, nil
}

// SetIAPEnabled starts switching IAP on or off. The update names only iap_enabled, so nothing
// else a deploy pipeline owns is touched, and carries the etag read, so a concurrent deploy makes
// it fail instead of being overwritten. It does not wait for the rollout: callers re-read.
func (c *Clients) SetIAPEnabled(ctx context.Context, svc *runpb.Service, enabled bool) error {
	return c.updateMasked(ctx, svc, "iap_enabled", func(s *runpb.Service) { s.IapEnabled = enabled })
}

// EnableInvokerIAMCheck turns invoker_iam_disabled off, so roles/run.invoker is checked again.
func (c *Clients) EnableInvokerIAMCheck(ctx context.Context, svc *runpb.Service) error {
	return c.updateMasked(ctx, svc, "invoker_iam_disabled", func(s *runpb.Service) { s.InvokerIamDisabled = false })
}

func (c *Clients) updateMasked(ctx context.Context, current *runpb.Service, field string, set func(*runpb.Service)) error {
	update := &runpb.Service{Name: current.GetName(), Etag: current.GetEtag()}
	set(update)
	_, err := c.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
		Service:    update,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{field}},
	})
	observe("run.UpdateService", err)
	if err != nil {
		return callError("update "+field+" of Cloud Run service", current.GetName(), "run.services.update", err)
	}
	return nil
}

// GetServicePolicy reads the service's own IAM policy (who may invoke it), always as version 3:
// a version-1 read of a policy with conditions returns rewritten roles that must never be written back.
func (c *Clients) GetServicePolicy(ctx context.Context, name string) (*iampb.Policy, error) {
	p, err := c.run.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{
		Resource: name, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3},
	})
	observe("run.GetIamPolicy", err)
	if err != nil {
		return nil, callError("read the IAM policy of Cloud Run service", name, "run.services.getIamPolicy", err)
	}
	return p, nil
}

// SetServicePolicy writes the service's IAM policy; p carries the etag it was read with.
func (c *Clients) SetServicePolicy(ctx context.Context, name string, p *iampb.Policy) (*iampb.Policy, error) {
	out, err := c.run.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: p})
	observe("run.SetIamPolicy", err)
	if err != nil {
		return nil, callError("write the IAM policy of Cloud Run service", name, "run.services.setIamPolicy", err)
	}
	return out, nil
}
