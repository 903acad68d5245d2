package controllers_test

import (
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	corev1 "k8s.io/api/core/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/runguard/runguard/internal/iampolicy"
)

// removeMemberOutOfBand takes member out of every binding of the IAP policy, as another tool would.
func (w *world) removeMemberOutOfBand(member string) {
	w.t.Helper()
	p := w.iapPolicy()
	for _, b := range p.GetBindings() {
		b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == member })
	}
	if err := fake.SetIAPPolicy(w.iapTarget, p); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) waitBound(group, member string) {
	w.t.Helper()
	eventually(w.t, 30*time.Second, member+" bound again in "+group, func() error {
		if !slices.Contains(bindingsOf(w.iapPolicy())[accessor+"|runguard:"+group], member) {
			return errNotYet
		}
		return nil
	})
}

func TestDrift_RemovedMemberIsRestoredAndForeignBindingKept(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("drift", group("devs", "user:alice@acme.com", "user:bob@acme.com")))
	w.waitReady("drift")

	// Out of band: alice is taken out of our binding and someone adds a binding of their own.
	p := w.iapPolicy()
	for _, b := range p.GetBindings() {
		b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == "user:alice@acme.com" })
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: accessor, Members: []string{"user:carol@acme.com"}})
	if err := fake.SetIAPPolicy(w.iapTarget, p); err != nil {
		t.Fatal(err)
	}

	w.waitBound("devs", "user:alice@acme.com")
	b := bindingsOf(w.iapPolicy())
	if got := b[accessor+"|runguard:devs"]; !slices.Equal(got, []string{"user:alice@acme.com", "user:bob@acme.com"}) {
		t.Errorf("our binding = %v", got)
	}
	if got := b[accessor+"|"]; !slices.Equal(got, []string{"user:carol@acme.com"}) {
		t.Errorf("the foreign binding added out of band was not kept (Merge): %v", b)
	}
	w.waitEvent("drift", corev1.EventTypeNormal, "DriftCorrected", "access bindings")
	w.waitReady("drift")
}

func TestDrift_PublicInvokerGrantAndDisabledInvokerCheckAreReverted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("lockdown", group("devs", "user:alice@acme.com")))
	w.waitReady("lockdown")

	p := w.servicePolicy()
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: invoker, Members: []string{"allUsers"}})
	if err := fake.SetServicePolicy(w.fullName, p); err != nil {
		t.Fatal(err)
	}
	if err := fake.UpdateServiceOutOfBand(w.fullName, func(s *runpb.Service) { s.InvokerIamDisabled = true }); err != nil {
		t.Fatal(err)
	}

	eventually(t, 30*time.Second, "public access revoked again", func() error {
		if iampolicy.HasMember(w.servicePolicy(), invoker, "allUsers") || w.cloudRun().GetInvokerIamDisabled() {
			return errNotYet
		}
		return nil
	})
	if got := bindingsOf(w.servicePolicy())[invoker+"|"]; !slices.Equal(got, []string{agentOf("123456789012")}) {
		t.Errorf("run.invoker = %v, want only the IAP agent", got)
	}
	// One Event per pass names the fields it corrected and lists its writes (one pass, or two).
	w.waitEvent("lockdown", corev1.EventTypeNormal, "DriftCorrected", "public invoker grant")
	w.waitEvent("lockdown", corev1.EventTypeNormal, "DriftCorrected", "invoker_iam_disabled")
	w.waitEvent("lockdown", corev1.EventTypeNormal, "DriftCorrected", "Revoked public access")
	if got := w.eventsWithReason("lockdown", "GoogleCloudUpdated"); len(got) != 1 {
		t.Errorf("%d GoogleCloudUpdated Events, want only the adoption's: a correction is a DriftCorrected Event", len(got))
	}
	w.waitReady("lockdown")
}

func TestDrift_IAPSwitchedOffOutOfBandIsSwitchedBackOn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("iapoff", group("devs", "user:alice@acme.com")))
	w.waitReady("iapoff")

	if err := fake.UpdateServiceOutOfBand(w.fullName, func(s *runpb.Service) { s.IapEnabled = false }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "IAP on again", func() error {
		if !w.cloudRun().GetIapEnabled() {
			return errNotYet
		}
		return nil
	})
	w.waitEvent("iapoff", corev1.EventTypeNormal, "DriftCorrected", "iap_enabled")
	w.waitReady("iapoff")
}

// The same field corrected three times within the window: another tool is writing it.
func TestDrift_RepeatedCorrectionsWarnOfAFightingWriter(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.create(w.object("fight", group("devs", "user:alice@acme.com", "user:bob@acme.com")))
	w.waitReady("fight")
	for range 3 {
		w.removeMemberOutOfBand("user:alice@acme.com")
		w.waitBound("devs", "user:alice@acme.com")
	}
	e := w.waitEvent("fight", corev1.EventTypeWarning, "FightingWriter", "access bindings")
	t.Logf("FightingWriter: %s", e.Note)
	if n := counterValue(t, "runguard_drift_corrections_total", "field", "access bindings"); n < 3 {
		t.Errorf("runguard_drift_corrections_total{field=\"access bindings\"} = %v, want at least 3", n)
	}
}

// counterValue reads a counter from controller-runtime's registry (shared by every test).
func counterValue(t *testing.T, name, label, value string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
