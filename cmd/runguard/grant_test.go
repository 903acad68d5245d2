package main

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// An API server without SelfSubjectReview cannot say who the caller is: the command says so and
// writes nothing in a name it guessed.
func TestWhoAmI_WithoutSelfSubjectReviewSaysWhyNoNameIsWritten(t *testing.T) {
	k8s := fake.NewClientset()
	k8s.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "authentication.k8s.io", Resource: "selfsubjectreviews"}, "")
	})
	s := &grantSession{k8s: k8s, host: "https://old.example:6443"}
	_, err := s.whoAmI(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the API server at https://old.example:6443 does not serve SelfSubjectReview") ||
		!strings.Contains(err.Error(), "Kubernetes 1.30 or later") {
		t.Errorf("whoAmI without SelfSubjectReview returned %v, want the reason and the Kubernetes version AccessGrants need", err)
	}
}

func TestRelativeTime_WordsTheTimeAndHowFarItIs(t *testing.T) {
	now := time.Date(2026, 12, 7, 18, 0, 30, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC), "2026-12-07T20:00:00Z (in 1h59m)"},
		{time.Date(2026, 12, 7, 20, 0, 30, 0, time.UTC), "2026-12-07T20:00:30Z (in 2h)"},
		{time.Date(2026, 12, 7, 18, 1, 0, 0, time.UTC), "2026-12-07T18:01:00Z (in 30s)"},
		{time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC), "2026-12-07T16:00:00Z (2h ago)"},
		{time.Date(2026, 12, 1, 18, 0, 30, 0, time.UTC), "2026-12-01T18:00:30Z (144h ago)"},
	} {
		if got := relativeTime(tc.at, now); got != tc.want {
			t.Errorf("relativeTime(%s) = %q, want %q", tc.at, got, tc.want)
		}
	}
}

func TestHelp_ListsGrantAndItsCommands(t *testing.T) {
	r := runCLI(t, "", "--help")
	if r.code != exitOK || !strings.Contains(r.stdout, "\n  grant ") {
		t.Errorf("runguard --help exited %d, want %d and grant listed:\n%s", r.code, exitOK, r.stdout)
	}
	r = runCLI(t, "", "grant", "--help")
	for _, want := range []string{"\n  request ", "\n  approve ", "\n  list ", "--as string", "-n, --namespace"} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("runguard grant --help exited %d, want %d and %q:\n%s", r.code, exitOK, want, r.stdout)
		}
	}
}
