package gcp

import (
	"context"
	"errors"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Services is the adapter for Cloud Run services: read one, and set one of the boolean fields
// runguard owns without touching anything a deploy pipeline owns.
type Services struct{ c *Clients }

// Services returns the Cloud Run service adapter.
func (c *Clients) Services() Services { return Services{c: c} }

// ServiceFlag is a boolean field of a Cloud Run service runguard sets.
type ServiceFlag string

const (
	// IAPEnabled is iap_enabled: IAP in front of the service.
	IAPEnabled ServiceFlag = "iap_enabled"
	// InvokerIAMDisabled is invoker_iam_disabled: true skips the roles/run.invoker check.
	InvokerIAMDisabled ServiceFlag = "invoker_iam_disabled"
)

// Value is the flag's value on svc.
func (f ServiceFlag) Value(svc *runpb.Service) bool {
	if f == IAPEnabled {
		return svc.GetIapEnabled()
	}
	return svc.GetInvokerIamDisabled()
}

// Get reads a Cloud Run service.
func (s Services) Get(ctx context.Context, target Service) (*runpb.Service, error) {
	name := target.Path()
	var svc *runpb.Service
	err := s.c.paced(ctx, "run", false, target.quota("run"), func() (err error) {
		svc, err = s.c.run.GetService(ctx, &runpb.GetServiceRequest{Name: name})
		return err
	})
	countCall("run.GetService", err)
	if err != nil {
		return nil, callError("read Cloud Run service", name, "run.services.get", err)
	}
	return svc, nil
}

// List reads every Cloud Run service of a project in one region, following the pages. Cloud Run
// v2 lists one region at a time: its ListServices refuses the "-" wildcard location.
func (s Services) List(ctx context.Context, project, location string) ([]*runpb.Service, error) {
	parent := "projects/" + project + "/locations/" + location
	var out []*runpb.Service
	err := s.c.paced(ctx, "run", false, project+"/"+location, func() error {
		it := s.c.run.ListServices(ctx, &runpb.ListServicesRequest{Parent: parent, PageSize: 500})
		for {
			svc, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, svc)
		}
	})
	countCall("run.ListServices", err)
	if err != nil {
		return nil, callError("list Cloud Run services of", parent, "run.services.list", err)
	}
	return out, nil
}

// Ensure makes flag equal want on the service read as current. The update names only that
// field, so nothing a deploy pipeline owns is touched, and carries the etag read, so a concurrent
// deploy makes it fail with ABORTED instead of being overwritten; then the service is read again
// and the update retried while the field still differs. It does not wait for the rollout the
// update starts. It reports whether it wrote.
func (s Services) Ensure(ctx context.Context, target Service, current *runpb.Service, flag ServiceFlag, want bool) (bool, error) {
	if observeOnly(ctx) {
		return flag.Value(current) != want, nil
	}
	delay := conflictDelay
	for attempt := 1; ; attempt++ {
		if flag.Value(current) == want {
			return false, nil
		}
		update := &runpb.Service{Name: current.GetName(), Etag: current.GetEtag()}
		if flag == IAPEnabled {
			update.IapEnabled = want
		} else {
			update.InvokerIamDisabled = want
		}
		err := s.c.paced(ctx, "run", true, target.quota("run"), func() error {
			_, err := s.c.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
				Service: update, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{string(flag)}},
			})
			return err
		})
		countCall("run.UpdateService", err)
		if err == nil {
			return true, nil
		}
		err = callError("update "+string(flag)+" of Cloud Run service", current.GetName(), "run.services.update", err)
		if Classify(err) != Conflict || attempt == conflictAttempts {
			return false, err
		}
		if err := sleep(ctx, delay); err != nil {
			return false, err
		}
		delay *= 2
		if current, err = s.Get(ctx, target); err != nil {
			return false, err
		}
	}
}

// getServicePolicy reads the service's own IAM policy (who may invoke it), always as version 3:
// a version-1 read of a policy with conditions returns rewritten roles that must never be written back.
func (c *Clients) getServicePolicy(ctx context.Context, svc Service) (*iampb.Policy, error) {
	name := svc.Path()
	var p *iampb.Policy
	err := c.paced(ctx, "run", false, svc.quota("run"), func() (err error) {
		p, err = c.run.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{
			Resource: name, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3},
		})
		return err
	})
	countCall("run.GetIamPolicy", err)
	if err != nil {
		return nil, callError("read the IAM policy of Cloud Run service", name, "run.services.getIamPolicy", err)
	}
	return p, nil
}

// setServicePolicy writes the service's IAM policy; p carries the etag it was read with.
func (c *Clients) setServicePolicy(ctx context.Context, svc Service, p *iampb.Policy) (*iampb.Policy, error) {
	name := svc.Path()
	var out *iampb.Policy
	err := c.paced(ctx, "run", true, svc.quota("run"), func() (err error) {
		out, err = c.run.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: p})
		return err
	})
	countCall("run.SetIamPolicy", err)
	if err != nil {
		return nil, callError("write the IAM policy of Cloud Run service", name, "run.services.setIamPolicy", err)
	}
	return out, nil
}

// testServicePermissions asks which of want the identity holds on the service.
func (c *Clients) testServicePermissions(ctx context.Context, svc Service, want []string) (*iampb.TestIamPermissionsResponse, error) {
	var resp *iampb.TestIamPermissionsResponse
	err := c.paced(ctx, "run", false, svc.quota("run"), func() (err error) {
		resp, err = c.run.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: svc.Path(), Permissions: want})
		return err
	})
	countCall("run.TestIamPermissions", err)
	if err != nil {
		return nil, callError("test runguard's permissions on Cloud Run service", svc.Path(), "", err)
	}
	return resp, nil
}
