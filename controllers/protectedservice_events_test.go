package controllers_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/gcpfake"
)

// eventsWithReason lists the object's Events of that reason.
func (w *world) eventsWithReason(name, reason string) []eventsv1.Event {
	var out []eventsv1.Event
	for _, e := range w.events(name) {
		if e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// inOrder reports whether s says each of parts, in that order.
func inOrder(s string, parts ...string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// A pass's Google writes are one Event, GoogleCloudUpdated, whose note lists them in the order
// they were made and whose action names their kinds. An edit applied later is an Event of its
// own: its action differs, so the events API does not fold it into the adoption's series (which
// would keep only the adoption's note).
func TestEvents_OneEventPerPassListsItsWritesInOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withService(func(s *gcpfake.Service) { s.Public = true }))
	w.create(w.object("events", group("devs", "user:alice@acme.com")))
	w.waitReady("events")
	var adoption eventsv1.Event
	eventually(t, 30*time.Second, "one GoogleCloudUpdated Event listing the adoption's writes", func() error {
		for _, e := range w.eventsWithReason("events", "GoogleCloudUpdated") {
			if inOrder(e.Note, "Granted roles/run.invoker", "Updated IAP access", "Switching IAP on", "Revoked public access") {
				adoption = e
				return nil
			}
		}
		return errNotYet
	})
	if got := w.eventsWithReason("events", "GoogleCloudUpdated"); len(got) != 1 {
		t.Errorf("%d GoogleCloudUpdated Events for one pass, want 1", len(got))
	}
	if adoption.Type != corev1.EventTypeNormal || adoption.Action != "GrantInvoker,BindAccess,EnableIAP,RevokePublicAccess" {
		t.Errorf("adoption Event %s action %q", adoption.Type, adoption.Action)
	}

	w.update("events", func(ps *iapv1alpha1.ProtectedService) {
		ps.Spec.AccessGroups = []iapv1alpha1.AccessGroup{group("devs", "user:alice@acme.com", "user:bob@acme.com")}
	})
	edit := w.waitEvent("events", corev1.EventTypeNormal, "GoogleCloudUpdated", "user:bob@acme.com")
	if edit.Action != "BindAccess" || edit.Series != nil {
		t.Errorf("the edit's Event: action %q, series %v; want BindAccess, an Event of its own", edit.Action, edit.Series)
	}
	if got := w.eventsWithReason("events", "DriftCorrected"); len(got) != 0 {
		t.Errorf("an edit was reported as drift: %s", got[0].Note)
	}
}
