package gcpfake

import (
	"fmt"
	"net/http"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// policyRoutes serves any resource's allow policy (adminapi.ResourcePolicyPath): read it, or
// write it out of band as the console would.
func (s *Server) policyRoutes(mux *http.ServeMux) {
	path := adminapi.ResourcePolicyPath + "/{resource...}"
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.Policy(r.PathValue("resource"))
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("no resource %s with an allow policy", r.PathValue("resource")))
			return
		}
		writeProto(w, http.StatusOK, p)
	})
	mux.HandleFunc("PUT "+path, func(w http.ResponseWriter, r *http.Request) {
		resource := r.PathValue("resource")
		if _, ok := s.Policy(resource); !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("no resource %s with an allow policy", resource))
			return
		}
		p, ok := readPolicy(w, r)
		if !ok {
			return
		}
		if err := s.SetPolicy(resource, p); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		got, _ := s.Policy(resource)
		writeProto(w, http.StatusOK, got)
	})
}
