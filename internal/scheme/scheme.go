// Package scheme builds the runtime scheme the manager and the tests share.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

// New returns a scheme with the built-in Kubernetes types and runguard's API.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := iapv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}
