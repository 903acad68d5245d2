package gcpfake

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runguard/runguard/internal/gcpfake/frontdoor"
	"github.com/runguard/runguard/internal/gcpfake/names"
)

// FrontDoorHandler is the fake's Identity-Aware Proxy in front of its Cloud Run services
// (package frontdoor): a request whose Host is a service's URL host is decided from its test
// headers and the fake's stored policies and access levels. Options.FrontDoorAddr serves it.
func (s *Server) FrontDoorHandler() http.Handler {
	return frontdoor.New(frontDoorWorld{s}, s.logger)
}

// FrontDoorEndpoint is host:port of the front door, "" if Options.FrontDoorAddr was empty.
// frontdoor.Transport(endpoint) sends a service's URI there.
func (s *Server) FrontDoorEndpoint() string {
	if s.frontLis == nil {
		return ""
	}
	return s.frontLis.Addr().String()
}

// startFrontDoor serves the front door on addr.
func (s *Server) startFrontDoor(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	s.frontLis = lis
	s.front = &http.Server{Handler: s.FrontDoorHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.front.Serve(lis) }()
	return nil
}

// stopFrontDoor ends the front door's requests within 2 seconds.
func (s *Server) stopFrontDoor() {
	if s.front == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.front.Shutdown(ctx) != nil {
		_ = s.front.Close()
	}
}

// frontDoorWorld is what the front door reads of the fake: its services by URL, the one IAM
// store, the role table, the access levels and the clock.
type frontDoorWorld struct{ s *Server }

var _ frontdoor.World = frontDoorWorld{}

// ServiceByHost finds the service whose uri, or one of its urls, has the host.
func (w frontDoorWorld) ServiceByHost(host string) (frontdoor.Service, bool) {
	for _, svc := range w.s.run.List() {
		if !answersAt(svc, host) {
			continue
		}
		n, _ := names.ParseService(svc.GetName())
		p, ok := w.s.dir.Lookup(n.Project)
		if !ok {
			return frontdoor.Service{}, false
		}
		return frontdoor.Service{Name: svc.GetName(), ProjectID: p.ID, ProjectNumber: p.Number, Region: n.Location, ID: n.ID,
			IAPEnabled: svc.GetIapEnabled(), Ancestors: w.s.tree.Chain(p.Parent)}, true
	}
	return frontdoor.Service{}, false
}

func answersAt(svc *runpb.Service, host string) bool {
	for _, u := range append([]string{svc.GetUri()}, svc.GetUrls()...) {
		if parsed, err := url.Parse(u); err == nil && strings.EqualFold(parsed.Hostname(), host) {
			return true
		}
	}
	return false
}

func (w frontDoorWorld) Policy(resource string) (*iampb.Policy, bool) { return w.s.Policy(resource) }

func (w frontDoorWorld) RolePermissions(role string) ([]string, bool) {
	r, ok := w.s.access.Role(role)
	return r.Permissions, ok
}

// AccessLevels are the levels of the organization's unscoped access policy: IAP accepts levels
// of the organization-level policy only (docs/google-apis-acm.md).
func (w frontDoorWorld) AccessLevels(organization string) map[string]*accesscontextmanagerpb.AccessLevel {
	out := map[string]*accesscontextmanagerpb.AccessLevel{}
	for _, p := range w.s.acm.Policies() {
		if organization == "" || p.GetParent() != organization || len(p.GetScopes()) > 0 {
			continue
		}
		for _, l := range w.s.acm.Levels(p.GetName()) {
			out[l.GetName()] = l
		}
	}
	return out
}

func (w frontDoorWorld) Now() time.Time {
	if w.s.run.Now != nil {
		return w.s.run.Now()
	}
	return time.Now()
}
