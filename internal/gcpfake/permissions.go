package gcpfake

import "github.com/runguard/runguard/internal/gcpfake/names"

// DenyPermission adds a deny rule: no caller may use permission on resource (a service's full
// name or an IAP resource, as the caller writes it, with the project's ID or number), whatever
// it is granted, with access control on or off. The calls needing it are denied with IAM's
// PERMISSION_DENIED and TestIamPermissions leaves it out, as for a permission not granted.
func (s *Server) DenyPermission(resource, permission string) {
	s.access.Deny(s.resourceKey(resource), permission)
}

// AllowPermission removes the deny rule DenyPermission added.
func (s *Server) AllowPermission(resource, permission string) {
	s.access.Undeny(s.resourceKey(resource), permission)
}

// resourceKey is the one name deny rules know a resource by, whichever form of its project the
// caller wrote: a service with the project ID (as the store keys it), an IAP resource with the
// number (as IAP names it). Other names, and names in a project that is not seeded, are kept as
// written.
func (s *Server) resourceKey(resource string) string {
	if c, err := s.canonicalService(resource); err == nil {
		return c
	}
	r, ok := names.ParseIAP(resource)
	if !ok {
		return resource
	}
	p, ok := s.dir.Lookup(r.Project)
	switch {
	case !ok:
		return resource
	case r.Service == "":
		return names.IAPRegion(p.Number, r.Location)
	}
	return names.IAPService(p.Number, r.Location, r.Service)
}
