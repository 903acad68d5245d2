package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/code"
	// The details statuses carry must resolve when their JSON is read back.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// envelope is Google's JSON error body: google.rpc.Status with the HTTP
// status in code and the canonical code's name in status
// (cloud.google.com/apis/design/errors#http_mapping). It has exactly the
// fields the REST clients' parser (gax-go apierror, a strict protojson
// decode of the same shape) accepts; any other field would make them drop
// the details.
type envelope struct {
	Error envelopeStatus `json:"error"`
}

// envelopeStatus is the inside of envelope.
type envelopeStatus struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []json.RawMessage `json:"details,omitempty"`
}

// httpStatus is the HTTP status Google answers a canonical code with, per
// the mapping in google/rpc/code.proto.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError // UNKNOWN, INTERNAL, DATA_LOSS
}

// codeFromHTTP classifies an HTTP error that carried no google.rpc.Status
// (vanguard's own routing and protocol errors).
func codeFromHTTP(httpCode int) codes.Code {
	switch httpCode {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusRequestEntityTooLarge:
		return codes.InvalidArgument
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return codes.NotFound
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return codes.Unimplemented
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}

// statusFromTranscoder reads the error vanguard wrote: a google.rpc.Status
// in JSON (the gRPC handler's status, details included), or for errors of
// its own, whatever text it wrote.
func statusFromTranscoder(httpCode int, body []byte) *status.Status {
	var st spb.Status
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &st); err == nil && st.GetCode() != 0 {
		return status.FromProto(&st)
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = http.StatusText(httpCode)
	}
	return status.New(codeFromHTTP(httpCode), msg)
}

// newEnvelope builds Google's error body for st.
func newEnvelope(st *status.Status) envelope {
	e := envelope{Error: envelopeStatus{
		Code:    httpStatus(st.Code()),
		Message: st.Message(),
		Status:  code.Code(st.Code()).String(),
	}}
	for _, d := range st.Proto().GetDetails() {
		// Each detail is an Any: {"@type": ..., fields of the message}.
		if b, err := protojson.Marshal(d); err == nil {
			e.Error.Details = append(e.Error.Details, b)
		}
	}
	return e
}

// writeStatus answers with st in Google's envelope.
func writeStatus(w http.ResponseWriter, st *status.Status, pretty bool) {
	body, err := json.Marshal(newEnvelope(st))
	if err != nil {
		body = []byte(`{"error":{"code":500,"message":"cannot encode the error","status":"INTERNAL"}}`)
	}
	writeJSON(w, httpStatus(st.Code()), body, pretty)
}

// writeJSON writes a JSON body as Google does: UTF-8, indented unless
// prettyPrint=false, then compact.
func writeJSON(w http.ResponseWriter, httpCode int, body []byte, pretty bool) {
	var out bytes.Buffer
	if pretty {
		if json.Indent(&out, body, "", "  ") == nil {
			out.WriteByte('\n')
			body = out.Bytes()
		}
	} else if json.Compact(&out, body) == nil {
		body = out.Bytes()
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(httpCode)
	_, _ = w.Write(body)
}
