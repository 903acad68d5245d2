package gcp

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CallError is a failed call with what it was doing and the IAM permission the call needs, so a
// PERMISSION_DENIED without details can still say which permission to grant.
type CallError struct {
	Op, Resource, Permission string
	Err                      error
}

func (e *CallError) Error() string { return e.Op + " " + e.Resource + ": " + e.Err.Error() }
func (e *CallError) Unwrap() error { return e.Err }

func callError(op, resource, permission string, err error) error {
	return &CallError{Op: op, Resource: resource, Permission: permission, Err: err}
}

// Permission is the IAM permission a failed call needs: the one Google named in its
// ErrorInfo, or else the one the call is documented to need.
func Permission(err error) string {
	if info := errorInfo(err); info != nil && info.GetMetadata()["permission"] != "" {
		return info.GetMetadata()["permission"]
	}
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Permission
	}
	return ""
}

// Resource is the Google resource a failed call named.
func Resource(err error) string {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Resource
	}
	return ""
}

// Class is what the controller should do about a failed call.
type Class int

const (
	// Transient failures are retried with capped exponential backoff.
	Transient Class = iota
	// Conflict means someone else wrote between our read and write (ABORTED): redo the read-modify-write.
	Conflict
	// NotFound means the resource is gone.
	NotFound
	// APIDisabled means the API is switched off in the project; a human must enable it.
	APIDisabled
	// PermissionDenied means runguard's identity lacks a permission; a human must grant it.
	PermissionDenied
	// Rejected means Google refused the request as invalid (INVALID_ARGUMENT, FAILED_PRECONDITION),
	// for example because of one member; retrying the same request will not help.
	Rejected
	// Unauthenticated means runguard's credentials are missing or broken (e.g. Workload Identity
	// not set up); a human must fix them.
	Unauthenticated
)

// Classify maps a Google error to a Class by gRPC code and google.rpc.ErrorInfo reason.
func Classify(err error) Class {
	st, ok := status.FromError(unwrapStatus(err))
	if !ok {
		return Transient
	}
	switch st.Code() {
	case codes.Aborted:
		return Conflict
	case codes.NotFound:
		return NotFound
	case codes.PermissionDenied:
		// A disabled API arrives as PERMISSION_DENIED; only its ErrorInfo reason tells them apart.
		if Reason(err) == "SERVICE_DISABLED" {
			return APIDisabled
		}
		return PermissionDenied
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return Rejected
	case codes.Unauthenticated:
		return Unauthenticated
	default:
		// UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN, CANCELED...
		return Transient
	}
}

// Code is the gRPC code of err, or Unknown.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if st, ok := status.FromError(unwrapStatus(err)); ok {
		return st.Code()
	}
	return codes.Unknown
}

// Reason is the google.rpc.ErrorInfo reason attached to err, if any.
func Reason(err error) string {
	if info := errorInfo(err); info != nil {
		return info.GetReason()
	}
	return ""
}

// DisabledAPI is the API a SERVICE_DISABLED error names (ErrorInfo metadata "service").
func DisabledAPI(err error) string {
	if info := errorInfo(err); info != nil {
		return info.GetMetadata()["service"]
	}
	return ""
}

// RetryDelay is the delay a google.rpc.RetryInfo detail asks for, if any.
func RetryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(unwrapStatus(err))
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// Message is Google's own message without our wrapping.
func Message(err error) string {
	if st, ok := status.FromError(unwrapStatus(err)); ok {
		return st.Message()
	}
	return err.Error()
}

// MentionsMember reports whether Google's message names member (compared case-insensitively,
// since IAM echoes email members lower-cased).
func MentionsMember(err error, member string) bool {
	msg := strings.ToLower(Message(err))
	m := strings.ToLower(member)
	if strings.Contains(msg, m) {
		return true
	}
	if i := strings.Index(m, ":"); i >= 0 && !strings.HasPrefix(m, "principal") {
		return strings.Contains(msg, m[i+1:])
	}
	return false
}

func errorInfo(err error) *errdetails.ErrorInfo {
	st, ok := status.FromError(unwrapStatus(err))
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// unwrapStatus finds the innermost error carrying a gRPC status through our fmt.Errorf wrapping.
func unwrapStatus(err error) error {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.(error)
	}
	return err
}

// Op is what a failed call was doing ("read Cloud Run service"), or "call Google".
func Op(err error) string {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Op
	}
	return "call Google"
}
