package controllers_test

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
	"unsafe"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
)

// Two objects decoded from their own JSON, as the cache's watch decodes them, end up holding one
// copy of what they have in common, and neither keeps its managedFields.
func TestCacheTransform_SharesCommonStringsAndDropsManagedFields(t *testing.T) {
	const object = `{"apiVersion":"iap.runguard.dev/v1alpha1","kind":"ProtectedService",
		"metadata":{"name":"NAME","namespace":"team-a","finalizers":["iap.runguard.dev/finalizer"],
			"managedFields":[{"manager":"kubectl","operation":"Apply"}]},
		"spec":{"service":{"project":"acme-prod","location":"us-central1","name":"NAME"},"mode":"Enforce",
			"accessGroups":[{"name":"readers","members":["group:readers@acme.com"]}]},
		"status":{"conditions":[{"type":"Ready","status":"True","reason":"Protected","message":"Google Cloud matches the spec.",
			"lastTransitionTime":"2026-11-29T00:00:00Z"}]}}`
	// Go's unique package may drop a copy nobody holds a handle to at a collection; the objects
	// of one listing are decoded between two, which is what is tested here.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	transform := controllers.CacheTransform()
	var kept []*iapv1alpha1.ProtectedService
	for _, name := range []string{"web", "api"} {
		ps := &iapv1alpha1.ProtectedService{}
		if err := json.Unmarshal([]byte(strings.ReplaceAll(object, "NAME", name)), ps); err != nil {
			t.Fatal(err)
		}
		out, err := transform(ps)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, out.(*iapv1alpha1.ProtectedService))
	}
	a, b := kept[0], kept[1]
	if len(a.ManagedFields) != 0 || len(b.ManagedFields) != 0 {
		t.Errorf("managedFields kept: %v, %v", a.ManagedFields, b.ManagedFields)
	}
	for what, pair := range map[string][2]string{
		"namespace":         {a.Namespace, b.Namespace},
		"finalizer":         {a.Finalizers[0], b.Finalizers[0]},
		"project":           {a.Spec.Service.Project, b.Spec.Service.Project},
		"member":            {string(a.Spec.AccessGroups[0].Members[0]), string(b.Spec.AccessGroups[0].Members[0])},
		"condition message": {a.Status.Conditions[0].Message, b.Status.Conditions[0].Message},
		"condition reason":  {a.Status.Conditions[0].Reason, b.Status.Conditions[0].Reason},
	} {
		if pair[0] != pair[1] || unsafe.StringData(pair[0]) != unsafe.StringData(pair[1]) {
			t.Errorf("the objects' %s %q and %q are two copies", what, pair[0], pair[1])
		}
	}
	if a.Name == b.Name {
		t.Errorf("names changed: both %q", a.Name)
	}
}
