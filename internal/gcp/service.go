package gcp

import "fmt"

// Service names one Cloud Run service, and, once its project number is known, its IAP resource:
// the typed value every adapter takes, so no name is built and parsed back.
type Service struct {
	// Project is the project ID, Number its number (0 until looked up).
	Project string
	Number  int64
	// Location is the Cloud Run region; Name the service's short name.
	Location, Name string
}

// Path is the service's full name: projects/PROJECT/locations/LOCATION/services/NAME.
func (s Service) Path() string {
	return "projects/" + s.Project + "/locations/" + s.Location + "/services/" + s.Name
}

// IAPResource is the service's IAP resource. IAP addresses it by project number.
func (s Service) IAPResource() string {
	return fmt.Sprintf("projects/%d/iap_web/cloud_run-%s/services/%s", s.Number, s.Location, s.Name)
}

// IAPRegion is the region-wide IAP resource above the service, whose policy reaches every Cloud
// Run service of the project in the region: projects/{number}/iap_web/cloud_run-{region}.
func (s Service) IAPRegion() string {
	return fmt.Sprintf("projects/%d/iap_web/cloud_run-%s", s.Number, s.Location)
}

// IAPWeb is the project's IAP resource, whose policy reaches every IAP-protected web resource of
// the project: projects/{number}/iap_web.
func (s Service) IAPWeb() string { return fmt.Sprintf("projects/%d/iap_web", s.Number) }

// IAPServiceAgentEmail is the identity IAP calls the service as.
func (s Service) IAPServiceAgentEmail() string {
	return fmt.Sprintf("service-%d@gcp-sa-iap.iam.gserviceaccount.com", s.Number)
}

// IAPServiceAgent is that identity as an IAM member.
func (s Service) IAPServiceAgent() string { return "serviceAccount:" + s.IAPServiceAgentEmail() }

// quota is the service's project and region as api spells the project (Cloud Run by ID, IAP by
// number): the unit of Google's quotas, and of runguard's pacing and its metrics' scope label.
func (s Service) quota(api string) string {
	if api == "iap" {
		return fmt.Sprintf("%d/%s", s.Number, s.Location)
	}
	return s.Project + "/" + s.Location
}
