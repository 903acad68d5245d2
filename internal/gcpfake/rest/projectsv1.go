package rest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// projectV1 is Resource Manager v1's Project as
// google.golang.org/api/cloudresourcemanager/v1 decodes it: the number is
// a string (int64 in JSON), name is the display name, and the state is
// lifecycleState.
type projectV1 struct {
	ProjectNumber  string `json:"projectNumber"`
	ProjectID      string `json:"projectId"`
	LifecycleState string `json:"lifecycleState"`
	Name           string `json:"name"`
	CreateTime     string `json:"createTime,omitempty"`
}

// v1ProjectID matches GET /v1/projects/{projectId}.
func v1ProjectID(r *http.Request) (string, bool) {
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/")
	if !ok || id == "" || strings.ContainsAny(id, "/:") {
		return "", false
	}
	return id, r.Method == http.MethodGet
}

// serveV1Project answers v1 projects.get from the v3 GetProject handler, so
// the call is logged, faulted and denied exactly as v3's.
func (h *handler) serveV1Project(w http.ResponseWriter, r *http.Request, id string, params systemParams) {
	if len(r.URL.Query()) > 0 {
		writeStatus(w, status.Newf(codes.InvalidArgument, "Invalid JSON payload received. Unknown name %q: Cannot bind query parameter.", firstKey(r)), params.pretty)
		return
	}
	// The handler reads the caller's bearer token from gRPC metadata, as a transcoded call's.
	ctx := r.Context()
	if auth := r.Header.Get("Authorization"); auth != "" {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", auth))
	}
	p, err := h.getProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + id})
	if err != nil {
		writeStatus(w, status.Convert(err), params.pretty)
		return
	}
	out := projectV1{
		ProjectNumber:  strings.TrimPrefix(p.GetName(), "projects/"),
		ProjectID:      p.GetProjectId(),
		LifecycleState: p.GetState().String(),
		Name:           p.GetDisplayName(),
	}
	if p.GetCreateTime() != nil {
		out.CreateTime = p.GetCreateTime().AsTime().UTC().Format(time.RFC3339Nano)
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeStatus(w, status.New(codes.Internal, err.Error()), params.pretty)
		return
	}
	writeJSON(w, http.StatusOK, body, params.pretty)
}

func firstKey(r *http.Request) string {
	for k := range r.URL.Query() {
		return k
	}
	return ""
}
