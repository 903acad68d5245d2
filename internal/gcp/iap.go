package gcp

import (
	"context"
	"fmt"

	"cloud.google.com/go/iam/apiv1/iampb"
)

// IAPResource is the IAP resource of a Cloud Run service. IAP addresses it by project number.
func IAPResource(projectNumber int64, location, service string) string {
	return fmt.Sprintf("projects/%d/iap_web/cloud_run-%s/services/%s", projectNumber, location, service)
}

// IAPServiceAgent is the identity IAP uses to call the service.
func IAPServiceAgent(projectNumber int64) string {
	return fmt.Sprintf("serviceAccount:service-%d@gcp-sa-iap.iam.gserviceaccount.com", projectNumber)
}

// getIAPPolicy reads who may pass IAP, always as version 3 (see getServicePolicy).
func (c *Clients) getIAPPolicy(ctx context.Context, resource string) (*iampb.Policy, error) {
	p, err := c.iap.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{
		Resource: resource, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3},
	})
	observe("iap.GetIamPolicy", err)
	if err != nil {
		return nil, callError("read the IAP access policy of", resource, "iap.webServices.getIamPolicy", err)
	}
	return p, nil
}

// setIAPPolicy writes the IAP access policy; p carries the etag it was read with.
func (c *Clients) setIAPPolicy(ctx context.Context, resource string, p *iampb.Policy) (*iampb.Policy, error) {
	out, err := c.iap.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: resource, Policy: p})
	observe("iap.SetIamPolicy", err)
	if err != nil {
		return nil, callError("write the IAP access policy of", resource, "iap.webServices.setIamPolicy", err)
	}
	return out, nil
}
