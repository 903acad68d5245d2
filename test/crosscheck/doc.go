// Package crosscheck holds one test: two independent implementations of "who gets through IAP to
// a Cloud Run service" must agree. Each case is real state in the fake (an IAP policy on a
// service, grants on the region's and project's IAP resources, the project, its folders and its
// organization, access levels in the organization's access policy), then decided twice: by the
// fake's front door (internal/gcpfake/frontdoor), over HTTP with the test headers, and by
// runguard's internal/reach over the same bindings read back from the fake. Each case cites the
// Google documentation its expected answer comes from.
package crosscheck
