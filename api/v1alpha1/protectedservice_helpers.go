package v1alpha1

import "fmt"

// Observing reports whether runguard only observes (spec.mode: Observe).
func (s *ProtectedServiceSpec) Observing() bool { return s.Mode == ModeObserve }

// IAPEnabled reports whether IAP should be on; it is on unless explicitly switched off.
func (s *ProtectedServiceSpec) IAPEnabled() bool {
	return s.IAP.Enabled == nil || *s.IAP.Enabled
}

// FullName is the Cloud Run resource name, projects/{project}/locations/{location}/services/{name}.
func (r ServiceRef) FullName() string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", r.Project, r.Location, r.Name)
}

// String is project/location/name, the form users see in messages.
func (r ServiceRef) String() string {
	return r.Project + "/" + r.Location + "/" + r.Name
}
