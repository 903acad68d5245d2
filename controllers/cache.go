package controllers

import (
	"unique"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// CacheTransform is what the manager's cache does to each object before keeping it: managedFields
// go (nearly half of each object, never read), and a ProtectedService's strings that most objects
// share — condition types, reasons and messages, enums, namespaces, projects, regions, members —
// are kept once instead of once per object. Each object is decoded from its own JSON, so without
// this 10,000 objects hold 10,000 copies of "Google Cloud matches the spec.". Go's unique package
// drops a copy no handle refers to at a collection, so objects decoded after one may start a new
// copy: strings are shared among the objects decoded together, as a restart's listing or a large
// adoption decodes them — where the memory goes.
func CacheTransform() toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	return func(in any) (any, error) {
		out, err := strip(in)
		if ps, ok := out.(*iapv1alpha1.ProtectedService); ok && err == nil {
			shareStrings(ps)
		}
		return out, err
	}
}

// shareStrings replaces the strings objects usually have in common by one shared copy. Names,
// UIDs, URIs and resource names are left alone: no other object has them.
func shareStrings(ps *iapv1alpha1.ProtectedService) {
	share(&ps.APIVersion)
	share(&ps.Kind)
	share(&ps.Namespace)
	for i := range ps.Finalizers {
		share(&ps.Finalizers[i])
	}
	spec := &ps.Spec
	share((*string)(&spec.Mode))
	share((*string)(&spec.PublicAccess))
	share((*string)(&spec.BindingPolicy))
	share((*string)(&spec.DeletionPolicy))
	share(&spec.Service.Project)
	share(&spec.Service.Location)
	for g := range spec.AccessGroups {
		group := &spec.AccessGroups[g]
		share(&group.Name)
		for m := range group.Members {
			share((*string)(&group.Members[m]))
		}
	}
	status := &ps.Status
	share(&status.ProjectNumber)
	for c := range status.Conditions {
		cond := &status.Conditions[c]
		share(&cond.Type)
		share((*string)(&cond.Status))
		share(&cond.Reason)
		share(&cond.Message)
	}
	for b := range status.ManagedBindings {
		binding := &status.ManagedBindings[b]
		share(&binding.Group)
		share(&binding.Role)
		share(&binding.ConditionTitle)
		for m := range binding.Members {
			share(&binding.Members[m])
		}
	}
}

func share(s *string) {
	if *s != "" {
		*s = unique.Make(*s).Value()
	}
}
