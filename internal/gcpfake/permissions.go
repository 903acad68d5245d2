package gcpfake

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
// caller wrote: the name the IAM policy store keys it by (a service with the project ID, an IAP
// resource with the number). Other names, and names in a project that is not seeded, are kept
// as written.
func (s *Server) resourceKey(resource string) string { return s.policies.Canonical(resource) }
