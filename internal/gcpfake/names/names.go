// Package names parses and builds the resource names the fake serves:
// Cloud Run services and operations and IAP's Cloud Run resources.
package names

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	serviceIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	regionRE    = regexp.MustCompile(`^[a-z]+(-[a-z]+)+[0-9]+$`)
	segmentRE   = regexp.MustCompile(`^[^/]+$`)
)

// MaxServiceIDLength is exclusive: Cloud Run v2 service IDs "must contain
// fewer than 50 characters".
const MaxServiceIDLength = 50

// ServiceIDRule is Cloud Run's description of a valid service ID.
const ServiceIDRule = "only lowercase, digits, and hyphens; must begin with letter, and cannot end with hyphen; must be less than 50 characters."

// ValidServiceID applies Cloud Run v2's rule for service IDs.
func ValidServiceID(id string) bool {
	return len(id) < MaxServiceIDLength && serviceIDRE.MatchString(id)
}

// ValidRegion accepts region-shaped strings (us-central1, europe-west4).
func ValidRegion(l string) bool { return regionRE.MatchString(l) }

// Service is a parsed projects/{project}/locations/{location}/services/{service}.
type Service struct{ Project, Location, ID string }

func (s Service) String() string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", s.Project, s.Location, s.ID)
}

// Parent is projects/{project}/locations/{location}.
func (s Service) Parent() string {
	return fmt.Sprintf("projects/%s/locations/%s", s.Project, s.Location)
}

// ParseService splits a service name. It checks the shape only; the
// service ID rule is for the caller to apply.
func ParseService(name string) (Service, bool) {
	p := strings.Split(name, "/")
	if len(p) != 6 || p[0] != "projects" || p[2] != "locations" || p[4] != "services" {
		return Service{}, false
	}
	for _, seg := range []string{p[1], p[3], p[5]} {
		if !segmentRE.MatchString(seg) {
			return Service{}, false
		}
	}
	return Service{Project: p[1], Location: p[3], ID: p[5]}, true
}

// ParseLocation splits projects/{project}/locations/{location}.
func ParseLocation(name string) (project, location string, ok bool) {
	p := strings.Split(name, "/")
	if len(p) != 4 || p[0] != "projects" || p[2] != "locations" || p[1] == "" || p[3] == "" {
		return "", "", false
	}
	return p[1], p[3], true
}

// Operation builds projects/{project}/locations/{location}/operations/{id}.
func Operation(project, location, id string) string {
	return fmt.Sprintf("projects/%s/locations/%s/operations/%s", project, location, id)
}

// ParseOperation splits an operation name.
func ParseOperation(name string) (project, location, id string, ok bool) {
	p := strings.Split(name, "/")
	if len(p) != 6 || p[0] != "projects" || p[2] != "locations" || p[4] != "operations" || p[1] == "" || p[3] == "" || p[5] == "" {
		return "", "", "", false
	}
	return p[1], p[3], p[5], true
}

// IAPService is projects/{number}/iap_web/cloud_run-{location}/services/{service},
// the IAP resource whose policy says who may pass IAP to a Cloud Run service.
func IAPService(projectNumber int64, location, service string) string {
	return fmt.Sprintf("projects/%d/iap_web/cloud_run-%s/services/%s", projectNumber, location, service)
}

// IAPRegion is projects/{number}/iap_web/cloud_run-{location}, the
// region-wide IAP resource.
func IAPRegion(projectNumber int64, location string) string {
	return fmt.Sprintf("projects/%d/iap_web/cloud_run-%s", projectNumber, location)
}

// IAPWeb is projects/{number}/iap_web, the IAP resource of every web resource in a project
// (gcloud iap web … without --resource-type).
func IAPWeb(projectNumber int64) string { return fmt.Sprintf("projects/%d/iap_web", projectNumber) }

// IAPResource is a parsed IAP resource above or at a Cloud Run service: Service is empty for
// the region-wide resource, Location and Service for the project's iap_web; Project is the
// segment as written (ID or number).
type IAPResource struct{ Project, Location, Service string }

// IAPScope is which of the IAP resources above a Cloud Run service a name is.
type IAPScope int

const (
	// IAPServiceScope is projects/{n}/iap_web/cloud_run-{region}/services/{service}.
	IAPServiceScope IAPScope = iota
	// IAPRegionScope is projects/{n}/iap_web/cloud_run-{region}.
	IAPRegionScope
	// IAPProjectScope is projects/{n}/iap_web.
	IAPProjectScope
)

// Scope says which level the resource is.
func (r IAPResource) Scope() IAPScope {
	switch {
	case r.Location == "":
		return IAPProjectScope
	case r.Service == "":
		return IAPRegionScope
	}
	return IAPServiceScope
}

// Named is the resource's name in a project-number form.
func (r IAPResource) Named(projectNumber int64) string {
	switch r.Scope() {
	case IAPProjectScope:
		return IAPWeb(projectNumber)
	case IAPRegionScope:
		return IAPRegion(projectNumber, r.Location)
	}
	return IAPService(projectNumber, r.Location, r.Service)
}

// ParseIAP accepts the IAP resources above and at a Cloud Run service: the project's iap_web,
// the region-wide cloud_run-{region} and a service's.
func ParseIAP(resource string) (IAPResource, bool) {
	p := strings.Split(resource, "/")
	if len(p) < 3 || p[0] != "projects" || p[1] == "" || p[2] != "iap_web" {
		return IAPResource{}, false
	}
	if len(p) == 3 {
		return IAPResource{Project: p[1]}, true
	}
	if (len(p) != 4 && len(p) != 6) || !strings.HasPrefix(p[3], "cloud_run-") {
		return IAPResource{}, false
	}
	r := IAPResource{Project: p[1], Location: strings.TrimPrefix(p[3], "cloud_run-")}
	if r.Location == "" {
		return IAPResource{}, false
	}
	if len(p) == 6 {
		if p[4] != "services" || p[5] == "" {
			return IAPResource{}, false
		}
		r.Service = p[5]
	}
	return r, true
}
