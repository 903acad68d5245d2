package controllers

import (
	"context"
	"errors"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/auditlog"
	"github.com/runguard/runguard/internal/tenancy"
)

var (
	auditEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runguard_audit_events_total",
		Help: "Audit log entries received, by method and outcome (enqueued, coalesced, stale, unmatched, irrelevant, malformed).",
	}, []string{"method", "outcome"})
	auditCorrectionDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "runguard_audit_event_correction_seconds",
		Help:    "Delay from an audit entry's timestamp to the Google write that corrected the change it reported.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300},
	})
	auditSubscriptionUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "runguard_audit_subscription_up",
		Help: "1 while the audit log subscription is being received, 0 while it fails and is retried.",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(auditEvents, auditCorrectionDelay, auditSubscriptionUp)
}

// receiveAuditEvents runs while this replica leads: an entry acked by a standby would be lost to
// the leader. A failing subscription is retried with backoff and never stops reconciling: the
// resync keeps correcting drift meanwhile.
func (r *ProtectedServiceReconciler) receiveAuditEvents(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("audit-events").WithValues("subscription", r.AuditSubscription.Name())
	delay := time.Second
	r.announce(corev1.EventTypeNormal, "AuditSubscriptionStarted", "Receiving audit log entries from %s; the changes they report are corrected at once.", r.AuditSubscription.Name())
	for {
		started := time.Now()
		err := r.AuditSubscription.Check(ctx)
		if err == nil {
			auditSubscriptionUp.Set(1)
			err = r.AuditSubscription.Receive(ctx, func(data []byte) { r.onAuditEntry(ctx, data) })
		}
		auditSubscriptionUp.Set(0)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Minute {
			delay = time.Second
		}
		logger.Error(err, "audit log subscription failed; drift is still corrected by the resync", "retryIn", delay)
		r.announce(corev1.EventTypeWarning, "AuditSubscriptionFailed", "%v. Retrying in %s; meanwhile drift is corrected every --resync-period (%s). Check the subscription and runguard's roles/pubsub.subscriber on it (docs/drift-events.md).",
			err, delay, r.ResyncPeriod)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
	}
}

// announce records an Event about the audit subscription on AuditEventsAbout, if set.
func (r *ProtectedServiceReconciler) announce(eventType, reason, format string, args ...any) {
	if r.AuditEventsAbout != nil {
		r.Recorder.Eventf(r.AuditEventsAbout, nil, eventType, reason, "ReceiveAuditLog", format, args...)
	}
}

// onAuditEntry enqueues the objects an entry designates. Nothing in it is trusted beyond "this
// resource may have changed": the pass re-reads Google and decides as always.
func (r *ProtectedServiceReconciler) onAuditEntry(ctx context.Context, data []byte) {
	e, err := auditlog.Parse(data)
	outcome := "enqueued"
	switch {
	case errors.Is(err, auditlog.ErrMalformed):
		outcome = "malformed"
	case err != nil:
		outcome = "irrelevant"
	}
	if err == nil {
		designated, matched := r.designatedBy(ctx, e)
		if !matched {
			outcome = "unmatched"
		}
		if matched {
			outcome = "stale"
		}
		// The entry's outcome is the most any object made of it.
		for _, key := range designated {
			if o := r.onAuditEntryFor(ctx, key, e); auditOutcomeRank[o] > auditOutcomeRank[outcome] {
				outcome = o
			}
		}
	}
	auditEvents.WithLabelValues(metricMethod(e.MethodName), outcome).Inc()
}

// onAuditEntryFor wakes one object an entry names, unless a pass that began after the change
// already read it (a repeated or late entry), or the entry is the echo of runguard's own write
// of the object (its identity, at the time of a pass of the object that wrote). A change by anyone
// but runguard wakes it at once, ahead of resyncs and new objects; one by runguard's identity at
// another time (or claiming it: entries are not trusted) wakes it at most once per
// auditWakeInterval per object and one object per interval in all, at resync priority, so a flood
// of such entries cannot spend the quota users' changes need. It returns the entry's outcome for
// this object: enqueued, coalesced (a wake-up is already due), deferred (to the resync), own (an
// echo) or stale.
func (r *ProtectedServiceReconciler) onAuditEntryFor(ctx context.Context, key types.NamespacedName, e auditlog.Entry) string {
	now := time.Now()
	own := r.knownOwnPrincipal(ctx, key.Namespace, e.Principal)
	echo, stale := r.memory.auditEntryFor(key, own, e.Timestamp)
	switch {
	case stale:
		return "stale"
	case echo:
		return "own"
	}
	r.memory.auditReported(key, e.Timestamp)
	if !own {
		r.wakeUp(key)
		return "enqueued"
	}
	if !r.memory.ownWakeAllowed(now) {
		// runguard's identity outside its own writes wakes at most one object per interval in
		// all: a flood of such entries (forged, or a leaked key) costs a pass every 2 s, and what
		// it does not wake the resync still checks.
		return "deferred"
	}
	wakeNow, later := r.memory.auditWake(key, now)
	switch {
	case wakeNow:
		r.wakeAtResyncPriority(key)
		return "enqueued"
	case later > 0:
		time.AfterFunc(later, func() { r.memory.auditWoken(key); r.wakeAtResyncPriority(key) })
	}
	return "coalesced"
}

// auditOutcomeRank orders an entry's outcomes per object, the most it made of any object first.
var auditOutcomeRank = map[string]int{"enqueued": 5, "coalesced": 4, "deferred": 3, "own": 2, "stale": 1}

// knownOwnPrincipal reports whether principal is one of runguard's identities by configuration
// (--audit-own-principals) or the object's namespace's (its google-service-account annotation).
func (r *ProtectedServiceReconciler) knownOwnPrincipal(ctx context.Context, namespace, principal string) bool {
	if principal == "" {
		return false
	}
	for _, p := range r.AuditOwnPrincipals {
		if ok, _ := path.Match(p, principal); ok {
			return true
		}
	}
	ns, err := readNamespace(ctx, r.Client, namespace)
	if err != nil {
		return false
	}
	account, err := tenancy.NamespaceIdentity(ns.Annotations)
	return err == nil && account != "" && strings.EqualFold(account, principal)
}

// designatedBy lists the objects an entry may concern: those targeting the service it names, or,
// for an access level's change, those requiring the level by its full name (the AccessLevel
// managing it is woken too, and its users follow when its meaning changes).
func (r *ProtectedServiceReconciler) designatedBy(ctx context.Context, e auditlog.Entry) (keys []types.NamespacedName, matched bool) {
	if resource, ok := auditlog.Above(e); ok {
		return r.objectsBelow(ctx, resource)
	}
	if level, ok := auditlog.AccessLevelName(e); ok {
		woken := 0
		if r.Levels != nil {
			woken = r.Levels.WakeLevel(ctx, level)
		}
		for _, req := range r.objectsRequiringRef(ctx, level) {
			keys = append(keys, req.NamespacedName)
		}
		return keys, len(keys)+woken > 0
	}
	designated, err := r.objectsTargeting(ctx, e.Target.Service, func(ps *iapv1alpha1.ProtectedService) bool {
		number, _ := strconv.ParseInt(ps.Status.ProjectNumber, 10, 64)
		return e.Target.Designates(ps.Spec.Service.Project, ps.Spec.Service.Location, ps.Spec.Service.Name, number)
	})
	if err != nil {
		log.FromContext(ctx).Error(err, "list ProtectedServices for an audit entry", "resource", e.ResourceName)
	}
	for _, ps := range designated {
		keys = append(keys, types.NamespacedName{Namespace: ps.Namespace, Name: ps.Name})
	}
	return keys, len(keys) > 0
}

// objectsBelow forgets what was read of a changed policy above services and lists the objects
// of the project it belongs to, so their InheritedAccess is read again at once. A folder's or an
// organization's change is read again by every object at its next resync: waking every object
// below an organization would be a flood of passes.
func (r *ProtectedServiceReconciler) objectsBelow(ctx context.Context, resource string) (keys []types.NamespacedName, matched bool) {
	parts := strings.Split(resource, "/")
	if parts[0] != "projects" {
		r.memory.forgetAllInherited()
		return nil, true
	}
	var list iapv1alpha1.ProtectedServiceList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "list ProtectedServices for an audit entry", "resource", resource)
		return nil, false
	}
	for _, ps := range list.Items {
		if ps.Spec.Service.Project == parts[1] || ps.Status.ProjectNumber == parts[1] {
			r.memory.forgetInherited(ps.Spec.Service.Project)
			keys = append(keys, types.NamespacedName{Namespace: ps.Namespace, Name: ps.Name})
		}
	}
	return keys, len(keys) > 0
}

// metricMethod bounds the method label to the methods runguard reacts to.
func metricMethod(m string) string {
	if auditlog.Relevant(m) {
		return m
	}
	return "other"
}
