// Package apierr builds gRPC statuses shaped like the ones Google's APIs
// return: a code, a message, and the google.rpc detail messages
// (ErrorInfo, BadRequest, RetryInfo, Help) where Google attaches them.
package apierr

import (
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// New is status.Error with optional details.
func New(c codes.Code, msg string, details ...protoadapt.MessageV1) error {
	st := status.New(c, msg)
	if len(details) > 0 {
		if withDetails, err := st.WithDetails(details...); err == nil {
			st = withDetails
		}
	}
	return st.Err()
}

// FieldViolation is one google.rpc.BadRequest entry.
type FieldViolation struct{ Field, Description string }

// BadRequest is INVALID_ARGUMENT carrying a google.rpc.BadRequest.
func BadRequest(msg string, violations ...FieldViolation) error {
	br := &errdetails.BadRequest{}
	for _, v := range violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
	}
	return New(codes.InvalidArgument, msg, br)
}

// ServiceDisabled is what a call to an API that is not enabled in the
// consumer project returns: PERMISSION_DENIED with ErrorInfo reason
// SERVICE_DISABLED and a Help link to the activation page.
func ServiceDisabled(service, title string, projectNumber int64) error {
	url := fmt.Sprintf("https://console.developers.google.com/apis/api/%s/overview?project=%d", service, projectNumber)
	msg := fmt.Sprintf("%s has not been used in project %d before or it is disabled. Enable it by visiting %s then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.", title, projectNumber, url)
	return New(codes.PermissionDenied, msg,
		&errdetails.ErrorInfo{
			Reason: "SERVICE_DISABLED",
			Domain: "googleapis.com",
			Metadata: map[string]string{
				"service":       service,
				"consumer":      fmt.Sprintf("projects/%d", projectNumber),
				"activationUrl": url,
				"serviceTitle":  title,
				"containerInfo": fmt.Sprint(projectNumber),
			},
		},
		&errdetails.LocalizedMessage{Locale: "en-US", Message: msg},
		&errdetails.Help{Links: []*errdetails.Help_Link{{Description: "Google developers console API activation", Url: url}}},
	)
}

// PermissionDenied is IAM's denial, which Google also returns for a
// resource that does not exist so as not to reveal whether it does.
func PermissionDenied(permission, resource, msg string) error {
	return New(codes.PermissionDenied, msg, &errdetails.ErrorInfo{
		Reason:   "IAM_PERMISSION_DENIED",
		Domain:   "iam.googleapis.com",
		Metadata: map[string]string{"permission": permission, "resource": resource},
	})
}

// IAMPermissionDenied is IAM's denial in the words most APIs use (Resource Manager:
// CrowdStrike/falcon-integration-gateway#98), naming the resource as shown, which may differ
// from the resource name in the ErrorInfo (Resource Manager shows the full resource name).
func IAMPermissionDenied(permission, resource, shown string) error {
	return PermissionDenied(permission, resource, fmt.Sprintf("Permission '%s' denied on resource '%s' (or it may not exist).", permission, shown))
}

// RunPermissionDenied is Cloud Run's wording of IAM's denial
// (google-github-actions/deploy-cloudrun#182).
func RunPermissionDenied(permission, resource string) error {
	return PermissionDenied(permission, resource, fmt.Sprintf("Permission '%s' denied on resource '%s' (or resource may not exist).", permission, resource))
}

// Injected is the status a fault rule produces. RESOURCE_EXHAUSTED carries
// the ErrorInfo Google attaches to quota errors; any code may carry a
// RetryInfo.
func Injected(c codes.Code, msg, api string, retryDelay time.Duration) error {
	if msg == "" {
		msg = defaultMessage(c)
	}
	var details []protoadapt.MessageV1
	if c == codes.ResourceExhausted {
		details = append(details, &errdetails.ErrorInfo{
			Reason:   "RATE_LIMIT_EXCEEDED",
			Domain:   "googleapis.com",
			Metadata: map[string]string{"service": api},
		})
	}
	if retryDelay > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(retryDelay)})
	}
	return New(c, msg, details...)
}

func defaultMessage(c codes.Code) string {
	switch c {
	case codes.Unavailable:
		return "The service is currently unavailable."
	case codes.ResourceExhausted:
		return "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of the service."
	case codes.Internal:
		return "Internal error encountered."
	case codes.DeadlineExceeded:
		return "Deadline expired before operation could complete."
	case codes.Aborted:
		return "The operation was aborted."
	case codes.PermissionDenied:
		return "The caller does not have permission"
	case codes.NotFound:
		return "Requested entity was not found."
	case codes.InvalidArgument:
		return "Request contains an invalid argument."
	case codes.FailedPrecondition:
		return "Precondition check failed."
	case codes.Unauthenticated:
		return "Request had invalid authentication credentials."
	}
	return c.String()
}

// Quota names one rate quota as Google reports it when a call exceeds it.
type Quota struct {
	Service     string // "run.googleapis.com"
	MetricTitle string // "Write requests"
	LimitTitle  string // "Write requests per minute per region"
	Metric      string // "run.googleapis.com/write_regional"
	Limit       string // "WritePerMinutePerProjectRegion"
	Unit        string // "1/min/{project}/{region}"
	PerMinute   int
	Location    string // the region the quota is counted in
	// Organization: the quota is counted per organization, not per project.
	Organization bool
}

// QuotaExceeded is Google's answer to a call above a rate quota of the consumer project:
// RESOURCE_EXHAUSTED in the words of Google's quota system, an ErrorInfo RATE_LIMIT_EXCEEDED
// naming the quota, a Help link, and a RetryInfo saying when a call would be admitted.
func QuotaExceeded(q Quota, consumerNumber int64, retryDelay time.Duration) error {
	kind, collection := "project_number", "projects"
	if q.Organization {
		kind, collection = "organization_number", "organizations"
	}
	msg := fmt.Sprintf("Quota exceeded for quota metric '%s' and limit '%s' of service '%s' for consumer '%s:%d'.",
		q.MetricTitle, q.LimitTitle, q.Service, kind, consumerNumber)
	return New(codes.ResourceExhausted, msg,
		&errdetails.ErrorInfo{
			Reason: "RATE_LIMIT_EXCEEDED",
			Domain: "googleapis.com",
			Metadata: map[string]string{
				"service":           q.Service,
				"consumer":          fmt.Sprintf("%s/%d", collection, consumerNumber),
				"quota_metric":      q.Metric,
				"quota_limit":       q.Limit,
				"quota_limit_value": fmt.Sprint(q.PerMinute),
				"quota_location":    q.Location,
				"quota_unit":        q.Unit,
			},
		},
		&errdetails.Help{Links: []*errdetails.Help_Link{{Description: "Request a higher quota limit.", Url: "https://cloud.google.com/docs/quotas/help/request_increase"}}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retryDelay)},
	)
}
