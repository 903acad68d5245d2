package gcpfake_test

import (
	"fmt"
	"testing"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake"
)

func TestGetProject_ResolvesIDAndNumberToTheNumberedName(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		for _, name := range []string{"projects/proj-alpha", fmt.Sprintf("projects/%d", alphaNumber)} {
			p, err := f.rm.GetProject(ctxT(t), &resourcemanagerpb.GetProjectRequest{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != fmt.Sprintf("projects/%d", alphaNumber) || p.ProjectId != alpha || p.State != resourcemanagerpb.Project_ACTIVE {
				t.Errorf("%s: %v", name, p)
			}
		}
	})
}

func TestGetProject_UnknownProjectFailsPermissionDenied(t *testing.T) {
	forEachTransport(t, gcpfake.Options{}, func(t *testing.T, f *fake) {
		_, err := f.rm.GetProject(ctxT(t), &resourcemanagerpb.GetProjectRequest{Name: "projects/proj-ghost"})
		st := wantCode(t, err, codes.PermissionDenied)
		if want := "Permission 'resourcemanager.projects.get' denied on resource '//cloudresourcemanager.googleapis.com/projects/proj-ghost' (or it may not exist)."; st.Message() != want {
			t.Errorf("message = %q, want %q", st.Message(), want)
		}
		if ei := errorInfo(st); ei.GetReason() != "IAM_PERMISSION_DENIED" {
			t.Errorf("ErrorInfo = %v", ei)
		}
	})
}

// The v1 path gcloud's `projects describe` uses, read with Google's
// discovery-based v1 client.
func TestGetProjectV1_AnswersWithTheProjectNumberAndLifecycleState(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	crm, err := crmv1.NewService(ctxT(t), f.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{alpha, fmt.Sprint(alphaNumber)} {
		p, err := crm.Projects.Get(id).Context(ctxT(t)).Do()
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if p.ProjectNumber != alphaNumber || p.ProjectId != alpha || p.LifecycleState != "ACTIVE" || p.Name != alpha {
			t.Errorf("%s: projectNumber %d, projectId %q, lifecycleState %q, name %q", id, p.ProjectNumber, p.ProjectId, p.LifecycleState, p.Name)
		}
	}
	if n := f.CallCounts()["resourcemanager.GetProject"]; n != 2 {
		t.Errorf("call log counted %d resourcemanager.GetProject, want 2", n)
	}
}

func TestGetProjectV1_UnknownProjectFailsPermissionDeniedAsV3Does(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	crm, err := crmv1.NewService(ctxT(t), f.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = crm.Projects.Get("proj-ghost").Context(ctxT(t)).Do()
	st := wantCode(t, err, codes.PermissionDenied)
	if ei := errorInfo(st); ei.GetReason() != "IAM_PERMISSION_DENIED" || ei.GetMetadata()["permission"] != "resourcemanager.projects.get" {
		t.Errorf("ErrorInfo = %v", ei)
	}
}

func TestGetProjectV1_PassesTheFaultRulesOfV3(t *testing.T) {
	f := startFakeOver(t, overREST, gcpfake.Options{})
	crm, err := crmv1.NewService(ctxT(t), f.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	f.AddFault(gcpfake.FaultRule{Method: "resourcemanager.GetProject", Code: codes.ResourceExhausted, Times: 1})
	_, err = crm.Projects.Get(alpha).Context(ctxT(t)).Do()
	wantCode(t, err, codes.ResourceExhausted)
	if calls := f.Calls(); len(calls) != 1 || !calls[0].Injected || calls[0].Resource != "projects/"+alpha {
		t.Errorf("call log = %+v", calls)
	}
}
