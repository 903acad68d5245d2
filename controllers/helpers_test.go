package controllers_test

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
)

type gcpfakeService = gcpfake.Service

var errNotYet = errors.New("not yet")

func fakeCalls() []gcpfake.Call { return fake.Calls() }

func equalStatus(a, b *iapv1alpha1.ProtectedServiceStatus) bool {
	return equality.Semantic.DeepEqual(a, b)
}

func existsErr(ns, name string) error {
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &iapv1alpha1.ProtectedService{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s/%s still exists", ns, name)
}
