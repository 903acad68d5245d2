package gcpfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/runguard/runguard/internal/gcpfake/names"
)

// AdminHandler serves the JSON admin API of the standalone fake:
//
//	GET    /healthz
//	GET    /state                                   every service with its flags and both policies
//	GET    /calls, GET /calls/counts, DELETE /calls
//	POST   /faults (FaultRuleJSON) → {"id": n}, DELETE /faults, DELETE /faults/{id}
//	POST   /services (seed Service JSON), DELETE /services/{project}/{location}/{name}
//	PUT    /policies/service/{project}/{location}/{name}  (protojson iam Policy; out of band)
//	PUT    /policies/iap/{project}/{location}/{name}
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "endpoint": s.Endpoint()})
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.state()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /calls", func(w http.ResponseWriter, r *http.Request) {
		out := []callJSON{}
		for _, c := range s.Calls() {
			out = append(out, callJSON{Method: c.Method, Resource: c.Resource, Code: CodeName(c.Code), Time: c.Time, Write: c.Write, Injected: c.Injected, DurationMS: float64(c.Duration.Microseconds()) / 1000})
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /calls/counts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.CallCounts())
	})
	mux.HandleFunc("DELETE /calls", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		rule, err := ParseFaultRule(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]int{"id": s.AddFault(rule)})
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || !s.RemoveFault(id) {
			writeError(w, http.StatusNotFound, fmt.Errorf("no fault rule %q", r.PathValue("id")))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /services", func(w http.ResponseWriter, r *http.Request) {
		var svc Service
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(body, &svc)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if err := s.AddService(svc); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		name := names.Service{Project: svc.Project, Location: svc.Location, ID: svc.Name}.String()
		got, _ := s.GetService(name)
		writeProto(w, http.StatusCreated, got)
	})
	mux.HandleFunc("DELETE /services/{project}/{location}/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteService(serviceFromPath(r).String()); err != nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /policies/service/{project}/{location}/{name}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := readPolicy(w, r)
		if !ok {
			return
		}
		name := serviceFromPath(r).String()
		if err := s.SetServicePolicy(name, p); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		got, _ := s.ServicePolicy(name)
		writeProto(w, http.StatusOK, got)
	})
	mux.HandleFunc("PUT /policies/iap/{project}/{location}/{name}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := readPolicy(w, r)
		if !ok {
			return
		}
		resource, err := s.IAPResource(serviceFromPath(r).String())
		if err == nil {
			err = s.SetIAPPolicy(resource, p)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		got, _ := s.IAPPolicy(resource)
		writeProto(w, http.StatusOK, got)
	})
	return mux
}

type callJSON struct {
	Method     string    `json:"method"`
	Resource   string    `json:"resource"`
	Code       string    `json:"code"`
	Time       time.Time `json:"time"`
	Write      bool      `json:"write"`
	Injected   bool      `json:"injected,omitempty"`
	DurationMS float64   `json:"durationMs"`
}

type serviceState struct {
	Name               string          `json:"name"`
	IAPEnabled         bool            `json:"iapEnabled"`
	InvokerIAMDisabled bool            `json:"invokerIamDisabled"`
	Ingress            string          `json:"ingress"`
	Generation         int64           `json:"generation"`
	ObservedGeneration int64           `json:"observedGeneration"`
	Reconciling        bool            `json:"reconciling"`
	Etag               string          `json:"etag"`
	URI                string          `json:"uri"`
	Service            json.RawMessage `json:"service"`
	ServicePolicy      json.RawMessage `json:"servicePolicy"`
	IAPResource        string          `json:"iapResource"`
	IAPPolicy          json.RawMessage `json:"iapPolicy"`
}

type state struct {
	Projects []Project      `json:"projects"`
	Services []serviceState `json:"services"`
}

func (s *Server) state() (state, error) {
	out := state{Projects: []Project{}, Services: []serviceState{}}
	for _, p := range s.dir.All() {
		out.Projects = append(out.Projects, Project{ID: p.ID, Number: p.Number, IAPAPIDisabled: p.IAPAPIDisabled, NoIAPServiceAgent: p.NoIAPServiceAgent, Principals: p.Principals})
	}
	m := protojson.MarshalOptions{UseProtoNames: false}
	for _, svc := range s.Services() {
		ss := serviceState{Name: svc.Name, IAPEnabled: svc.IapEnabled, InvokerIAMDisabled: svc.InvokerIamDisabled, Ingress: svc.Ingress.String(),
			Generation: svc.Generation, ObservedGeneration: svc.ObservedGeneration, Reconciling: svc.Reconciling, Etag: svc.Etag, URI: svc.Uri}
		var err error
		if ss.Service, err = m.Marshal(svc); err != nil {
			return state{}, err
		}
		sp, _ := s.ServicePolicy(svc.Name)
		if ss.ServicePolicy, err = m.Marshal(sp); err != nil {
			return state{}, err
		}
		if ss.IAPResource, err = s.IAPResource(svc.Name); err != nil {
			return state{}, err
		}
		ip, _ := s.IAPPolicy(ss.IAPResource)
		if ss.IAPPolicy, err = m.Marshal(ip); err != nil {
			return state{}, err
		}
		out.Services = append(out.Services, ss)
	}
	return out, nil
}

func serviceFromPath(r *http.Request) names.Service {
	return names.Service{Project: r.PathValue("project"), Location: r.PathValue("location"), ID: r.PathValue("name")}
}

func readPolicy(w http.ResponseWriter, r *http.Request) (*iampb.Policy, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return nil, false
	}
	p := &iampb.Policy{}
	if err := protojson.Unmarshal(body, p); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("policy: %w", err))
		return nil, false
	}
	return p, true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeProto(w http.ResponseWriter, code int, m proto.Message) {
	raw, err := protojson.MarshalOptions{Multiline: true}.Marshal(m)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(raw)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
