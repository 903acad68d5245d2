package gcp

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
)

// impersonate reports Google's answers as text; tokenError must read the status back out of it,
// so a refusal stalls and an outage retries.
func TestTokenError_ReadsGoogleStatusFromImpersonateText(t *testing.T) {
	for _, tc := range []struct {
		text      string
		wantCode  codes.Code
		wantClass Class
		wantMsg   string
	}{
		{"impersonate: status code 403: {\n  \"error\": {\n    \"code\": 403,\n    \"message\": \"Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).\",\n    \"status\": \"PERMISSION_DENIED\"\n  }\n}\n",
			codes.PermissionDenied, PermissionDenied, "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."},
		{`impersonate: status code 404: {"error": {"code": 404, "message": "Not found; Gaia id not found for email x@p.iam.gserviceaccount.com", "status": "NOT_FOUND"}}`,
			codes.NotFound, NotFound, "Not found; Gaia id not found for email x@p.iam.gserviceaccount.com"},
		{`impersonate: status code 503: upstream connect error`, codes.Unavailable, Transient, "upstream connect error"},
		{`impersonate: status code 429: {"error": {"message": "Quota exceeded"}}`, codes.ResourceExhausted, Transient, "Quota exceeded"},
		{`impersonate: unable to generate access token: dial tcp 127.0.0.1:1: connect: connection refused`, codes.Unknown, Transient, ""},
	} {
		err := tokenError(errors.New(tc.text))
		if got := Code(err); got != tc.wantCode {
			t.Errorf("%q: code %v, want %v", tc.text, got, tc.wantCode)
		}
		if got := Classify(err); got != tc.wantClass {
			t.Errorf("%q: class %v, want %v", tc.text, got, tc.wantClass)
		}
		if tc.wantMsg != "" && Message(err) != tc.wantMsg {
			t.Errorf("%q: message %q, want %q", tc.text, Message(err), tc.wantMsg)
		}
	}
}
