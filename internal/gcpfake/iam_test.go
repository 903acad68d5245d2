package gcpfake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	runv1 "google.golang.org/api/run/v1"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runguard/runguard/internal/gcpfake"
)

// surface is one of the two IAM policies the controller edits, as one API
// serves it.
type surface struct {
	name     string
	resource string
	role     string
	restOnly bool
	get      func(ctx context.Context, f *fake, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error)
	set      func(ctx context.Context, f *fake, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error)
}

var surfaces = []surface{
	{
		name: "CloudRunService", resource: helloName, role: "roles/run.invoker",
		get: func(ctx context.Context, f *fake, r *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
			return f.run.GetIamPolicy(ctx, r)
		},
		set: func(ctx context.Context, f *fake, r *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
			return f.run.SetIamPolicy(ctx, r)
		},
	},
	{
		// The Admin API v1 paths gcloud uses, on the same policy, through
		// Google's discovery-based client (google.golang.org/api/run/v1).
		name: "CloudRunServiceV1", resource: helloName, role: "roles/run.invoker", restOnly: true,
		get: func(ctx context.Context, f *fake, r *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
			call := runV1(f).Projects.Locations.Services.GetIamPolicy(r.GetResource()).Context(ctx)
			if v := r.GetOptions().GetRequestedPolicyVersion(); v != 0 {
				call = call.OptionsRequestedPolicyVersion(int64(v))
			}
			return policyFromV1(call.Do())
		},
		set: func(ctx context.Context, f *fake, r *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
			var req runv1.SetIamPolicyRequest
			if err := convertJSON(r, &req); err != nil {
				return nil, err
			}
			return policyFromV1(runV1(f).Projects.Locations.Services.SetIamPolicy(r.GetResource(), &req).Context(ctx).Do())
		},
	},
	{
		name: "IAP", resource: helloIAP, role: "roles/iap.httpsResourceAccessor",
		get: func(ctx context.Context, f *fake, r *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
			return f.iap.GetIamPolicy(ctx, r)
		},
		set: func(ctx context.Context, f *fake, r *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
			return f.iap.SetIamPolicy(ctx, r)
		},
	},
}

func runV1(f *fake) *runv1.APIService {
	svc, err := runv1.NewService(context.Background(), f.RESTClientOptions()...)
	if err != nil {
		panic(err) // only options are checked; no I/O
	}
	return svc
}

// convertJSON re-reads a proto message's JSON form as a
// google.golang.org/api type: both are the API's JSON.
func convertJSON(from proto.Message, to any) error {
	b, err := protojson.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

func policyFromV1(p *runv1.Policy, err error) (*iampb.Policy, error) {
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	out := &iampb.Policy{}
	return out, protojson.Unmarshal(b, out)
}

func v3() *iampb.GetPolicyOptions { return &iampb.GetPolicyOptions{RequestedPolicyVersion: 3} }

func cond(title, expression string) *expr.Expr {
	return &expr.Expr{Title: title, Expression: expression}
}

// forEachSurface runs fn for every surface over every transport that
// serves it, each on a fresh fake.
func forEachSurface(t *testing.T, fn func(t *testing.T, f *fake, s surface)) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			for _, s := range surfaces {
				if s.restOnly && tr != overREST {
					continue
				}
				t.Run(s.name, func(t *testing.T) { fn(t, startFakeOver(t, tr, gcpfake.Options{}), s) })
			}
		})
	}
}

func bindingMembers(p *iampb.Policy, role string) []string {
	var out []string
	for _, b := range p.GetBindings() {
		if b.Role == role {
			out = append(out, b.Members...)
		}
	}
	return out
}

func TestSetIamPolicy_StaleEtagFailsAborted(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		p, err := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: v3()})
		if err != nil {
			t.Fatal(err)
		}
		first := &iampb.Policy{Version: 3, Etag: p.Etag, Bindings: []*iampb.Binding{{Role: s.role, Members: []string{"user:alice@example.com"}}}}
		got, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: first})
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Etag) == string(p.Etag) {
			t.Error("a write must produce a new etag")
		}
		stale := &iampb.Policy{Version: 3, Etag: p.Etag, Bindings: []*iampb.Binding{{Role: s.role, Members: []string{"user:bob@example.com"}}}}
		_, err = s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: stale})
		st := wantCode(t, err, codes.Aborted)
		if !strings.HasPrefix(st.Message(), "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.") {
			t.Errorf("message = %q", st.Message())
		}
	})
}

func TestSetIamPolicy_WithoutEtagOverwrites(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		for _, m := range []string{"user:alice@example.com", "user:bob@example.com"} {
			if _, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: s.role, Members: []string{m}}}}}); err != nil {
				t.Fatal(err)
			}
		}
		p, _ := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: v3()})
		if got := bindingMembers(p, s.role); len(got) != 1 || got[0] != "user:bob@example.com" {
			t.Errorf("members = %v, want only the last write's", got)
		}
	})
}

func TestSetIamPolicy_ConditionalBindingNeedsVersion3(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		p := &iampb.Policy{Version: 1, Bindings: []*iampb.Binding{{Role: s.role, Members: []string{"user:alice@example.com"}, Condition: cond("until 2030", `request.time < timestamp("2030-01-01T00:00:00Z")`)}}}
		_, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: p})
		wantCode(t, err, codes.InvalidArgument)
		p.Version = 3
		got, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: p})
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 3 || got.Bindings[0].Condition == nil {
			t.Errorf("response = %v, want version 3 with the condition", got)
		}
	})
}

func TestGetIamPolicy_VersionDecidesHowConditionsShow(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		c := cond("office hours", `request.time.getHours("Europe/Berlin") >= 9`)
		if _, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{
			{Role: s.role, Members: []string{"user:alice@example.com"}, Condition: c},
			{Role: s.role, Members: []string{"user:bob@example.com"}},
		}}}); err != nil {
			t.Fatal(err)
		}
		full, err := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: v3()})
		if err != nil {
			t.Fatal(err)
		}
		if full.Version != 3 || len(full.Bindings) != 2 {
			t.Fatalf("version 3 read = %v", full)
		}
		for _, opts := range []*iampb.GetPolicyOptions{nil, {RequestedPolicyVersion: 1}} {
			v1, err := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			if v1.Version != 1 {
				t.Errorf("version = %d, want 1", v1.Version)
			}
			var withcond int
			for _, b := range v1.Bindings {
				if b.Condition != nil {
					t.Errorf("version 1 read shows a condition: %v", b)
				}
				if strings.HasPrefix(b.Role, s.role+"_withcond_") {
					withcond++
				}
			}
			if withcond != 1 {
				t.Errorf("version 1 read = %v, want one %s_withcond_<hash> binding", v1, s.role)
			}
		}
	})
}

func TestGetIamPolicy_UnconditionalPolicyIsVersion1EvenWhen3Requested(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		if _, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{{Role: s.role, Members: []string{"user:alice@example.com"}}}}}); err != nil {
			t.Fatal(err)
		}
		p, err := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: v3()})
		if err != nil || p.Version != 1 {
			t.Errorf("version = %d (%v), want 1", p.GetVersion(), err)
		}
	})
}

func TestGetIamPolicy_InvalidRequestedVersionFails(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		_, err := s.get(ctxT(t), f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 2}})
		wantCode(t, err, codes.InvalidArgument)
	})
}

func TestSetIamPolicy_Version1WriteWithEtagOntoConditionalPolicyFails(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		if _, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{
			{Role: s.role, Members: []string{"user:alice@example.com"}, Condition: cond("t", "request.path.startsWith('/a')")},
		}}}); err != nil {
			t.Fatal(err)
		}
		v1, _ := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource})
		v1.Bindings = append(v1.Bindings, &iampb.Binding{Role: s.role, Members: []string{"user:bob@example.com"}})
		_, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: v1})
		st := wantCode(t, err, codes.InvalidArgument)
		if !strings.Contains(st.Message(), "cannot be less than the existing policy version (3)") {
			t.Errorf("message = %q", st.Message())
		}
		// Without an etag the check is skipped and the conditions are lost.
		v1.Etag = nil
		if _, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: v1}); err != nil {
			t.Fatal(err)
		}
		stored, _ := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: v3()})
		for _, b := range stored.Bindings {
			if b.Condition != nil {
				t.Errorf("etag-less version-1 write kept a condition: %v", stored)
			}
		}
	})
}

func TestSetIamPolicy_InvalidMembersFailNamingTheMember(t *testing.T) {
	cases := []struct{ member, want string }{
		{"alice@example.com", "The member alice@example.com is of an unknown type. Please set a valid type prefix for the member."},
		{"users:alice@example.com", "The member users:alice@example.com is of an unknown type"},
		{"user:not-an-email", "user:not-an-email"},
		{"user:carol@example.com", "User carol@example.com does not exist."},
		{"group:nobody@example.com", "Group nobody@example.com does not exist."},
		{"serviceAccount:ghost@proj-alpha.iam.gserviceaccount.com", "Service account ghost@proj-alpha.iam.gserviceaccount.com does not exist."},
		{"principal://elsewhere/x", "principal://elsewhere/x"},
		{"deleted:user:alice@example.com", "deleted:user:alice@example.com"},
	}
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		for _, c := range cases {
			_, err := s.set(ctxT(t), f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: s.role, Members: []string{c.member}}}}})
			st := wantCode(t, err, codes.InvalidArgument)
			if !strings.Contains(st.Message(), c.want) {
				t.Errorf("%s: message %q does not contain %q", c.member, st.Message(), c.want)
			}
		}
	})
}

func TestSetIamPolicy_StoresEmailMembersLowerCasedAndPrincipalsExactly(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		principal := "principal://iam.googleapis.com/locations/global/workforcePools/Pool/subject/Dana@Example.com"
		deleted := "deleted:user:Old@Example.com?uid=123456789012345678901"
		got, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: &iampb.Policy{Bindings: []*iampb.Binding{
			{Role: s.role, Members: []string{"user:Alice@Example.COM", "domain:Example.com", principal, deleted, "allAuthenticatedUsers"}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"user:alice@example.com": true, "domain:example.com": true, principal: true, deleted: true, "allAuthenticatedUsers": true}
		for _, m := range bindingMembers(got, s.role) {
			if !want[m] {
				t.Errorf("unexpected stored member %q", m)
			}
			delete(want, m)
		}
		if len(want) > 0 {
			t.Errorf("missing members %v", want)
		}
	})
}

func TestSetIamPolicy_MergesSameRoleAndConditionAndDropsEmptyBindings(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		c := cond("t", "request.host == 'a.example.com'")
		got, err := s.set(ctxT(t), f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{
			{Role: s.role, Members: []string{"user:alice@example.com"}},
			{Role: s.role, Members: []string{"user:bob@example.com", "user:alice@example.com"}},
			{Role: s.role, Members: []string{"user:alice@example.com"}, Condition: c},
			{Role: s.role, Members: []string{"user:bob@example.com"}, Condition: cond("t", "request.host == 'a.example.com'")},
			{Role: "roles/viewer", Members: nil},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Bindings) != 2 {
			t.Fatalf("bindings = %v, want two (one unconditional, one conditional)", got.Bindings)
		}
		for _, b := range got.Bindings {
			if len(b.Members) != 2 {
				t.Errorf("binding %v: want alice and bob merged", b)
			}
		}
	})
}

func TestSetIamPolicy_EnforcesDocumentedLimits(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		set := func(p *iampb.Policy) error {
			_, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: p})
			return err
		}
		domains := func(n int) []string {
			var out []string
			for i := range n {
				out = append(out, fmt.Sprintf("domain:d%d.example.com", i))
			}
			return out
		}
		st := wantCode(t, set(&iampb.Policy{Bindings: []*iampb.Binding{{Role: s.role, Members: domains(1501)}}}), codes.InvalidArgument)
		if st.Message() != "The number of members in the policy (1,501) is larger than the maximum allowed size 1,500." {
			t.Errorf("message = %q", st.Message())
		}
		if err := set(&iampb.Policy{Bindings: []*iampb.Binding{{Role: s.role, Members: domains(1500)}}}); err != nil {
			t.Errorf("1,500 principals must be accepted: %v", err)
		}
		// Each occurrence counts.
		wantCode(t, set(&iampb.Policy{Bindings: []*iampb.Binding{
			{Role: s.role, Members: domains(1000)}, {Role: "roles/run.viewer", Members: domains(501)},
		}}), codes.InvalidArgument)

		var conditional []*iampb.Binding
		for i := range 21 {
			conditional = append(conditional, &iampb.Binding{Role: s.role, Members: []string{"user:alice@example.com"}, Condition: cond(fmt.Sprint(i), fmt.Sprintf("request.path == '/%d'", i))})
		}
		wantCode(t, set(&iampb.Policy{Version: 3, Bindings: conditional}), codes.InvalidArgument)
		if err := set(&iampb.Policy{Version: 3, Bindings: conditional[:20]}); err != nil {
			t.Errorf("20 conditional bindings per role and member must be accepted: %v", err)
		}

		ops := strings.Repeat("request.path == '/a' || ", 13) + "true"
		wantCode(t, set(&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{{Role: s.role, Members: []string{"user:alice@example.com"}, Condition: cond("t", ops)}}}), codes.InvalidArgument)
		wantCode(t, set(&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{{Role: s.role, Members: []string{"user:alice@example.com"}, Condition: cond("t", "request.path ==")}}}), codes.InvalidArgument)
		wantCode(t, set(&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{{Role: s.role, Members: []string{"user:alice@example.com"}, Condition: cond("", "true")}}}), codes.InvalidArgument)
		wantCode(t, set(&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{{Role: s.role, Members: []string{"allUsers"}, Condition: cond("t", "true")}}}), codes.InvalidArgument)
	})
}

func TestSetIamPolicy_GroupLimitIs250(t *testing.T) {
	var groups []string
	for i := range 251 {
		groups = append(groups, fmt.Sprintf("group:g%d@example.com", i))
	}
	seed := testSeed()
	seed.Projects[0].Principals = append(seed.Projects[0].Principals, groups...)
	forEachTransport(t, gcpfake.Options{Seed: seed}, func(t *testing.T, f *fake) {
		_, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: helloName, Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: groups}}}})
		wantCode(t, err, codes.InvalidArgument)
		if _, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: helloName, Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: groups[:250]}}}}); err != nil {
			t.Errorf("250 groups must be accepted: %v", err)
		}
	})
}

func TestSetIamPolicy_AuditConfigsChangeOnlyWhenMasked(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		ac := []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ, ExemptedMembers: []string{"user:Alice@example.com"}}}}}
		got, err := s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: &iampb.Policy{AuditConfigs: ac}})
		if err != nil || len(got.AuditConfigs) != 0 {
			t.Fatalf("default mask (bindings, etag) must leave audit_configs alone: %v %v", got, err)
		}
		got, err = s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: &iampb.Policy{AuditConfigs: ac}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"audit_configs"}}})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: v3()})
		if len(p.AuditConfigs) != 1 || p.AuditConfigs[0].AuditLogConfigs[0].ExemptedMembers[0] != "user:alice@example.com" {
			t.Errorf("audit configs = %v (set returned %v)", p.AuditConfigs, got.AuditConfigs)
		}
	})
}

func TestSetIamPolicy_ConcurrentReadModifyWriteLosesNoMember(t *testing.T) {
	forEachSurface(t, func(t *testing.T, f *fake, s surface) {
		ctx := ctxT(t)
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				member := fmt.Sprintf("user:worker%d@example.com", i)
				for attempt := 0; attempt < 100; attempt++ {
					p, err := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: v3()})
					if err != nil {
						errs <- err
						return
					}
					p.Version = 3
					p.Bindings = append(p.Bindings, &iampb.Binding{Role: s.role, Members: []string{member}})
					_, err = s.set(ctx, f, &iampb.SetIamPolicyRequest{Resource: s.resource, Policy: p})
					if err == nil {
						return
					}
					if st := codeOf(err); st != codes.Aborted {
						errs <- err
						return
					}
				}
				errs <- fmt.Errorf("%s: too many ABORTED retries", member)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		p, _ := s.get(ctx, f, &iampb.GetIamPolicyRequest{Resource: s.resource, Options: v3()})
		got := map[string]bool{}
		for _, m := range bindingMembers(p, s.role) {
			got[m] = true
		}
		for i := range 10 {
			if !got[fmt.Sprintf("user:worker%d@example.com", i)] {
				t.Errorf("worker%d lost: %v", i, p)
			}
		}
	})
}

func TestTestIamPermissions_EchoesPermissionsOfTheService(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		resp, err := f.run.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: helloName, Permissions: []string{"run.services.setIamPolicy", "iap.webServiceVersions.accessViaIAP"}})
		if err != nil || len(resp.Permissions) != 1 || resp.Permissions[0] != "run.services.setIamPolicy" {
			t.Errorf("run: %v %v", resp, err)
		}
		resp, err = f.iap.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: helloIAP, Permissions: []string{"iap.webServices.setIamPolicy"}})
		if err != nil || len(resp.Permissions) != 1 {
			t.Errorf("iap: %v %v", resp, err)
		}
		_, err = f.run.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: helloName, Permissions: []string{"run.*"}})
		wantCode(t, err, codes.InvalidArgument)
	})
}

func TestTestIamPermissions_CloudRunV1PathAnswersLikeV2(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	resp, err := runV1(f).Projects.Locations.Services.TestIamPermissions(helloName, &runv1.TestIamPermissionsRequest{
		Permissions: []string{"run.services.setIamPolicy", "iap.webServiceVersions.accessViaIAP"},
	}).Context(ctxT(t)).Do()
	if err != nil || len(resp.Permissions) != 1 || resp.Permissions[0] != "run.services.setIamPolicy" {
		t.Errorf("v1 testIamPermissions: %v %v", resp, err)
	}
	if n := f.CallCounts()["run.TestIamPermissions"]; n != 1 {
		t.Errorf("call log counted %d run.TestIamPermissions, want 1", n)
	}
}

func TestSetIamPolicy_MissingServiceFailsNotFound(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.run.SetIamPolicy(ctxT(t), &iampb.SetIamPolicyRequest{Resource: "projects/proj-alpha/locations/us-central1/services/ghost", Policy: &iampb.Policy{}})
		wantCode(t, err, codes.NotFound)
	})
}

func TestServicePolicy_SeedsPublicAsAllUsersInvoker(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	p, ok := f.ServicePolicy(helloName)
	if !ok || len(bindingMembers(p, "roles/run.invoker")) != 1 || bindingMembers(p, "roles/run.invoker")[0] != "allUsers" {
		t.Errorf("hello policy = %v", p)
	}
	p, ok = f.ServicePolicy(privateName)
	if !ok || len(p.Bindings) != 0 || string(p.Etag) != "\x00\x20\x01" {
		t.Errorf("a never-set policy must be empty with etag ACAB: %v", p)
	}
}
