package rest

import (
	"net/http"
	"net/url"
	"testing"

	"google.golang.org/grpc/codes"
)

func TestTakeSystemParams_StripsAltAndPrettyPrintAndKeepsRequestFields(t *testing.T) {
	for _, tc := range []struct {
		query, wantQuery string
		want             systemParams
		wantErr          bool
	}{
		{query: "", want: systemParams{pretty: true}},
		{query: "alt=json&prettyPrint=false", want: systemParams{}},
		{query: "%24alt=json%3Benum-encoding%3Dint&updateMask=iapEnabled", wantQuery: "updateMask=iapEnabled", want: systemParams{enumNumbers: true, pretty: true}},
		{query: "$prettyPrint=true&validateOnly=true", wantQuery: "validateOnly=true", want: systemParams{pretty: true}},
		{query: "updateMask=&etag=", wantQuery: "etag=", want: systemParams{pretty: true}},
		{query: "alt=proto", wantErr: true},
		{query: "alt=json%3Benum-encoding%3Dname", wantErr: true},
		{query: "prettyPrint=maybe", wantErr: true},
	} {
		u := &url.URL{Path: "/v2/x", RawQuery: tc.query}
		got, err := takeSystemParams(u)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: err = %v, want error %v", tc.query, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		if got != tc.want || u.RawQuery != tc.wantQuery {
			t.Errorf("%q: %+v, query %q; want %+v, %q", tc.query, got, u.RawQuery, tc.want, tc.wantQuery)
		}
	}
}

func TestHTTPStatus_FollowsTheMappingInCodeProto(t *testing.T) {
	want := map[codes.Code]int{
		codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
		codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409,
		codes.PermissionDenied: 403, codes.ResourceExhausted: 429, codes.FailedPrecondition: 400,
		codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501, codes.Internal: 500,
		codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
	}
	for c, code := range want {
		if got := httpStatus(c); got != code {
			t.Errorf("%v → %d, want %d", c, got, code)
		}
	}
}

func TestStatusFromTranscoder_KeepsTheStatusOrClassifiesTheHTTPError(t *testing.T) {
	st := statusFromTranscoder(http.StatusConflict, []byte(`{"code": 10, "message": "stale", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]}`))
	if st.Code() != codes.Aborted || st.Message() != "stale" || len(st.Details()) != 1 {
		t.Errorf("google.rpc.Status body → %v %q %v", st.Code(), st.Message(), st.Details())
	}
	st = statusFromTranscoder(http.StatusUnsupportedMediaType, []byte("could not classify protocol\n"))
	if st.Code() != codes.InvalidArgument || st.Message() != "could not classify protocol" {
		t.Errorf("text body → %v %q", st.Code(), st.Message())
	}
}
