package gcpfake

import (
	"fmt"
	"io"
	"net/http"

	"cloud.google.com/go/accesscontextmanager/apiv1/accesscontextmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// acmRoutes serves Access Context Manager's part of the admin API (adminapi/acm.go): read the
// policies and levels, and change levels out of band as the console would.
func (s *Server) acmRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+adminapi.AccessPoliciesPath, func(w http.ResponseWriter, r *http.Request) {
		st, err := s.accessPolicyStates()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("POST "+adminapi.AccessLevelsPath, func(w http.ResponseWriter, r *http.Request) {
		l, ok := readLevel(w, r, "")
		if !ok {
			return
		}
		if err := s.AddAccessLevel(l); err != nil {
			writeLevelError(w, err)
			return
		}
		got, _ := s.AccessLevel(l.GetName())
		writeProto(w, http.StatusCreated, got)
	})
	level := adminapi.AccessLevelsPath + "/{policy}/{level}"
	mux.HandleFunc("GET "+level, func(w http.ResponseWriter, r *http.Request) {
		l, ok := s.AccessLevel(levelFromPath(r))
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("no access level %s", levelFromPath(r)))
			return
		}
		writeProto(w, http.StatusOK, l)
	})
	mux.HandleFunc("PUT "+level, func(w http.ResponseWriter, r *http.Request) {
		l, ok := readLevel(w, r, levelFromPath(r))
		if !ok {
			return
		}
		created, err := s.PutAccessLevel(l)
		if err != nil {
			writeLevelError(w, err)
			return
		}
		got, _ := s.AccessLevel(l.GetName())
		writeProto(w, map[bool]int{true: http.StatusCreated, false: http.StatusOK}[created], got)
	})
	mux.HandleFunc("DELETE "+level, func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteAccessLevel(levelFromPath(r)); err != nil {
			writeLevelError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func levelFromPath(r *http.Request) string {
	return "accessPolicies/" + r.PathValue("policy") + "/accessLevels/" + r.PathValue("level")
}

// readLevel reads an access level in protojson; name, if set, is the level the path names, which
// the body must name too (or leave out).
func readLevel(w http.ResponseWriter, r *http.Request, name string) (*accesscontextmanagerpb.AccessLevel, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	l := &accesscontextmanagerpb.AccessLevel{}
	if err == nil {
		err = protojson.Unmarshal(body, l)
	}
	if err == nil && name != "" && l.GetName() != "" && l.GetName() != name {
		err = fmt.Errorf("the body names %s, the path %s", l.GetName(), name)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("access level: %w", err))
		return nil, false
	}
	if name != "" {
		l.Name = name
	}
	return l, true
}

// writeLevelError answers a refused out-of-band change by the API's code: 404 for a level or
// policy that is not there, 409 for one that already is, 400 for anything invalid.
func writeLevelError(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	switch status.Code(err) {
	case codes.NotFound, codes.PermissionDenied:
		code = http.StatusNotFound
	case codes.AlreadyExists:
		code = http.StatusConflict
	}
	writeError(w, code, fmt.Errorf("%s", status.Convert(err).Message()))
}
