package controllers_test

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

func isReady(w *world, name string) bool {
	ps := &iapv1alpha1.ProtectedService{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, ps); err != nil {
		return false
	}
	c := meta.FindStatusCondition(ps.Status.Conditions, iapv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && ps.Status.ObservedGeneration == ps.Generation
}

// discardRecorder drops events (the benchmark measures reconciling, not event delivery).
type discardRecorder struct{}

func (discardRecorder) Eventf(runtime.Object, runtime.Object, string, string, string, string, ...any) {
}
