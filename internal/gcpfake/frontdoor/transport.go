package frontdoor

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Transport sends every request to the front door at addr over plain HTTP, whatever its URL's
// host and scheme: a client can then ask for a service's https://….run.app URI as Cloud Run
// reports it, and the Host header stays the URI's, which is how the front door finds the
// service.
func Transport(addr string) http.RoundTripper {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return toFrontDoor{next: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}}
}

type toFrontDoor struct{ next http.RoundTripper }

func (t toFrontDoor) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "https" {
		req = req.Clone(req.Context())
		req.URL.Scheme = "http"
	}
	return t.next.RoundTrip(req)
}
