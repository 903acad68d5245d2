package gcpfake_test

import (
	"encoding/json"
	"regexp"
	"testing"

	accesscontextmanager "cloud.google.com/go/accesscontextmanager/apiv1"
	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runguard/runguard/internal/gcpfake"
)

const (
	orgPolicy    = "accessPolicies/111111111111"
	scopedPolicy = "accessPolicies/222222222222"
	acmOrg       = "organizations/999999999999"
	corpLevel    = orgPolicy + "/accessLevels/corp"
)

// acmSeed is testSeed with an organization-level access policy holding one level, and a policy
// scoped to proj-alpha.
func acmSeed() gcpfake.Seed {
	seed := testSeed()
	corp, _ := protojson.Marshal(ipLevel(corpLevel, "Corporate network", "192.0.2.0/24"))
	seed.AccessPolicies = []gcpfake.AccessPolicy{
		{Name: orgPolicy, Parent: acmOrg, Title: "org policy", AccessLevels: []json.RawMessage{corp}},
		{Name: scopedPolicy, Parent: acmOrg, Title: "alpha policy", Scopes: []string{"projects/123456789012"}},
	}
	return seed
}

// ipLevel is a basic level admitting requests from the subnetworks.
func ipLevel(name, title string, subnetworks ...string) *accesscontextmanagerpb.AccessLevel {
	return &accesscontextmanagerpb.AccessLevel{Name: name, Title: title, Level: &accesscontextmanagerpb.AccessLevel_Basic{
		Basic: &accesscontextmanagerpb.BasicLevel{Conditions: []*accesscontextmanagerpb.Condition{{IpSubnetworks: subnetworks}}}}}
}

// acmClient is the official Access Context Manager client over tr, pointed at s.
func acmClient(t *testing.T, s *gcpfake.Server, tr transport) *accesscontextmanager.Client {
	t.Helper()
	var c *accesscontextmanager.Client
	var err error
	if tr == overREST {
		c, err = accesscontextmanager.NewRESTClient(ctxT(t), s.RESTClientOptions()...)
	} else {
		c, err = accesscontextmanager.NewClient(ctxT(t), s.ClientOptions()...)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startACM starts a fake seeded with acmSeed (unless opts has a seed) and connects over tr.
func startACM(t *testing.T, tr transport, opts gcpfake.Options) (*gcpfake.Server, *accesscontextmanager.Client) {
	t.Helper()
	if opts.Seed.Projects == nil {
		opts.Seed = acmSeed()
	}
	f := startFakeOver(t, tr, opts)
	return f.Server, acmClient(t, f.Server, tr)
}

// An operation is named as Google names them: operations/{level}/{verb}/{id}.
var levelOperation = regexp.MustCompile(`^operations/accessPolicies/111111111111/accessLevels/office/(create|update|delete)/[0-9]+$`)

// Create, read, update a field named in the mask and delete, each change followed to its end
// with Wait, through the official client on both transports.
func TestACM_LevelLifecycleThroughTheOfficialClient(t *testing.T) {
	for _, deferred := range []bool{false, true} {
		for _, tr := range transports {
			t.Run(string(tr)+map[bool]string{true: "/deferred operations"}[deferred], func(t *testing.T) {
				s, c := startACM(t, tr, gcpfake.Options{ACMDeferOperations: deferred})
				ctx := ctxT(t)
				office := ipLevel(orgPolicy+"/accessLevels/office", "Office", "198.51.100.0/24", "2001:db8::/48")
				op, err := c.CreateAccessLevel(ctx, &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: orgPolicy, AccessLevel: office})
				if err != nil {
					t.Fatal(err)
				}
				if !levelOperation.MatchString(op.Name()) || op.Done() == deferred {
					t.Errorf("operation %q done %v; want Google's form, done %v", op.Name(), op.Done(), !deferred)
				}
				created, err := op.Wait(ctx)
				if err != nil || !proto.Equal(created, office) {
					t.Fatalf("Wait = %v, %v; want %v", created, err, office)
				}
				update := &accesscontextmanagerpb.AccessLevel{Name: office.Name, Title: "Head office", Description: "not in the mask"}
				uop, err := c.UpdateAccessLevel(ctx, &accesscontextmanagerpb.UpdateAccessLevelRequest{AccessLevel: update, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
				if err != nil {
					t.Fatal(err)
				}
				updated, err := uop.Wait(ctx)
				want := proto.Clone(office).(*accesscontextmanagerpb.AccessLevel)
				want.Title = "Head office"
				if err != nil || !proto.Equal(updated, want) {
					t.Fatalf("masked update = %v, %v; want only the title changed: %v", updated, err, want)
				}
				if got, err := c.GetAccessLevel(ctx, &accesscontextmanagerpb.GetAccessLevelRequest{Name: office.Name}); err != nil || !proto.Equal(got, want) {
					t.Errorf("GetAccessLevel = %v, %v; want %v", got, err, want)
				}
				dop, err := c.DeleteAccessLevel(ctx, &accesscontextmanagerpb.DeleteAccessLevelRequest{Name: office.Name})
				if err == nil {
					err = dop.Wait(ctx)
				}
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.GetAccessLevel(ctx, &accesscontextmanagerpb.GetAccessLevelRequest{Name: office.Name})
				wantCode(t, err, codes.NotFound)
				if n := s.CallCounts()["acmoperations.GetOperation"]; deferred != (n > 0) {
					t.Errorf("GetOperation called %d times (deferred %v)", n, deferred)
				}
			})
		}
	}
}

// A mask path inside a field replaces only that part, as Google answered a PATCH of
// updateMask=basic.conditions; a field the mask does not allow is refused.
func TestACM_UpdateMaskNamesWhatChanges(t *testing.T) {
	s, c := startACM(t, overGRPC, gcpfake.Options{})
	ctx := ctxT(t)
	wider := ipLevel(corpLevel, "ignored: not in the mask", "192.0.2.0/24", "203.0.113.0/24")
	op, err := c.UpdateAccessLevel(ctx, &accesscontextmanagerpb.UpdateAccessLevelRequest{AccessLevel: wider, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"basic.conditions"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := op.Wait(ctx)
	if err != nil || got.GetTitle() != "Corporate network" || len(got.GetBasic().GetConditions()[0].GetIpSubnetworks()) != 2 {
		t.Fatalf("updated = %v, %v", got, err)
	}
	for _, paths := range [][]string{{"name"}, {"create_time"}, {"basic.nonsense"}, {"etag"}, nil} {
		_, err := c.UpdateAccessLevel(ctx, &accesscontextmanagerpb.UpdateAccessLevelRequest{AccessLevel: wider, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		st := wantCode(t, err, codes.InvalidArgument)
		if br := badRequest(st); br == nil || br.GetFieldViolations()[0].GetField() != "update_mask" {
			t.Errorf("mask %v: details %v, want a violation of update_mask", paths, st.Details())
		}
	}
	if l, _ := s.AccessLevel(corpLevel); len(l.GetBasic().GetConditions()[0].GetIpSubnetworks()) != 2 {
		t.Errorf("a refused update changed the level: %v", l)
	}
}

// Names that exist, or do not, are answered as Google answers them.
func TestACM_ExistenceIsAnsweredWithGooglesCodes(t *testing.T) {
	_, c := startACM(t, overGRPC, gcpfake.Options{})
	ctx := ctxT(t)
	_, err := c.CreateAccessLevel(ctx, &accesscontextmanagerpb.CreateAccessLevelRequest{Parent: orgPolicy, AccessLevel: ipLevel(corpLevel, "Another title", "192.0.2.0/24")})
	wantCode(t, err, codes.AlreadyExists)
	missing := orgPolicy + "/accessLevels/missing"
	_, err = c.GetAccessLevel(ctx, &accesscontextmanagerpb.GetAccessLevelRequest{Name: missing})
	wantCode(t, err, codes.NotFound)
	_, err = c.UpdateAccessLevel(ctx, &accesscontextmanagerpb.UpdateAccessLevelRequest{AccessLevel: ipLevel(missing, "x", "192.0.2.0/24"), UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	wantCode(t, err, codes.NotFound)
	_, err = c.DeleteAccessLevel(ctx, &accesscontextmanagerpb.DeleteAccessLevelRequest{Name: missing})
	wantCode(t, err, codes.NotFound)
	// A policy that does not exist cannot be told from one the caller may not use.
	_, err = c.GetAccessLevel(ctx, &accesscontextmanagerpb.GetAccessLevelRequest{Name: "accessPolicies/404/accessLevels/corp"})
	if ei := errorInfo(wantCode(t, err, codes.PermissionDenied)); ei.GetMetadata()["permission"] != "accesscontextmanager.accessLevels.get" {
		t.Errorf("ErrorInfo = %v", ei)
	}
	_, err = c.GetAccessPolicy(ctx, &accesscontextmanagerpb.GetAccessPolicyRequest{Name: "accessPolicies/404"})
	wantCode(t, err, codes.PermissionDenied)
}

// Policies come from the seed: the scoped one says its scope, and a change of one of its levels
// gives a policy a new etag.
func TestACM_PoliciesAreSeededAndTheirEtagFollowsTheirLevels(t *testing.T) {
	_, c := startACM(t, overREST, gcpfake.Options{})
	ctx := ctxT(t)
	it := c.ListAccessPolicies(ctx, &accesscontextmanagerpb.ListAccessPoliciesRequest{Parent: acmOrg})
	var names []string
	for p, err := it.Next(); err == nil; p, err = it.Next() {
		names = append(names, p.GetName())
	}
	if len(names) != 2 || names[0] != orgPolicy || names[1] != scopedPolicy {
		t.Errorf("ListAccessPolicies = %v", names)
	}
	scoped, err := c.GetAccessPolicy(ctx, &accesscontextmanagerpb.GetAccessPolicyRequest{Name: scopedPolicy})
	if err != nil || len(scoped.GetScopes()) != 1 || scoped.GetParent() != acmOrg || scoped.GetEtag() == "" {
		t.Fatalf("scoped policy = %v, %v", scoped, err)
	}
	before, _ := c.GetAccessPolicy(ctx, &accesscontextmanagerpb.GetAccessPolicyRequest{Name: orgPolicy})
	op, err := c.DeleteAccessLevel(ctx, &accesscontextmanagerpb.DeleteAccessLevelRequest{Name: corpLevel})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	after, _ := c.GetAccessPolicy(ctx, &accesscontextmanagerpb.GetAccessPolicyRequest{Name: orgPolicy})
	if before.GetEtag() == "" || before.GetEtag() == after.GetEtag() {
		t.Errorf("etag %q before and %q after a level's deletion", before.GetEtag(), after.GetEtag())
	}
	levels := c.ListAccessLevels(ctx, &accesscontextmanagerpb.ListAccessLevelsRequest{Parent: orgPolicy})
	if l, err := levels.Next(); err == nil {
		t.Errorf("ListAccessLevels after the deletion: %v", l)
	}
}
