// Package run fakes the Cloud Run Admin API v2 Services service and the
// google.longrunning.Operations service its long-running operations are
// polled through.
package run

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
	"github.com/runguard/runguard/internal/gcpfake/names"
	"github.com/runguard/runguard/internal/gcpfake/policyengine"
	"github.com/runguard/runguard/internal/gcpfake/projects"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// Backend is the state and rules shared by the Services and Operations
// servers and by the fake's inspection API.
type Backend struct {
	Store     *store.Store
	Directory *projects.Directory
	// Policies holds the IAM policies of services (and, keyed by IAP resource, of their IAP
	// resources, which go with them).
	Policies *iampolicy.Store
	// ReconcileDelay is how long a change keeps the service reconciling.
	ReconcileDelay time.Duration
	Now            func() time.Time
}

func (b *Backend) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// resolved is a service name checked against the directory.
type resolved struct {
	asWritten names.Service // as the caller wrote it (for error messages)
	canonical names.Service // project ID form (the store key)
	project   projects.Project
}

func (r resolved) name() string { return r.canonical.String() }

// resolveService validates a service name. field names the request field
// for BadRequest; permission is what IAM would deny for an unknown project.
func (b *Backend) resolveService(name, field, permission string) (resolved, error) {
	s, ok := names.ParseService(name)
	if !ok {
		return resolved{}, apierr.BadRequest(fmt.Sprintf("Invalid resource name %q; expected projects/{project}/locations/{location}/services/{service}.", name),
			apierr.FieldViolation{Field: field, Description: "must be of the form projects/{project}/locations/{location}/services/{service}"})
	}
	if !names.ValidRegion(s.Location) {
		return resolved{}, apierr.BadRequest(fmt.Sprintf("Invalid location %q in %s.", s.Location, field),
			apierr.FieldViolation{Field: field, Description: fmt.Sprintf("location %q is not a valid region", s.Location)})
	}
	if !names.ValidServiceID(s.ID) {
		return resolved{}, apierr.BadRequest(fmt.Sprintf("Violation in %s: %s", field, names.ServiceIDRule),
			apierr.FieldViolation{Field: "Violation in " + field, Description: names.ServiceIDRule})
	}
	p, ok := b.Directory.Lookup(s.Project)
	if !ok {
		return resolved{}, apierr.RunPermissionDenied(permission, name)
	}
	c := s
	c.Project = p.ID
	return resolved{asWritten: s, canonical: c, project: p}, nil
}

func notFound(r resolved) error {
	return apierr.New(codes.NotFound, fmt.Sprintf("Resource '%s' of kind 'SERVICE' in region '%s' in project '%s' does not exist.", r.asWritten.ID, r.asWritten.Location, r.asWritten.Project))
}

// loadService reads a service and completes its reconcile if it is due.
func (b *Backend) loadService(tx *store.Tx, name string) (*runpb.Service, bool) {
	m, ok := tx.Get(store.KindService, name)
	if !ok {
		return nil, false
	}
	svc := m.(*runpb.Service)
	if svc.Reconciling {
		due := true
		if at, ok := tx.Get(store.KindReconcileAt, name); ok {
			due = !b.now().Before(at.(*timestamppb.Timestamp).AsTime())
		}
		if due {
			finishReconcile(svc, b.now())
			tx.Put(store.KindService, name, svc)
			tx.Delete(store.KindReconcileAt, name)
		}
	}
	return svc, true
}

// startReconcile marks a changed service as being rolled out until
// ReconcileDelay has passed.
func (b *Backend) startReconcile(tx *store.Tx, svc *runpb.Service) {
	now := b.now()
	if m, ok := tx.Get(store.KindFailNextRollout, svc.Name); ok {
		tx.Delete(store.KindFailNextRollout, svc.Name)
		failReconcile(svc, m.(*wrapperspb.StringValue).GetValue(), now)
		return
	}
	delay := b.ReconcileDelay
	if m, ok := tx.Get(store.KindSlowNextRollout, svc.Name); ok {
		tx.Delete(store.KindSlowNextRollout, svc.Name)
		delay = m.(*durationpb.Duration).AsDuration()
	}
	svc.Reconciling = true
	svc.TerminalCondition = &runpb.Condition{
		Type:               "Ready",
		State:              runpb.Condition_CONDITION_RECONCILING,
		Message:            "Deploying revision.",
		LastTransitionTime: timestamppb.New(now),
		Severity:           runpb.Condition_INFO,
	}
	tx.Put(store.KindReconcileAt, svc.Name, timestamppb.New(now.Add(delay)))
}

func finishReconcile(svc *runpb.Service, now time.Time) {
	svc.Reconciling = false
	svc.ObservedGeneration = svc.Generation
	ts := timestamppb.New(now)
	svc.TerminalCondition = &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_SUCCEEDED, LastTransitionTime: ts}
	svc.Conditions = []*runpb.Condition{
		{Type: "RoutesReady", State: runpb.Condition_CONDITION_SUCCEEDED, LastTransitionTime: ts},
		{Type: "ConfigurationsReady", State: runpb.Condition_CONDITION_SUCCEEDED, LastTransitionTime: ts},
	}
	svc.LatestReadyRevision = svc.LatestCreatedRevision
	svc.TrafficStatuses = nil
	for _, t := range svc.Traffic {
		st := &runpb.TrafficTargetStatus{Type: t.Type, Revision: t.Revision, Percent: t.Percent, Tag: t.Tag}
		if t.Type == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
			st.Revision = ""
		}
		svc.TrafficStatuses = append(svc.TrafficStatuses, st)
	}
}

// updatable are the Service fields a caller may set; everything else is
// output only (or the identifier) per service.proto's field behaviours.
var updatable = map[string]bool{
	"description": true, "labels": true, "annotations": true, "client": true, "client_version": true,
	"ingress": true, "launch_stage": true, "binary_authorization": true, "template": true,
	"traffic": true, "scaling": true, "invoker_iam_disabled": true, "default_uri_disabled": true,
	"iap_enabled": true, "ssh_enabled": true, "multi_region_settings": true, "custom_audiences": true,
	"build_config": true, "functional_type": true,
}

// spec projects a service onto its updatable fields.
func spec(svc *runpb.Service) *runpb.Service {
	out := &runpb.Service{}
	src := svc.ProtoReflect()
	dst := out.ProtoReflect()
	fields := src.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if updatable[string(fd.Name())] && src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		}
	}
	return proto.Clone(out).(*runpb.Service)
}

// replaceSpec copies every updatable field of from onto to.
func replaceSpec(to, from *runpb.Service) {
	src := from.ProtoReflect()
	dst := to.ProtoReflect()
	fields := dst.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !updatable[string(fd.Name())] {
			continue
		}
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
	}
}

func applyDefaults(svc *runpb.Service) {
	if svc.Ingress == runpb.IngressTraffic_INGRESS_TRAFFIC_UNSPECIFIED {
		svc.Ingress = runpb.IngressTraffic_INGRESS_TRAFFIC_ALL
	}
	if svc.LaunchStage == api.LaunchStage_LAUNCH_STAGE_UNSPECIFIED {
		svc.LaunchStage = api.LaunchStage_GA
	}
	if len(svc.Traffic) == 0 {
		svc.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100}}
	}
}

// validateSpec checks what the fake checks of a desired service.
func validateSpec(svc *runpb.Service, request string) error {
	if svc.GetTemplate() == nil {
		return apierr.BadRequest(fmt.Sprintf("Violation in %s.service.template: required field not present.", request),
			apierr.FieldViolation{Field: "Violation in " + request + ".service.template", Description: "required field not present"})
	}
	if _, ok := runpb.IngressTraffic_name[int32(svc.GetIngress())]; !ok {
		return apierr.BadRequest(fmt.Sprintf("Violation in %s.service.ingress: unknown enum value %d.", request, svc.GetIngress()),
			apierr.FieldViolation{Field: "Violation in " + request + ".service.ingress", Description: "unknown enum value"})
	}
	return nil
}

// newService builds a service as Cloud Run would store it right after
// CreateService accepted it.
func (b *Backend) newService(r resolved, desired *runpb.Service) *runpb.Service {
	now := b.now()
	svc := spec(desired)
	applyDefaults(svc)
	svc.Name = r.name()
	svc.Uid = uuid.NewString()
	svc.Generation = 1
	svc.CreateTime = timestamppb.New(now)
	svc.UpdateTime = timestamppb.New(now)
	svc.Creator = "gcpfake@runguard.invalid"
	svc.LastModifier = svc.Creator
	svc.Etag = newEtag(svc)
	svc.Uri = serviceURI(r.project, r.canonical.Location, r.canonical.ID)
	svc.Urls = []string{
		fmt.Sprintf("https://%s-%d.%s.run.app", r.canonical.ID, r.project.Number, r.canonical.Location),
		svc.Uri,
	}
	svc.LatestCreatedRevision = revisionName(svc)
	return svc
}

// change applies the desired state to cur and reports whether the desired
// state differs, in which case generation, etag and update_time move on.
func (b *Backend) change(cur, next *runpb.Service, forceRevision bool) (changed bool) {
	templateChanged := !proto.Equal(cur.GetTemplate(), next.GetTemplate())
	if proto.Equal(spec(cur), spec(next)) && !forceRevision {
		return false
	}
	next.Generation = cur.Generation + 1
	next.UpdateTime = timestamppb.New(b.now())
	next.LastModifier = "gcpfake@runguard.invalid"
	next.Etag = newEtag(next)
	if templateChanged || forceRevision {
		next.LatestCreatedRevision = revisionName(next)
	}
	return true
}

func revisionName(svc *runpb.Service) string {
	id := svc.Name[strings.LastIndex(svc.Name, "/")+1:]
	const letters = "abcdefghijklmnopqrstuvwxyz"
	suffix := []byte{letters[rand.IntN(26)], letters[rand.IntN(26)], letters[rand.IntN(26)]}
	return fmt.Sprintf("%s-%05d-%s", id, svc.Generation, suffix)
}

func newEtag(svc *runpb.Service) string {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(svc.Generation))
	binary.BigEndian.PutUint64(b[8:], uint64(time.Now().UnixNano()))
	return base64.RawURLEncoding.EncodeToString(b)
}

var regionCodes = map[string]string{
	"us-central1": "uc", "us-east1": "ue", "us-east4": "uk", "us-east5": "ul", "us-west1": "uw",
	"us-west2": "wl", "us-west3": "wm", "us-west4": "wn", "us-south1": "vp",
	"europe-west1": "ew", "europe-west2": "nw", "europe-west3": "ey", "europe-west4": "ez",
	"europe-west6": "oa", "europe-west9": "od", "europe-north1": "lz", "europe-central2": "lm",
	"asia-northeast1": "an", "asia-northeast2": "dt", "asia-northeast3": "du", "asia-east1": "de",
	"asia-east2": "df", "asia-south1": "el", "asia-southeast1": "as", "asia-southeast2": "et",
	"australia-southeast1": "ts", "northamerica-northeast1": "nn", "southamerica-east1": "rj",
}

// serviceURI is the non-deterministic run.app URL: service name, a hash
// stable per project, and a region code.
func serviceURI(p projects.Project, location, id string) string {
	code, ok := regionCodes[location]
	if !ok {
		parts := strings.Split(location, "-")
		code = string(parts[0][0]) + string(parts[len(parts)-1][0])
	}
	sum := sha256.Sum256([]byte(p.ID))
	hash := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))[:10]
	return fmt.Sprintf("https://%s-%s-%s.a.run.app", id, hash, code)
}

// SeedService is a service that exists from the start (or appears out of
// band), already rolled out.
type SeedService struct {
	Project, Location, ID string
	Desired               *runpb.Service
	InvokerPolicy         *iampb.Policy
	IAPPolicy             *iampb.Policy
}

// Add creates a service outside the API, already reconciled.
func (b *Backend) Add(s SeedService) (*runpb.Service, error) {
	if !names.ValidServiceID(s.ID) {
		return nil, fmt.Errorf("service %q: %s", s.ID, names.ServiceIDRule)
	}
	if !names.ValidRegion(s.Location) {
		return nil, fmt.Errorf("service %q: location %q is not a region", s.ID, s.Location)
	}
	p, ok := b.Directory.Lookup(s.Project)
	if !ok {
		return nil, fmt.Errorf("service %q: project %q is not seeded", s.ID, s.Project)
	}
	desired := s.Desired
	if desired == nil {
		desired = &runpb.Service{}
	}
	if desired.Template == nil {
		desired = proto.Clone(desired).(*runpb.Service)
		desired.Template = &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: "us-docker.pkg.dev/cloudrun/container/hello"}}}
	}
	if err := validateSpec(desired, "SeedService"); err != nil {
		return nil, err
	}
	var invoker, iapPolicy *iampb.Policy
	var err error
	if s.InvokerPolicy != nil {
		if invoker, err = policyengine.Normalize(s.InvokerPolicy); err != nil {
			return nil, fmt.Errorf("service %q invoker policy: %w", s.ID, err)
		}
	}
	if s.IAPPolicy != nil {
		if iapPolicy, err = policyengine.Normalize(s.IAPPolicy); err != nil {
			return nil, fmt.Errorf("service %q IAP policy: %w", s.ID, err)
		}
	}
	r := resolved{canonical: names.Service{Project: p.ID, Location: s.Location, ID: s.ID}, project: p}
	r.asWritten = r.canonical
	var out *runpb.Service
	err = b.Store.Txn(func(tx *store.Tx) error {
		if _, exists := tx.Get(store.KindService, r.name()); exists {
			return fmt.Errorf("service %s already exists", r.name())
		}
		svc := b.newService(r, desired)
		finishReconcile(svc, b.now())
		tx.Put(store.KindService, svc.Name, svc)
		if invoker != nil {
			iampolicy.Put(tx, svc.Name, invoker)
		}
		if iapPolicy != nil {
			iampolicy.Put(tx, names.IAPService(p.Number, s.Location, s.ID), iapPolicy)
		}
		out = svc
		return nil
	})
	return out, err
}

// Get returns a service by its project-ID name.
func (b *Backend) Get(name string) (svc *runpb.Service, ok bool) {
	_ = b.Store.Txn(func(tx *store.Tx) error {
		svc, ok = b.loadService(tx, name)
		return nil
	})
	return svc, ok
}

// List returns every service, sorted by name.
func (b *Backend) List() []*runpb.Service {
	var out []*runpb.Service
	_ = b.Store.Txn(func(tx *store.Tx) error {
		for _, n := range tx.Names(store.KindService, "") {
			if svc, ok := b.loadService(tx, n); ok {
				out = append(out, svc)
			}
		}
		return nil
	})
	return out
}

// Delete removes a service together with its IAM policy and its IAP
// resource, as deleting a Cloud Run service does.
func (b *Backend) Delete(name string) error {
	s, ok := names.ParseService(name)
	if !ok {
		return fmt.Errorf("%q is not a service name", name)
	}
	p, ok := b.Directory.Lookup(s.Project)
	if !ok {
		return fmt.Errorf("project %q is not seeded", s.Project)
	}
	s.Project = p.ID
	return b.Store.Txn(func(tx *store.Tx) error {
		if !b.deleteLocked(tx, s, p) {
			return fmt.Errorf("service %s does not exist", s)
		}
		return nil
	})
}

func (b *Backend) deleteLocked(tx *store.Tx, s names.Service, p projects.Project) bool {
	if !tx.Delete(store.KindService, s.String()) {
		return false
	}
	tx.Delete(store.KindReconcileAt, s.String())
	iampolicy.Delete(tx, s.String())
	iampolicy.Delete(tx, names.IAPService(p.Number, s.Location, s.ID))
	tx.Delete(store.KindIAPSettings, names.IAPService(p.Number, s.Location, s.ID))
	return true
}

// UpdateOutOfBand changes a service as another client would (the console,
// gcloud). A change of desired state bumps generation and etag and starts a
// rollout; a mutation of status fields alone (say, a failed
// terminal_condition) is stored as is, which lets tests stage failures.
func (b *Backend) UpdateOutOfBand(name string, mutate func(*runpb.Service)) (changed bool, err error) {
	err = b.Store.Txn(func(tx *store.Tx) error {
		cur, ok := b.loadService(tx, name)
		if !ok {
			return fmt.Errorf("service %s does not exist", name)
		}
		next := proto.Clone(cur).(*runpb.Service)
		mutate(next)
		next.Name, next.Uid, next.CreateTime = cur.Name, cur.Uid, cur.CreateTime
		applyDefaults(next)
		if changed = b.change(cur, next, false); changed {
			b.startReconcile(tx, next)
		}
		tx.Put(store.KindService, name, next)
		return nil
	})
	return changed, err
}

// FailRollout ends the service's current rollout in failure, as a
// revision that never becomes ready does. As runpb documents the
// reconciling field: reconciling stops, observed_generation keeps the value
// of the last serving revision (it does not catch up), terminal_condition is
// FAILED with the message, and operations waiting on it end with that error.
func (b *Backend) FailRollout(name, message string) error {
	return b.Store.Txn(func(tx *store.Tx) error {
		m, ok := tx.Get(store.KindService, name)
		if !ok {
			return fmt.Errorf("service %s does not exist", name)
		}
		svc := m.(*runpb.Service)
		failReconcile(svc, message, b.now())
		tx.Put(store.KindService, name, svc)
		tx.Delete(store.KindReconcileAt, name)
		return nil
	})
}

// FailNextRollout makes the next rollout of the service fail at once with
// message, as a revision that cannot start does.
func (b *Backend) FailNextRollout(name, message string) error {
	return b.Store.Txn(func(tx *store.Tx) error {
		if _, ok := tx.Get(store.KindService, name); !ok {
			return fmt.Errorf("service %s does not exist", name)
		}
		tx.Put(store.KindFailNextRollout, name, wrapperspb.String(message))
		return nil
	})
}

// SlowNextRollout makes the next rollout of the service take d instead of
// ReconcileDelay, as a revision that is slow to start does.
func (b *Backend) SlowNextRollout(name string, d time.Duration) error {
	return b.Store.Txn(func(tx *store.Tx) error {
		if _, ok := tx.Get(store.KindService, name); !ok {
			return fmt.Errorf("service %s does not exist", name)
		}
		tx.Put(store.KindSlowNextRollout, name, durationpb.New(d))
		return nil
	})
}

func failReconcile(svc *runpb.Service, message string, at time.Time) {
	now := timestamppb.New(at)
	svc.Reconciling = false
	svc.TerminalCondition = &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_FAILED, Message: message, Severity: runpb.Condition_ERROR, LastTransitionTime: now}
	svc.Conditions = []*runpb.Condition{{Type: "ConfigurationsReady", State: runpb.Condition_CONDITION_FAILED, Message: message, Severity: runpb.Condition_ERROR, LastTransitionTime: now}}
}

// PolicyKind registers Cloud Run services with the IAM policy store: a service's policy exists
// while the service does.
func PolicyKind(dir *projects.Directory) iampolicy.Kind {
	return iampolicy.Kind{
		Owns: func(name string) bool { _, ok := names.ParseService(name); return ok },
		// The store keys a service by its project ID.
		Canonical: func(name string) (string, bool) {
			sv, _ := names.ParseService(name)
			p, ok := dir.Lookup(sv.Project)
			sv.Project = p.ID
			return sv.String(), ok
		},
		Exists: func(tx *store.Tx, name string) bool {
			_, exists := tx.Get(store.KindService, name)
			return exists
		},
	}
}
