package gcpfake_test

import (
	"fmt"
	"testing"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"

	"github.com/runguard/runguard/internal/gcpfake"
)

func TestGetProject_ResolvesIDAndNumberToTheNumberedName(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	for _, name := range []string{"projects/proj-alpha", fmt.Sprintf("projects/%d", alphaNumber)} {
		p, err := f.rm.GetProject(ctxT(t), &resourcemanagerpb.GetProjectRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != fmt.Sprintf("projects/%d", alphaNumber) || p.ProjectId != alpha || p.State != resourcemanagerpb.Project_ACTIVE {
			t.Errorf("%s: %v", name, p)
		}
	}
}

func TestGetProject_UnknownProjectFailsPermissionDenied(t *testing.T) {
	f := startFake(t, gcpfake.Options{})
	_, err := f.rm.GetProject(ctxT(t), &resourcemanagerpb.GetProjectRequest{Name: "projects/proj-ghost"})
	st := wantCode(t, err, codes.PermissionDenied)
	if want := "Permission 'resourcemanager.projects.get' denied on resource '//cloudresourcemanager.googleapis.com/projects/proj-ghost' (or it may not exist)."; st.Message() != want {
		t.Errorf("message = %q, want %q", st.Message(), want)
	}
	if ei := errorInfo(st); ei.GetReason() != "IAM_PERMISSION_DENIED" {
		t.Errorf("ErrorInfo = %v", ei)
	}
}
