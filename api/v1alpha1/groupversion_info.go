// Package v1alpha1 contains the ProtectedService API of the iap.runguard.dev group.
// +kubebuilder:object:generate=true
// +groupName=iap.runguard.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the API in this package.
	GroupVersion = schema.GroupVersion{Group: "iap.runguard.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the API's types with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the API's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
