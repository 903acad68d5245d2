package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
	"github.com/runguard/runguard/internal/iampolicy"
)

type gcpfakeService = gcpfake.Service

var errNotYet = errors.New("not yet")

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

// newTenant creates a namespace called name, with the default allowed-projects annotation and
// opts applied, and no Cloud Run service of its own.
func newTenant(t *testing.T, name string, opts ...worldOption) *world {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
		iapv1alpha1.AnnotationAllowedProjects: project + ",no-agent-project,iap-off-project",
	}}}
	for _, o := range opts {
		o(ns, &gcpfake.Service{})
	}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, ns: name}
}

// newUndeployedWorld is a world whose Cloud Run service (in acme-prod) does not exist yet;
// deploy creates it.
func newUndeployedWorld(t *testing.T, opts ...worldOption) *world {
	t.Helper()
	w := newWorld(t, append(opts, withService(func(s *gcpfake.Service) { s.Name = "" }))...)
	w.service = fmt.Sprintf("late-%d", names.Add(1))
	w.fullName = fmt.Sprintf("projects/%s/locations/%s/services/%s", project, location, w.service)
	w.iapTarget = fmt.Sprintf("projects/%d/iap_web/cloud_run-%s/services/%s", projectNumber, location, w.service)
	return w
}

func (w *world) deploy(f func(*gcpfake.Service)) {
	w.t.Helper()
	svc := gcpfake.Service{Project: project, Location: location, Name: w.service}
	if f != nil {
		f(&svc)
	}
	if err := fake.AddService(svc); err != nil {
		w.t.Fatal(err)
	}
}

// waitUntil polls the object until check passes and returns it.
func (w *world) waitUntil(name, what string, check func(*iapv1alpha1.ProtectedService) error) *iapv1alpha1.ProtectedService {
	w.t.Helper()
	var ps *iapv1alpha1.ProtectedService
	eventually(w.t, 30*time.Second, name+": "+what, func() error {
		ps = w.get(name)
		if err := check(ps); err != nil {
			return fmt.Errorf("%w; generation %d observed %d; %s", err, ps.Generation, ps.Status.ObservedGeneration, describeConditions(ps))
		}
		return nil
	})
	return ps
}

// annotate sets an annotation on the world's namespace.
func (w *world) annotate(key, value string) {
	w.t.Helper()
	eventually(w.t, 10*time.Second, "annotate namespace "+w.ns, func() error {
		ns := &corev1.Namespace{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: w.ns}, ns); err != nil {
			return err
		}
		if ns.Annotations == nil {
			ns.Annotations = map[string]string{}
		}
		ns.Annotations[key] = value
		return k8s.Update(context.Background(), ns)
	})
}

// serviceCalls lists the fake's calls on exactly this world's Cloud Run service or IAP resource.
func (w *world) serviceCalls() []gcpfake.Call {
	var out []gcpfake.Call
	for _, c := range fake.Calls() {
		if c.Resource == w.fullName || c.Resource == w.iapTarget {
			out = append(out, c)
		}
	}
	return out
}

// callsMentioning lists the fake's calls whose resource contains s.
func callsMentioning(s string) []gcpfake.Call {
	var out []gcpfake.Call
	for _, c := range fake.Calls() {
		if strings.Contains(c.Resource, s) {
			out = append(out, c)
		}
	}
	return out
}

// addFault installs a fault rule for the rest of the test.
func addFault(t *testing.T, r gcpfake.FaultRule) int {
	id := fake.AddFault(r)
	t.Cleanup(func() { fake.RemoveFault(id) })
	return id
}

// events lists the events.k8s.io/v1 Events about one object.
func (w *world) events(name string) []eventsv1.Event {
	w.t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(w.ns)); err != nil {
		w.t.Fatalf("list events: %v", err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "ProtectedService" && e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits for an Event of that type and reason about the object whose note contains note.
func (w *world) waitEvent(name, eventType, reason, note string) eventsv1.Event {
	w.t.Helper()
	var found eventsv1.Event
	eventually(w.t, 30*time.Second, fmt.Sprintf("%s event %s %s", name, eventType, reason), func() error {
		var seen []string
		for _, e := range w.events(name) {
			if e.Type == eventType && e.Reason == reason && strings.Contains(e.Note, note) {
				found = e
				return nil
			}
			seen = append(seen, e.Type+"/"+e.Reason+": "+e.Note)
		}
		return fmt.Errorf("events so far: %s", strings.Join(seen, " | "))
	})
	return found
}

func ptr[T any](v T) *T { return &v }

// seedMarkedBinding stores an IAP policy holding member in group devs under owner's marker, as
// if that owner (another cluster, or this manager before a crash) had written it, plus extra
// bindings.
func (w *world) seedMarkedBinding(owner iampolicy.Owner, member string, extra ...*iampb.Binding) {
	w.t.Helper()
	cond, err := iampolicy.CompileCondition(owner, iampolicy.AccessGroup{Name: "devs", Members: []string{member}})
	if err != nil {
		w.t.Fatal(err)
	}
	bindings := append([]*iampb.Binding{{Role: accessor, Members: []string{member}, Condition: cond}}, extra...)
	if err := fake.SetIAPPolicy(w.iapTarget, &iampb.Policy{Version: 3, Bindings: bindings}); err != nil {
		w.t.Fatal(err)
	}
}
