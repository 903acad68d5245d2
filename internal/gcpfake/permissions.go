package gcpfake

import (
	"strings"
	"sync"

	"cloud.google.com/go/iam/apiv1/iampb"
)

// denials are permissions the caller is said to lack on a resource: TestIamPermissions leaves
// them out of its answer. The fake has no identities yet, so the calls themselves still
// succeed; pair a denial with a PERMISSION_DENIED FaultRule to deny the call too.
type denials struct {
	mu sync.Mutex
	m  map[string]map[string]bool // resource → permission
}

// filter removes denied permissions from a TestIamPermissions answer.
func (d *denials) filter(method, resource string, resp any) any {
	r, ok := resp.(*iampb.TestIamPermissionsResponse)
	if !ok || !strings.HasSuffix(method, ".TestIamPermissions") {
		return resp
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.m[resource]) == 0 {
		return resp
	}
	out := &iampb.TestIamPermissionsResponse{}
	for _, p := range r.GetPermissions() {
		if !d.m[resource][p] {
			out.Permissions = append(out.Permissions, p)
		}
	}
	return out
}

// DenyPermission makes TestIamPermissions on resource (a service's full name or an IAP
// resource, as the caller writes it) answer without permission.
func (s *Server) DenyPermission(resource, permission string) {
	s.denials.mu.Lock()
	defer s.denials.mu.Unlock()
	if s.denials.m == nil {
		s.denials.m = map[string]map[string]bool{}
	}
	if s.denials.m[resource] == nil {
		s.denials.m[resource] = map[string]bool{}
	}
	s.denials.m[resource][permission] = true
}

// AllowPermission undoes DenyPermission.
func (s *Server) AllowPermission(resource, permission string) {
	s.denials.mu.Lock()
	defer s.denials.mu.Unlock()
	delete(s.denials.m[resource], permission)
}
