package controllers

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
)

func TestClaimHolder(t *testing.T) {
	at := func(sec int) metav1.Time { return metav1.NewTime(time.Date(2026, 1, 1, 0, 0, sec, 0, time.UTC)) }
	obj := func(ns, name string, created metav1.Time) iapv1alpha1.ProtectedService {
		return iapv1alpha1.ProtectedService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: created}}
	}
	bound := func(ps iapv1alpha1.ProtectedService) iapv1alpha1.ProtectedService {
		ps.Status.ManagedBindings = []iapv1alpha1.ManagedBinding{{Group: "devs", Role: "roles/iap.httpsResourceAccessor", ConditionTitle: "runguard:devs"}}
		return ps
	}
	if claimHolder(nil) != nil {
		t.Error("claimHolder(nil) != nil")
	}
	for _, tc := range []struct {
		name  string
		items []iapv1alpha1.ProtectedService
		want  string
	}{
		{"single", []iapv1alpha1.ProtectedService{obj("a", "x", at(5))}, "a/x"},
		{"oldest wins whatever the order", []iapv1alpha1.ProtectedService{obj("a", "x", at(9)), obj("z", "z", at(1)), obj("m", "m", at(5))}, "z/z"},
		{"same second: namespace first", []iapv1alpha1.ProtectedService{obj("team-b", "a", at(3)), obj("team-a", "z", at(3))}, "team-a/z"},
		{"same second and namespace: name", []iapv1alpha1.ProtectedService{obj("team", "b", at(3)), obj("team", "a", at(3))}, "team/a"},
		{"older beats a smaller namespace", []iapv1alpha1.ProtectedService{obj("a", "a", at(4)), obj("b", "b", at(3))}, "b/b"},
		{"same second: the one that bound access keeps it", []iapv1alpha1.ProtectedService{obj("team-a", "x", at(3)), bound(obj("team-b", "x", at(3)))}, "team-b/x"},
		{"bound beats older (sticky)", []iapv1alpha1.ProtectedService{obj("a", "x", at(1)), bound(obj("b", "x", at(7)))}, "b/x"},
	} {
		h := claimHolder(slices.Clone(tc.items))
		if h == nil || h.Namespace+"/"+h.Name != tc.want {
			t.Errorf("%s: holder %v, want %s", tc.name, h, tc.want)
		}
		// Every replica, whatever order its cache lists them in, agrees.
		rev := slices.Clone(tc.items)
		slices.Reverse(rev)
		if h2 := claimHolder(rev); h2 == nil || h2.Namespace+"/"+h2.Name != tc.want {
			t.Errorf("%s reversed: holder %v, want %s", tc.name, h2, tc.want)
		}
	}
}
