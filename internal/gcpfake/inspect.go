package gcpfake

import (
	"time"

	"fmt"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"

	"github.com/runguard/runguard/internal/gcpfake/names"
	"github.com/runguard/runguard/internal/gcpfake/run"
)

// GetService returns a service by its full name
// (projects/{id}/locations/{l}/services/{n}; a project number works too).
// Reading completes a rollout that is due, as GetService over gRPC does.
func (s *Server) GetService(name string) (*runpb.Service, bool) {
	c, err := s.canonicalService(name)
	if err != nil {
		return nil, false
	}
	return s.run.Get(c)
}

// Services returns every service, sorted by name.
func (s *Server) Services() []*runpb.Service { return s.run.List() }

// AddService creates a service as if someone created it out of band; it
// is already rolled out (not reconciling). With audit entries on, it logs
// google.cloud.run.v1.Services.CreateService, as gcloud's call would.
func (s *Server) AddService(svc Service) error {
	desired := &runpb.Service{IapEnabled: svc.IAPEnabled, InvokerIamDisabled: svc.InvokerIAMDisabled}
	if svc.Ingress != "" {
		v, ok := runpb.IngressTraffic_value[svc.Ingress]
		if !ok {
			return fmt.Errorf("service %s: unknown ingress %q", svc.Name, svc.Ingress)
		}
		desired.Ingress = runpb.IngressTraffic(v)
	}
	invoker := svc.InvokerPolicy
	if svc.Public {
		if invoker == nil {
			invoker = &iampb.Policy{}
		} else {
			invoker = proto.Clone(invoker).(*iampb.Policy)
		}
		invoker.Bindings = append(invoker.Bindings, &iampb.Binding{Role: "roles/run.invoker", Members: []string{"allUsers"}})
	}
	created, err := s.run.Add(run.SeedService{Project: svc.Project, Location: svc.Location, ID: svc.Name, Desired: desired, InvokerPolicy: invoker, IAPPolicy: svc.IAPPolicy})
	if err != nil {
		return err
	}
	s.auditOutOfBand("run.CreateService", created.GetName())
	return nil
}

// DeleteService deletes a service out of band; its IAM policy and its IAP
// resource go with it. It logs google.cloud.run.v1.Services.DeleteService.
func (s *Server) DeleteService(name string) error {
	c, err := s.canonicalService(name)
	if err != nil {
		return err
	}
	if err := s.run.Delete(c); err != nil {
		return err
	}
	s.auditOutOfBand("run.DeleteService", c)
	return nil
}

// UpdateServiceOutOfBand changes a service as another client would. A
// change of desired state bumps generation, etag and update_time and
// starts a rollout of ReconcileDelay; changing status fields alone (for
// example a failed terminal_condition) stores them as they are. A change of
// desired state logs google.cloud.run.v1.Services.ReplaceService on
// namespaces/{project}/services/{name}, as gcloud's call would; a change of
// status alone is Cloud Run's own doing and logs nothing.
func (s *Server) UpdateServiceOutOfBand(name string, mutate func(*runpb.Service)) error {
	c, err := s.canonicalService(name)
	if err != nil {
		return err
	}
	changed, err := s.run.UpdateOutOfBand(c, mutate)
	if err != nil {
		return err
	}
	if changed {
		s.auditOutOfBand("run.UpdateService", c)
	}
	return nil
}

// FailRollout ends the service's current rollout in failure, as runpb's
// reconciling field documents it: reconciling false, observed_generation
// left at the last serving revision's (it does not catch up),
// terminal_condition {type: Ready, state: CONDITION_FAILED, message}, and any
// operation waiting on the rollout ends with FAILED_PRECONDITION and that
// message.
func (s *Server) FailRollout(name, message string) error {
	c, err := s.canonicalService(name)
	if err != nil {
		return err
	}
	return s.run.FailRollout(c, message)
}

// CreateIAPServiceAgent creates a project's IAP service agent, as `gcloud beta services
// identity create --service=iap.googleapis.com` does: for propagation afterwards IAM still
// rejects it as not existing (INVALID_ARGUMENT), as Google does for minutes.
func (s *Server) CreateIAPServiceAgent(project string, propagation time.Duration) error {
	return s.dir.CreateIAPServiceAgent(project, time.Now().Add(propagation))
}

// FailNextRollout makes the service's next rollout (the one the next change
// of its desired state starts) fail at once with message, as a revision
// that cannot start does; see FailRollout for what Google then reports.
func (s *Server) FailNextRollout(name, message string) error {
	c, err := s.canonicalService(name)
	if err != nil {
		return err
	}
	return s.run.FailNextRollout(c, message)
}

// AddProject adds a project to the running fake, as if it had been seeded,
// with its Parent (a folder already there, or an organization). Tests that
// need a project no other test touched make one each. Its Grants are refused
// (access control is decided when the fake starts): grant with Grant after
// adding it.
func (s *Server) AddProject(p Project) error {
	if len(p.Grants) > 0 {
		return fmt.Errorf("project %q: grant with Server.Grant after adding it", p.ID)
	}
	dp, err := directoryProject(p, s.tree)
	if err != nil {
		return err
	}
	return s.dir.Add(dp)
}

// SlowNextRollout makes the service's next rollout (the one the next change
// of its desired state starts) take d instead of Options.ReconcileDelay, so
// one test can see a rollout in progress on a fake whose other services roll
// out at once.
func (s *Server) SlowNextRollout(name string, d time.Duration) error {
	c, err := s.canonicalService(name)
	if err != nil {
		return err
	}
	return s.run.SlowNextRollout(c, d)
}

// ServicePolicy returns a service's stored policy in version-3 form (an
// empty policy with etag "ACAB" if none was ever set).
func (s *Server) ServicePolicy(name string) (*iampb.Policy, bool) {
	c, err := s.canonicalService(name)
	if err != nil {
		return nil, false
	}
	return s.policies.Policy(c)
}

// IAPPolicy returns the stored policy of an IAP resource,
// projects/{number}/iap_web/cloud_run-{l}/services/{n} (or the region-wide
// projects/{number}/iap_web/cloud_run-{l}).
func (s *Server) IAPPolicy(resource string) (*iampb.Policy, bool) {
	return s.policies.Policy(resource)
}

// SetServicePolicy writes a service's policy out of band: it gets a new
// etag, no etag is checked and identities are not looked up. It logs
// google.cloud.run.v1.Services.SetIamPolicy.
func (s *Server) SetServicePolicy(name string, p *iampb.Policy) error {
	c, err := s.canonicalService(name)
	if err != nil {
		return err
	}
	if err := s.policies.SetOutOfBand(c, p); err != nil {
		return err
	}
	s.auditOutOfBand("run.SetIamPolicy", c)
	return nil
}

// SetIAPPolicy writes an IAP resource's policy out of band. It logs
// google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy.
func (s *Server) SetIAPPolicy(resource string, p *iampb.Policy) error {
	if err := s.policies.SetOutOfBand(resource, p); err != nil {
		return err
	}
	s.auditOutOfBand("iap.SetIamPolicy", resource)
	return nil
}

// IAPResource is the IAP resource of a Cloud Run service, in the project
// number form IAP requires.
func (s *Server) IAPResource(serviceName string) (string, error) {
	sv, ok := names.ParseService(serviceName)
	if !ok {
		return "", fmt.Errorf("%q is not a service name", serviceName)
	}
	p, ok := s.dir.Lookup(sv.Project)
	if !ok {
		return "", fmt.Errorf("project %q is not seeded", sv.Project)
	}
	return names.IAPService(p.Number, sv.Location, sv.ID), nil
}

// ProjectNumber resolves a seeded project ID (or number).
func (s *Server) ProjectNumber(project string) (int64, bool) {
	p, ok := s.dir.Lookup(project)
	return p.Number, ok
}

func (s *Server) canonicalService(name string) (string, error) {
	sv, ok := names.ParseService(name)
	if !ok {
		return "", fmt.Errorf("%q is not projects/{project}/locations/{location}/services/{service}", name)
	}
	p, ok := s.dir.Lookup(sv.Project)
	if !ok {
		return "", fmt.Errorf("project %q is not seeded", sv.Project)
	}
	sv.Project = p.ID
	return sv.String(), nil
}
