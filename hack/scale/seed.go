package main

import (
	"encoding/json"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// Cloud Run regions, in the order a world with more regions uses them.
var regions = []string{
	"us-central1", "europe-west1", "asia-east1", "us-east1", "europe-west4", "asia-northeast1", "us-west1",
	"europe-north1", "australia-southeast1", "southamerica-east1", "us-east4", "europe-west2", "asia-south1",
	"northamerica-northeast1", "europe-west3", "asia-southeast1", "us-west2", "europe-central2", "me-west1", "africa-south1",
}

const (
	// handGranted holds an unconditional accessor binding someone granted by hand on a fifth of
	// the services; runguard (bindingPolicy Merge, the default) must leave it.
	handGranted = "user:handgranted@example.com"
	// editedMember is what the harness adds to one object while the rest converge.
	editedMember    = "user:edited@example.com"
	usersPerProject = 50
)

// declared is one ProtectedService and the Cloud Run service it targets, as generated.
type declared struct {
	namespace, name            string
	project, location, service string
	groups                     []iapv1alpha1.AccessGroup
	public, handGranted        bool
}

// world is what a run creates: the fake's projects and services, and the objects.
type world struct {
	projects   []adminapi.Project
	services   []adminapi.Service
	namespaces []string
	objects    []declared
}

func projectID(k int) string            { return fmt.Sprintf("scale-p%02d", k) }
func projectNumber(k int) int64         { return 900000000000 + int64(k) }
func readersGroup(k int) string         { return fmt.Sprintf("group:readers-p%02d@example.com", k) }
func user(i int) string                 { return fmt.Sprintf("user:u%02d@example.com", i%usersPerProject) }
func serviceName(i int) string          { return fmt.Sprintf("svc-%05d", i) }
func namespaceOf(project string) string { return project }

// generate spreads n services over projects × regions (service i in project i mod projects):
// a fifth public (allUsers may invoke), a fifth with IAP already on and an accessor binding
// granted by hand, the rest private with IAP off. Every object grants a readers group and a
// user; every fourth also an admins group limited to /admin/. Every member is a principal of
// the service's project, so IAM accepts it. The kinds are dealt per round of project-regions,
// so every project-region gets the same mix: with the kind taken from i alone, a fifth of the
// regions got every public service and their quota floor was 1.5 × the others'.
func generate(n, projects, nRegions int) world {
	var w world
	for k := range projects {
		principals := []string{readersGroup(k), "user:admin@example.com", handGranted, editedMember}
		for u := range usersPerProject {
			principals = append(principals, user(u))
		}
		w.projects = append(w.projects, adminapi.Project{ID: projectID(k), Number: projectNumber(k), Principals: principals})
		w.namespaces = append(w.namespaces, namespaceOf(projectID(k)))
	}
	for i := range n {
		k := i % projects
		// The kinds cycle per round and along the project-regions of a round, so each gets the
		// same mix over five rounds and even a single round is mixed.
		round := i/(projects*nRegions) + i%(projects*nRegions)
		d := declared{
			namespace: namespaceOf(projectID(k)), name: serviceName(i),
			project: projectID(k), location: regions[(i/projects)%nRegions], service: serviceName(i),
			public: round%5 == 0, handGranted: round%5 == 1,
			groups: []iapv1alpha1.AccessGroup{{Name: "readers", Members: []iapv1alpha1.Member{iapv1alpha1.Member(readersGroup(k)), iapv1alpha1.Member(user(i))}}},
		}
		if round%4 == 3 {
			d.groups = append(d.groups, iapv1alpha1.AccessGroup{Name: "admins", Members: []iapv1alpha1.Member{"user:admin@example.com"},
				Context: &iapv1alpha1.AccessContext{PathPrefixes: []iapv1alpha1.PathPrefix{"/admin/"}}})
		}
		svc := adminapi.Service{Project: d.project, Location: d.location, Name: d.service, Public: d.public}
		if d.handGranted {
			svc.IAPEnabled = true
			svc.IAPPolicy = &adminapi.Policy{Bindings: []adminapi.Binding{{Role: accessorRole, Members: []string{handGranted}}}}
		}
		w.services = append(w.services, svc)
		w.objects = append(w.objects, d)
	}
	return w
}

// writeSeed writes the fake's seed: JSON, which the fake's YAML loader reads as it is.
func (w world) writeSeed(path string) error {
	raw, err := json.MarshalIndent(struct {
		Projects []adminapi.Project `json:"projects"`
		Services []adminapi.Service `json:"services"`
	}{w.projects, w.services}, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

func (w world) namespaceObjects() []*corev1.Namespace {
	var out []*corev1.Namespace
	for _, ns := range w.namespaces {
		out = append(out, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Annotations: map[string]string{iapv1alpha1.AnnotationAllowedProjects: ns}}})
	}
	return out
}

func (d declared) object() *iapv1alpha1.ProtectedService {
	return &iapv1alpha1.ProtectedService{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.namespace, Name: d.name},
		Spec: iapv1alpha1.ProtectedServiceSpec{
			Service:      iapv1alpha1.ServiceRef{Project: d.project, Location: d.location, Name: d.service},
			AccessGroups: d.groups,
		},
	}
}

func (d declared) fullName() string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", d.project, d.location, d.service)
}
