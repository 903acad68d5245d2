package gcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/runguard/runguard/internal/auditlog"
	"github.com/runguard/runguard/internal/gcp"
	"github.com/runguard/runguard/internal/gcpfake"
)

const (
	policy    = "accessPolicies/111111111111"
	corpLevel = policy + "/accessLevels/corp"
)

func ipLevel(name, title string, subnetworks ...string) *accesscontextmanagerpb.AccessLevel {
	return &accesscontextmanagerpb.AccessLevel{Name: name, Title: title, Level: &accesscontextmanagerpb.AccessLevel_Basic{
		Basic: &accesscontextmanagerpb.BasicLevel{Conditions: []*accesscontextmanagerpb.Condition{{IpSubnetworks: subnetworks}}}}}
}

// startACM starts a fake with an organization's access policy holding the level corp, and the
// clients pointed at it.
func startACM(t *testing.T, opts gcpfake.Options) (*gcp.Clients, *gcpfake.Server) {
	t.Helper()
	corp, err := protojson.Marshal(ipLevel(corpLevel, "Corporate network", "192.0.2.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Seed.AccessPolicies = []gcpfake.AccessPolicy{{Name: policy, Parent: "organizations/999999999999", Title: "org", AccessLevels: []json.RawMessage{corp}}}
	fake, err := gcpfake.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	ep := fake.Endpoint()
	c, err := gcp.New(context.Background(), gcp.Config{RunEndpoint: ep, IAPEndpoint: ep, ResourceManagerEndpoint: ep, ACMEndpoint: ep,
		IAMCredentialsEndpoint: fake.HTTPEndpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, fake
}

// Each write returns the level Google stored once its operation is done, whether Google answers
// it done or only when asked again.
func TestAccessLevels_CreateGetUpdateDelete(t *testing.T) {
	for _, deferred := range []bool{false, true} {
		c, fake := startACM(t, gcpfake.Options{ACMDeferOperations: deferred})
		ctx := context.Background()
		levels := c.AccessLevels()
		office := ipLevel(policy+"/accessLevels/office", "Office", "198.51.100.0/24")
		created, err := levels.Create(ctx, office)
		if err != nil || !proto.Equal(created, office) {
			t.Fatalf("Create = %v, %v", created, err)
		}
		got, err := levels.Get(ctx, office.Name)
		if err != nil || !proto.Equal(got, office) {
			t.Fatalf("Get = %v, %v", got, err)
		}
		changed := ipLevel(office.Name, "Head office", "0.0.0.0/0")
		updated, err := levels.Update(ctx, changed, []string{"title"})
		if err != nil || updated.GetTitle() != "Head office" || updated.GetBasic().GetConditions()[0].GetIpSubnetworks()[0] != "198.51.100.0/24" {
			t.Fatalf("Update of the title = %v, %v; want the title changed and nothing else", updated, err)
		}
		if err := levels.Delete(ctx, office.Name); err != nil {
			t.Fatal(err)
		}
		if _, ok := fake.AccessLevel(office.Name); ok {
			t.Error("the level is still there after Delete")
		}
		if n := fake.CallCounts()["acmoperations.GetOperation"]; deferred != (n > 0) {
			t.Errorf("deferred %v: GetOperation called %d times", deferred, n)
		}
	}
}

// A level or policy that is not there is told apart: a missing level is NotFound, a missing
// policy is IAM's denial naming the permission.
func TestAccessLevels_MissingLevelIsNotFoundAndNamed(t *testing.T) {
	c, _ := startACM(t, gcpfake.Options{})
	ctx := context.Background()
	missing := policy + "/accessLevels/missing"
	_, err := c.AccessLevels().Get(ctx, missing)
	if gcp.Classify(err) != gcp.NotFound || gcp.Resource(err) != missing || gcp.Op(err) != "read access level" {
		t.Errorf("Get of a missing level: class %v, resource %q, op %q (%v)", gcp.Classify(err), gcp.Resource(err), gcp.Op(err), err)
	}
	if err := c.AccessLevels().Delete(ctx, missing); gcp.Classify(err) != gcp.NotFound {
		t.Errorf("Delete of a missing level: %v", err)
	}
	p, err := c.AccessLevels().Policy(ctx, policy)
	if err != nil || p.GetParent() != "organizations/999999999999" {
		t.Errorf("Policy = %v, %v", p, err)
	}
	_, err = c.AccessLevels().Policy(ctx, "accessPolicies/404")
	if gcp.Classify(err) != gcp.PermissionDenied || gcp.Permission(err) != "accesscontextmanager.policies.get" {
		t.Errorf("Policy of a missing policy: class %v, permission %q", gcp.Classify(err), gcp.Permission(err))
	}
}

// Google's refusal of an invalid level is Rejected: retrying the same write will not help.
func TestAccessLevels_InvalidLevelIsRejected(t *testing.T) {
	c, _ := startACM(t, gcpfake.Options{})
	_, err := c.AccessLevels().Create(context.Background(), ipLevel(policy+"/accessLevels/bad", "Bad", "192.0.2.1/24"))
	if gcp.Classify(err) != gcp.Rejected || gcp.Permission(err) != "accesscontextmanager.accessLevels.create" {
		t.Errorf("Create of an invalid level: class %v, permission %q (%v)", gcp.Classify(err), gcp.Permission(err), err)
	}
}

// In an ObserveOnly context the adapter reads but writes nothing.
func TestAccessLevels_ObserveOnlyRefusesWrites(t *testing.T) {
	c, fake := startACM(t, gcpfake.Options{})
	ctx := gcp.ObserveOnly(context.Background())
	levels := c.AccessLevels()
	if _, err := levels.Get(ctx, corpLevel); err != nil {
		t.Fatalf("an observing Get: %v", err)
	}
	_, createErr := levels.Create(ctx, ipLevel(policy+"/accessLevels/office", "Office", "198.51.100.0/24"))
	_, updateErr := levels.Update(ctx, ipLevel(corpLevel, "Wider", "0.0.0.0/0"), []string{"title", "basic"})
	deleteErr := levels.Delete(ctx, corpLevel)
	for _, err := range []error{createErr, updateErr, deleteErr} {
		if !errors.Is(err, gcp.ErrObserveOnly) {
			t.Errorf("an observing write = %v, want ErrObserveOnly", err)
		}
	}
	for _, call := range fake.Calls() {
		if call.Write {
			t.Errorf("an observing adapter wrote: %s %s", call.Method, call.Resource)
		}
	}
	if l, _ := fake.AccessLevel(corpLevel); l.GetTitle() != "Corporate network" {
		t.Errorf("the level changed: %v", l)
	}
}

// A malformed Access Context Manager endpoint is a configuration error at start, although the
// client is dialled only when first used.
func TestNew_RejectsAMalformedAccessContextManagerEndpoint(t *testing.T) {
	_, err := gcp.New(context.Background(), gcp.Config{ACMEndpoint: "not-a-host-port"})
	if err == nil || !strings.Contains(err.Error(), "Access Context Manager endpoint") {
		t.Errorf("New = %v, want an Access Context Manager endpoint error", err)
	}
}

// The fake's audit entry of a level widened in the console reaches runguard's subscription and
// names the level to auditlog.
func TestAccessLevels_ConsoleEditArrivesAsAnAuditEntryNamingTheLevel(t *testing.T) {
	ps := startPubSub(t, true)
	_, fake := startACM(t, gcpfake.Options{Audit: gcpfake.AuditOptions{PubSubEndpoint: ps.Addr, Topic: "projects/p/topics/audit"}})
	if err := fake.UpdateAccessLevelOutOfBand(corpLevel, func(l *accesscontextmanagerpb.AccessLevel) {
		l.GetBasic().GetConditions()[0].IpSubnetworks = []string{"0.0.0.0/0"}
	}); err != nil {
		t.Fatal(err)
	}
	sub, err := gcp.NewAuditSubscription(context.Background(), "projects/p/subscriptions/audit", ps.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var name string
	var parseErr error
	err = sub.Receive(ctx, func(data []byte) {
		var e auditlog.Entry
		e, parseErr = auditlog.Parse(data)
		name, _ = auditlog.AccessLevelName(e)
		cancel()
	})
	if err != nil || parseErr != nil || name != corpLevel {
		t.Errorf("received %q (Receive %v, Parse %v), want %s", name, err, parseErr, corpLevel)
	}
}

// Clients acting as a service account read access levels with that account's token: what it
// may read comes back, and what it may not is PermissionDenied naming the permission. They write
// none: levels are written as runguard's own identity.
func TestAccessLevels_ActingAsReadsWithItsOwnToken(t *testing.T) {
	const reader, stranger = "reader@ops-project.iam.gserviceaccount.com", "stranger@ops-project.iam.gserviceaccount.com"
	own := "serviceAccount:runguard@ops-project.iam.gserviceaccount.com"
	c, fake := startACM(t, gcpfake.Options{HTTPAddr: "127.0.0.1:0", Seed: gcpfake.Seed{DefaultCaller: own,
		ServiceAccounts: []gcpfake.ServiceAccount{{Email: reader, TokenCreators: []string{own}}, {Email: stranger, TokenCreators: []string{own}}}}})
	if err := fake.Grant(policy, "serviceAccount:"+reader, "roles/accesscontextmanager.policyReader"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acting := func(account string) gcp.AccessLevels {
		t.Helper()
		a, err := c.ActingAs(ctx, account)
		if err != nil {
			t.Fatal(err)
		}
		return a.AccessLevels()
	}
	if got, err := acting(reader).Get(ctx, corpLevel); err != nil || got.GetTitle() != "Corporate network" {
		t.Fatalf("Get as the reader = %v, %v", got, err)
	}
	if caller := lastCaller(fake, "acm.GetAccessLevel"); caller != "serviceAccount:"+reader {
		t.Errorf("GetAccessLevel made by %q, want the reader", caller)
	}
	_, err := acting(stranger).Get(ctx, corpLevel)
	if gcp.Classify(err) != gcp.PermissionDenied || gcp.Permission(err) != "accesscontextmanager.accessLevels.get" {
		t.Errorf("Get as an account without a grant: class %v, permission %q (%v)", gcp.Classify(err), gcp.Permission(err), err)
	}
	if _, err := acting(reader).Create(ctx, ipLevel(policy+"/accessLevels/office", "Office", "198.51.100.0/24")); err == nil {
		t.Error("Create as the reader succeeded, want it refused: levels are written as runguard's own identity")
	}
	for _, call := range fake.Calls() {
		if call.Write {
			t.Errorf("an acting adapter wrote: %s %s", call.Method, call.Resource)
		}
	}
}
