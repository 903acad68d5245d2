package gcpfake_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runguard/runguard/internal/gcpfake"
)

func template(image string) *runpb.RevisionTemplate {
	return &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: image}}}
}

func TestGetService_ReturnsSeededServiceReadyAndReconciled(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		svc, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: helloName})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Reconciling || svc.ObservedGeneration != svc.Generation || svc.Generation != 1 {
			t.Errorf("want a settled generation-1 service, got generation %d observed %d reconciling %v", svc.Generation, svc.ObservedGeneration, svc.Reconciling)
		}
		if tc := svc.TerminalCondition; tc.GetType() != "Ready" || tc.GetState() != runpb.Condition_CONDITION_SUCCEEDED {
			t.Errorf("terminal condition = %v, want Ready/CONDITION_SUCCEEDED", tc)
		}
		if svc.Ingress != runpb.IngressTraffic_INGRESS_TRAFFIC_ALL {
			t.Errorf("ingress = %v, want default INGRESS_TRAFFIC_ALL", svc.Ingress)
		}
		if !regexp.MustCompile(`^https://hello-[a-z0-9]{10}-uc\.a\.run\.app$`).MatchString(svc.Uri) {
			t.Errorf("uri = %q, want https://hello-{hash}-uc.a.run.app", svc.Uri)
		}
		if svc.Etag == "" || svc.Uid == "" || svc.LatestReadyRevision == "" {
			t.Errorf("etag, uid and latest_ready_revision must be set: %v", svc)
		}
	})
}

func TestGetService_MissingServiceFailsNotFoundWithGoogleMessage(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: "projects/proj-alpha/locations/us-central1/services/nope"})
		st := wantCode(t, err, codes.NotFound)
		if want := "Resource 'nope' of kind 'SERVICE' in region 'us-central1' in project 'proj-alpha' does not exist."; st.Message() != want {
			t.Errorf("message = %q, want %q", st.Message(), want)
		}
	})
}

func TestGetService_UnknownProjectFailsPermissionDenied(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: "projects/proj-ghost/locations/us-central1/services/hello"})
		st := wantCode(t, err, codes.PermissionDenied)
		if ei := errorInfo(st); ei.GetReason() != "IAM_PERMISSION_DENIED" || ei.GetMetadata()["permission"] != "run.services.get" {
			t.Errorf("ErrorInfo = %v, want IAM_PERMISSION_DENIED for run.services.get", ei)
		}
	})
}

func TestGetService_AcceptsProjectNumberAndAnswersWithProjectID(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		svc, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: fmt.Sprintf("projects/%d/locations/us-central1/services/hello", alphaNumber)})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Name != helloName {
			t.Errorf("name = %q, want %q", svc.Name, helloName)
		}
	})
}

func TestGetService_MalformedNameFailsWithFieldViolation(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		names := []string{"projects/proj-alpha/locations/us-central1/services/Bad_Name", "projects/proj-alpha/locations/nowhere/services/hello"}
		if f.transport == overGRPC {
			names = append(names, "hello")
		} else {
			// Over REST a name outside the URL template reaches no method.
			_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: "hello"})
			wantCode(t, err, codes.NotFound)
		}
		for _, name := range names {
			_, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: name})
			st := wantCode(t, err, codes.InvalidArgument)
			if br := badRequest(st); len(br.GetFieldViolations()) == 0 {
				t.Errorf("%s: no google.rpc.BadRequest field violation in %v", name, st.Details())
			}
		}
	})
}

func TestCreateService_CreatesAndOperationCompletesWithService(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		op, err := f.run.CreateService(ctx, &runpb.CreateServiceRequest{
			Parent: "projects/proj-alpha/locations/us-central1", ServiceId: "fresh",
			Service: &runpb.Service{Template: template("img"), IapEnabled: true, Labels: map[string]string{"a": "b"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^projects/proj-alpha/locations/us-central1/operations/[0-9a-f-]{36}$`).MatchString(op.Name()) {
			t.Errorf("operation name = %q", op.Name())
		}
		if op.Done() {
			t.Error("operation done before anyone polled it")
		}
		meta, err := op.Metadata()
		if err != nil || meta.GetName() != "projects/proj-alpha/locations/us-central1/services/fresh" {
			t.Errorf("metadata = %v, %v; want the Service", meta, err)
		}
		svc, err := op.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !svc.IapEnabled || svc.Generation != 1 || svc.ObservedGeneration != 1 || svc.Reconciling || svc.Labels["a"] != "b" {
			t.Errorf("created service = %v", svc)
		}
	})
}

func TestCreateService_ExistingNameFailsAlreadyExists(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.run.CreateService(ctxT(t), &runpb.CreateServiceRequest{
			Parent: "projects/proj-alpha/locations/us-central1", ServiceId: "hello", Service: &runpb.Service{Template: template("img")},
		})
		st := wantCode(t, err, codes.AlreadyExists)
		if st.Message() != "Resource 'hello' already exists." {
			t.Errorf("message = %q", st.Message())
		}
	})
}

func TestCreateService_InvalidServiceIDFailsWithFieldViolation(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		for _, id := range []string{"Upper", "1digit", "trailing-", strings.Repeat("a", 50), "under_score"} {
			_, err := f.run.CreateService(ctxT(t), &runpb.CreateServiceRequest{
				Parent: "projects/proj-alpha/locations/us-central1", ServiceId: id, Service: &runpb.Service{Template: template("img")},
			})
			st := wantCode(t, err, codes.InvalidArgument)
			br := badRequest(st)
			if len(br.GetFieldViolations()) != 1 || br.FieldViolations[0].Field != "Violation in CreateServiceRequest.service_id" {
				t.Errorf("%q: field violations = %v", id, br)
			}
		}
	})
}

func TestCreateService_MissingTemplateFailsInvalidArgument(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.run.CreateService(ctxT(t), &runpb.CreateServiceRequest{
			Parent: "projects/proj-alpha/locations/us-central1", ServiceId: "notemplate", Service: &runpb.Service{},
		})
		st := wantCode(t, err, codes.InvalidArgument)
		if !strings.Contains(st.Message(), "service.template: required field not present") {
			t.Errorf("message = %q", st.Message())
		}
	})
}

func TestListServices_ListsNewestFirstAndPages(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		for _, id := range []string{"one", "two", "three"} {
			if _, err := f.run.CreateService(ctx, &runpb.CreateServiceRequest{Parent: "projects/proj-alpha/locations/europe-west1", ServiceId: id, Service: &runpb.Service{Template: template("img")}}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		var got []string
		it := f.run.ListServices(ctx, &runpb.ListServicesRequest{Parent: "projects/proj-alpha/locations/europe-west1", PageSize: 2})
		for {
			svc, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, svc.Name[strings.LastIndex(svc.Name, "/")+1:])
		}
		if strings.Join(got, ",") != "three,two,one" {
			t.Errorf("listed %v, want newest first: three,two,one", got)
		}
		_, err := f.run.ListServices(ctx, &runpb.ListServicesRequest{Parent: "projects/proj-alpha/locations/-"}).Next()
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("listing locations/- answered %v, want InvalidArgument: Cloud Run v2 documents that the location cannot be the \"-\" wildcard", err)
		}
	})
}

func TestUpdateService_MaskChangesOnlyMaskedFields(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		before, _ := f.GetService(helloName)
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service: &runpb.Service{
				Name:        helloName,
				IapEnabled:  true,
				Description: "not masked",
				Ingress:     runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY,
				// No template: a masked update needs only what it names.
			},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled", "ingress"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := op.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !svc.IapEnabled || svc.Ingress != runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY {
			t.Errorf("masked fields not applied: iap=%v ingress=%v", svc.IapEnabled, svc.Ingress)
		}
		if svc.Description != "" || svc.Template.GetContainers()[0].GetImage() != before.Template.Containers[0].Image {
			t.Errorf("unmasked fields changed: description=%q template=%v", svc.Description, svc.Template)
		}
		// iap_enabled has no presence: only a mask naming it can turn it off.
		op, err = f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service:    &runpb.Service{Name: helloName},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if svc, err = op.Wait(ctx); err != nil || svc.IapEnabled {
			t.Errorf("masked false did not clear iap_enabled: %v %v", svc.GetIapEnabled(), err)
		}
	})
}

func TestUpdateService_WithoutMaskReplacesUpdatableFields(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		if err := f.UpdateServiceOutOfBand(helloName, func(s *runpb.Service) { s.Labels = map[string]string{"team": "x"}; s.IapEnabled = true }); err != nil {
			t.Fatal(err)
		}
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, Template: template("img2"), Description: "d"}})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := op.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if svc.Labels != nil || svc.IapEnabled || svc.Description != "d" || svc.Template.Containers[0].Image != "img2" {
			t.Errorf("want labels and iap_enabled replaced by the request's (empty) values: %v", svc)
		}
		if svc.Ingress != runpb.IngressTraffic_INGRESS_TRAFFIC_ALL {
			t.Errorf("ingress = %v, want the default", svc.Ingress)
		}
		if svc.Uri == "" || svc.Uid == "" {
			t.Error("output-only fields must survive a replace")
		}
	})
}

func TestUpdateService_WithoutMaskNeedsTemplate(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.run.UpdateService(ctxT(t), &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, IapEnabled: true}})
		wantCode(t, err, codes.InvalidArgument)
	})
}

func TestUpdateService_StaleEtagFailsAborted(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		old, _ := f.GetService(helloName)
		if err := f.UpdateServiceOutOfBand(helloName, func(s *runpb.Service) { s.Description = "changed by someone else" }); err != nil {
			t.Fatal(err)
		}
		_, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service:    &runpb.Service{Name: helloName, Etag: old.Etag, IapEnabled: true},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}},
		})
		wantCode(t, err, codes.Aborted)
		cur, _ := f.GetService(helloName)
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service:    &runpb.Service{Name: helloName, Etag: cur.Etag, IapEnabled: true},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}},
		})
		if err != nil {
			t.Fatalf("update with the current etag: %v", err)
		}
		if _, err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUpdateService_MaskNamingOutputOnlyOrUnknownFieldFails(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		paths := []string{"uri", "generation", "template.nonsense"}
		if f.transport == overGRPC {
			// REST's updateMask is always lowerCamelCase: this one means iap_enabled there.
			paths = append(paths, "iapEnabled")
		}
		for _, path := range paths {
			_, err := f.run.UpdateService(ctxT(t), &runpb.UpdateServiceRequest{
				Service:    &runpb.Service{Name: helloName},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{path}},
			})
			st := wantCode(t, err, codes.InvalidArgument)
			if len(badRequest(st).GetFieldViolations()) == 0 {
				t.Errorf("%s: no field violation", path)
			}
		}
	})
}

func TestUpdateService_MissingServiceFailsNotFoundUnlessAllowMissing(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		name := "projects/proj-alpha/locations/us-central1/services/ghost"
		_, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: name, Template: template("img")}})
		wantCode(t, err, codes.NotFound)
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: name, Template: template("img")}, AllowMissing: true})
		if err != nil {
			t.Fatal(err)
		}
		if svc, err := op.Wait(ctx); err != nil || svc.Generation != 1 {
			t.Fatalf("allow_missing create: %v %v", svc, err)
		}
	})
}

func TestUpdateService_ChangeBumpsGenerationEtagAndUpdateTime(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		before, _ := f.GetService(helloName)
		time.Sleep(time.Millisecond)
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: helloName, InvokerIamDisabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"invoker_iam_disabled"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		after, err := op.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after.Generation != before.Generation+1 || after.Etag == before.Etag || !after.UpdateTime.AsTime().After(before.UpdateTime.AsTime()) {
			t.Errorf("generation %d→%d, etag %q→%q, update_time %v→%v", before.Generation, after.Generation, before.Etag, after.Etag, before.UpdateTime.AsTime(), after.UpdateTime.AsTime())
		}
		if !after.InvokerIamDisabled {
			t.Error("invoker_iam_disabled not set")
		}
		// The same desired state again is no change.
		op, err = f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: helloName, InvokerIamDisabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"invoker_iam_disabled"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		again, err := op.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if again.Generation != after.Generation || again.Etag != after.Etag {
			t.Errorf("a no-op update moved generation %d→%d or etag", after.Generation, again.Generation)
		}
	})
}

func TestUpdateService_StaysReconcilingForDelayThenOperationCompletes(t *testing.T) {
	const delay = 300 * time.Millisecond
	forEachTransport(t, gcpfake.Options{ReconcileDelay: delay}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		start := time.Now()
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: helloName, IapEnabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		mid, err := f.run.GetService(ctx, &runpb.GetServiceRequest{Name: helloName})
		if err != nil {
			t.Fatal(err)
		}
		if !mid.Reconciling || mid.ObservedGeneration >= mid.Generation || mid.TerminalCondition.GetState() != runpb.Condition_CONDITION_RECONCILING {
			t.Errorf("during rollout: reconciling=%v observed=%d generation=%d terminal=%v", mid.Reconciling, mid.ObservedGeneration, mid.Generation, mid.TerminalCondition)
		}
		if _, err := op.Poll(ctx); err != nil || op.Done() {
			t.Errorf("Poll during rollout: done=%v err=%v", op.Done(), err)
		}
		svc, err := op.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) < delay {
			t.Errorf("operation finished after %v, before the %v reconcile delay", time.Since(start), delay)
		}
		if svc.Reconciling || svc.ObservedGeneration != svc.Generation || svc.TerminalCondition.GetState() != runpb.Condition_CONDITION_SUCCEEDED {
			t.Errorf("after rollout: %v", svc)
		}
	})
}

func TestUpdateService_ZeroDelayCompletesOnFirstRead(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: helloName, IapEnabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if op.Done() {
			t.Error("the UpdateService response itself must not be done")
		}
		resp, err := op.Poll(ctx)
		if err != nil || !op.Done() || resp.GetObservedGeneration() != resp.GetGeneration() {
			t.Fatalf("first poll: done=%v resp=%v err=%v", op.Done(), resp, err)
		}
	})
}

func TestUpdateService_ValidateOnlyChangesNothing(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		before, _ := f.GetService(helloName)
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: helloName, IapEnabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}}, ValidateOnly: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !op.Done() {
			t.Error("validate_only operation must be done at once")
		}
		after, _ := f.GetService(helloName)
		if after.IapEnabled || after.Generation != before.Generation {
			t.Error("validate_only changed the service")
		}
	})
}

func TestDeleteService_RemovesServiceAndOperationReturnsIt(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		op, err := f.run.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: privateName})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := op.Wait(ctx)
		if err != nil || svc.GetName() != privateName {
			t.Fatalf("delete operation: %v %v", svc, err)
		}
		_, err = f.run.GetService(ctx, &runpb.GetServiceRequest{Name: privateName})
		wantCode(t, err, codes.NotFound)
		_, err = f.run.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: privateName})
		wantCode(t, err, codes.NotFound)
	})
}

func TestDeleteService_StaleEtagFailsAborted(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.run.DeleteService(ctxT(t), &runpb.DeleteServiceRequest{Name: privateName, Etag: "stale"})
		wantCode(t, err, codes.Aborted)
	})
}

func TestOperations_UnknownOperationFailsNotFound(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.run.GetOperation(ctxT(t), &longrunningpb.GetOperationRequest{Name: "projects/proj-alpha/locations/us-central1/operations/00000000-0000-0000-0000-000000000000"})
		wantCode(t, err, codes.NotFound)
	})
}

func TestOperations_ResumedByNameCompletes(t *testing.T) {
	forEachTransport(t, gcpfake.Options{ReconcileDelay: 50 * time.Millisecond}, func(t *testing.T, f *fake) {
		ctx := ctxT(t)
		op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: helloName, IapEnabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"iap_enabled"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		resumed := f.run.UpdateServiceOperation(op.Name())
		svc, err := resumed.Wait(ctx)
		if err != nil || !svc.IapEnabled {
			t.Fatalf("resumed operation: %v %v", svc, err)
		}
		ops := f.run.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: "projects/proj-alpha/locations/us-central1"})
		got, err := ops.Next()
		if err != nil || got.Name != op.Name() || !got.Done {
			t.Errorf("ListOperations: %v %v", got, err)
		}
	})
}

func TestUpdateServiceOutOfBand_BumpsGenerationAndStartsRollout(t *testing.T) {
	f := startFake(t, gcpfake.Options{ReconcileDelay: time.Hour})
	if err := f.UpdateServiceOutOfBand(helloName, func(s *runpb.Service) { s.IapEnabled = true }); err != nil {
		t.Fatal(err)
	}
	svc, _ := f.GetService(helloName)
	if svc.Generation != 2 || !svc.Reconciling || !svc.IapEnabled {
		t.Errorf("out-of-band change: generation=%d reconciling=%v iap=%v", svc.Generation, svc.Reconciling, svc.IapEnabled)
	}
}

func TestFailRollout_FailsTheWaitingOperationAndShowsInTerminalCondition(t *testing.T) {
	f := startFake(t, gcpfake.Options{ReconcileDelay: time.Hour})
	ctx := ctxT(t)
	op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, Template: template("broken")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.FailRollout(helloName, "Revision 'hello-00002-abc' is not ready and cannot serve traffic."); err != nil {
		t.Fatal(err)
	}
	_, err = op.Wait(ctx)
	wantCode(t, err, codes.FailedPrecondition)
	svc, _ := f.GetService(helloName)
	// runpb's reconciling field: on failure observed_generation keeps the last serving revision's.
	if svc.Reconciling || svc.ObservedGeneration != svc.Generation-1 || svc.TerminalCondition.GetState() != runpb.Condition_CONDITION_FAILED {
		t.Errorf("after a failed rollout: %v", svc)
	}
}

func TestFailNextRollout_TheNextChangeFailsAtOnceAsGoogleReportsIt(t *testing.T) {
	f := startFake(t, gcpfake.Options{ReconcileDelay: time.Hour})
	ctx := ctxT(t)
	if err := f.FailNextRollout(helloName, "Revision 'hello-00002-abc' is not ready and cannot serve traffic."); err != nil {
		t.Fatal(err)
	}
	op, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, Template: template("broken")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = op.Wait(ctx)
	wantCode(t, err, codes.FailedPrecondition)
	svc, _ := f.GetService(helloName)
	if svc.Reconciling || svc.ObservedGeneration >= svc.Generation || svc.TerminalCondition.GetState() != runpb.Condition_CONDITION_FAILED {
		t.Errorf("after a failed rollout: reconciling %v, observed %d of %d, terminal %v", svc.Reconciling, svc.ObservedGeneration, svc.Generation, svc.TerminalCondition)
	}
	// Only the next rollout fails.
	op, err = f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, Template: template("fixed")}})
	if err != nil {
		t.Fatal(err)
	}
	if svc, _ := f.GetService(helloName); !svc.Reconciling {
		t.Errorf("the rollout after the failed one did not start: %v", svc.TerminalCondition)
	}
}

func TestSlowNextRollout_OnlyTheNextRolloutTakesThatLong(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	ctx := ctxT(t)
	if err := f.SlowNextRollout(helloName, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, Template: template("slow")}}); err != nil {
		t.Fatal(err)
	}
	if svc, _ := f.GetService(helloName); !svc.Reconciling || svc.ObservedGeneration >= svc.Generation {
		t.Errorf("the slow rollout is done at once: reconciling %v, observed %d of %d", svc.Reconciling, svc.ObservedGeneration, svc.Generation)
	}
	if err := f.FailRollout(helloName, "stop"); err != nil { // end it, so the next change starts one
		t.Fatal(err)
	}
	if _, err := f.run.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: helloName, Template: template("fast")}}); err != nil {
		t.Fatal(err)
	}
	if svc, _ := f.GetService(helloName); svc.Reconciling || svc.ObservedGeneration != svc.Generation {
		t.Errorf("the rollout after the slow one was not done at once (ReconcileDelay 0): reconciling %v, observed %d of %d", svc.Reconciling, svc.ObservedGeneration, svc.Generation)
	}
}

func TestAddProject_ItsServicesCanBeAddedAndRead(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	if err := f.AddProject(gcpfake.Project{ID: "added-later", Number: 424242424242}); err != nil {
		t.Fatal(err)
	}
	if err := f.AddProject(gcpfake.Project{ID: "added-later", Number: 434343434343}); err == nil {
		t.Error("the same project was added twice")
	}
	if err := f.AddService(gcpfake.Service{Project: "added-later", Location: "us-central1", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	svc, err := f.run.GetService(ctxT(t), &runpb.GetServiceRequest{Name: "projects/added-later/locations/us-central1/services/web"})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := f.ProjectNumber("added-later"); !ok || n != 424242424242 || svc.GetName() == "" {
		t.Errorf("project number %d %v, service %q", n, ok, svc.GetName())
	}
}
