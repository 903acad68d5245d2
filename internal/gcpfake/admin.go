package gcpfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/runguard/runguard/internal/gcpfake/access"
	"github.com/runguard/runguard/internal/gcpfake/adminapi"
	"github.com/runguard/runguard/internal/gcpfake/names"
)

// AdminHandler serves the JSON admin API of the standalone fake; package adminapi declares its
// paths and bodies:
//
//	GET    /healthz
//	GET    /state                                   every service with its flags and both policies
//	GET    /calls, GET /calls/counts[?code=NAME], DELETE /calls
//	GET    /quotas, PUT /quotas (adminapi.Quotas)
//	POST   /faults (adminapi.FaultRule) → {"id": n}, DELETE /faults, DELETE /faults/{id}
//	POST   /services (adminapi.Service), GET and DELETE /services/{project}/{location}/{name}
//	PUT    /policies/service/{project}/{location}/{name}  (adminapi.Policy; out of band)
//	PUT    /policies/iap/{project}/{location}/{name}
//	GET    /audit                                   audit entries written and published
//	GET    /access                                  who may do what (adminapi.Access)
//	PUT    /grants/{project}/{member}/{role…}       grant a role or permission; DELETE revokes
//	PUT    /serviceAccounts/{email}/tokenCreators/{member}   DELETE revokes
//	GET    /policies/resource/{name…}, PUT (adminapi.Policy; out of band)   any resource's allow policy
//	GET    /accessPolicies                          Access Context Manager's policies and levels
//	POST   /accessLevels (an AccessLevel in protojson), GET, PUT and DELETE
//	       /accessLevels/{policy number}/{short name}        (out of band, as the console)
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	s.acmRoutes(mux)
	s.policyRoutes(mux)
	mux.HandleFunc("GET "+adminapi.HealthPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, adminapi.Health{Endpoint: s.Endpoint(), Status: "ok"})
	})
	mux.HandleFunc("GET "+adminapi.StatePath, func(w http.ResponseWriter, r *http.Request) {
		st, err := s.state()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET "+adminapi.CallsPath, func(w http.ResponseWriter, r *http.Request) {
		out := []adminapi.Call{}
		for _, c := range s.Calls() {
			out = append(out, adminapi.Call{Method: c.Method, Resource: c.Resource, Code: CodeName(c.Code), Time: c.Time, Write: c.Write, Injected: c.Injected, Throttled: c.Throttled, DurationMS: float64(c.Duration.Microseconds()) / 1000, Caller: c.Caller})
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET "+adminapi.AuditPath, func(w http.ResponseWriter, r *http.Request) {
		st := s.AuditStats()
		out := adminapi.AuditStats{Enabled: s.audit != nil, Emitted: st.Emitted, Published: st.Published, Failed: st.Failed, Pending: st.Pending}
		if s.audit != nil {
			out.Topic, out.DeliveryDelay = s.audit.opts.Topic, s.audit.opts.DeliveryDelay.String()
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET "+adminapi.CallCountsPath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("code")
		if name == "" {
			writeJSON(w, http.StatusOK, s.CallCounts())
			return
		}
		c, ok := CodeByName(name)
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Errorf("unknown code %q", name))
			return
		}
		writeJSON(w, http.StatusOK, s.CallCountsWithCode(c))
	})
	mux.HandleFunc("GET "+adminapi.QuotasPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Quotas())
	})
	mux.HandleFunc("PUT "+adminapi.QuotasPath, func(w http.ResponseWriter, r *http.Request) {
		var q Quotas
		if err := decodeStrict(io.LimitReader(r.Body, 1<<20), &q); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("quotas: %w", err))
			return
		}
		if err := s.SetQuotas(q); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, s.Quotas())
	})
	mux.HandleFunc("DELETE "+adminapi.CallsPath, func(w http.ResponseWriter, r *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+adminapi.FaultsPath, func(w http.ResponseWriter, r *http.Request) {
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
		writeJSON(w, http.StatusCreated, adminapi.FaultAdded{ID: s.AddFault(rule)})
	})
	mux.HandleFunc("DELETE "+adminapi.FaultsPath, func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE "+adminapi.FaultsPath+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || !s.RemoveFault(id) {
			writeError(w, http.StatusNotFound, fmt.Errorf("no fault rule %q", r.PathValue("id")))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+adminapi.ServicesPath, func(w http.ResponseWriter, r *http.Request) {
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
	mux.HandleFunc("GET "+adminapi.ServicesPath+serviceInPath, func(w http.ResponseWriter, r *http.Request) {
		svc, ok := s.GetService(serviceFromPath(r).String())
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("no service %s", serviceFromPath(r)))
			return
		}
		ss, err := s.serviceState(svc)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, ss)
	})
	mux.HandleFunc("DELETE "+adminapi.ServicesPath+serviceInPath, func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteService(serviceFromPath(r).String()); err != nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT "+adminapi.ServicePolicyPath+serviceInPath, func(w http.ResponseWriter, r *http.Request) {
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
	mux.HandleFunc("PUT "+adminapi.IAPPolicyPath+serviceInPath, func(w http.ResponseWriter, r *http.Request) {
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
	mux.HandleFunc("GET "+adminapi.AccessPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Access())
	})
	grant := adminapi.GrantsPath + "/{project}/{member}/{role...}"
	mux.HandleFunc("PUT "+grant, func(w http.ResponseWriter, r *http.Request) {
		writeAccessChange(w, s.Grant(r.PathValue("project"), r.PathValue("member"), r.PathValue("role")))
	})
	mux.HandleFunc("DELETE "+grant, func(w http.ResponseWriter, r *http.Request) {
		writeAccessChange(w, s.Revoke(r.PathValue("project"), r.PathValue("member"), r.PathValue("role")))
	})
	creator := adminapi.ServiceAccountsPath + "/{email}/tokenCreators/{member}"
	mux.HandleFunc("PUT "+creator, func(w http.ResponseWriter, r *http.Request) {
		writeAccessChange(w, s.AddTokenCreator(r.PathValue("email"), r.PathValue("member")))
	})
	mux.HandleFunc("DELETE "+creator, func(w http.ResponseWriter, r *http.Request) {
		writeAccessChange(w, s.RemoveTokenCreator(r.PathValue("email"), r.PathValue("member")))
	})
	return mux
}

// writeAccessChange answers a change of grants or token creators: 204, 404 for something that
// is not there, 409 with access control off, 400 for anything malformed.
func writeAccessChange(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, access.ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, access.ErrOff):
		writeError(w, http.StatusConflict, err)
	default:
		writeError(w, http.StatusBadRequest, err)
	}
}

func (s *Server) state() (adminapi.State, error) {
	out := adminapi.State{Projects: []adminapi.Project{}, Services: []adminapi.ServiceState{}}
	for _, p := range s.dir.All() {
		out.Projects = append(out.Projects, Project{ID: p.ID, Number: p.Number, IAPAPIDisabled: p.IAPAPIDisabled, NoIAPServiceAgent: p.NoIAPServiceAgent, Principals: p.Principals,
			Grants: s.access.GrantsOn(p.ID), Parent: p.Parent})
	}
	for _, svc := range s.Services() {
		ss, err := s.serviceState(svc)
		if err != nil {
			return adminapi.State{}, err
		}
		out.Services = append(out.Services, ss)
	}
	out.Folders, out.Organizations = s.hierarchyState()
	var err error
	out.AccessPolicies, err = s.accessPolicyStates()
	return out, err
}

func (s *Server) serviceState(svc *runpb.Service) (adminapi.ServiceState, error) {
	ss := adminapi.ServiceState{Name: svc.Name, IAPEnabled: svc.IapEnabled, InvokerIAMDisabled: svc.InvokerIamDisabled, Ingress: svc.Ingress.String(),
		Generation: svc.Generation, ObservedGeneration: svc.ObservedGeneration, Reconciling: svc.Reconciling, Etag: svc.Etag, URI: svc.Uri}
	var err error
	if ss.Service, err = protojson.Marshal(svc); err != nil {
		return ss, err
	}
	sp, _ := s.ServicePolicy(svc.Name)
	if ss.ServicePolicy, err = policyJSON(sp); err != nil {
		return ss, err
	}
	if ss.IAPResource, err = s.IAPResource(svc.Name); err != nil {
		return ss, err
	}
	ip, _ := s.IAPPolicy(ss.IAPResource)
	ss.IAPPolicy, err = policyJSON(ip)
	return ss, err
}

// serviceInPath completes the paths that name one Cloud Run service.
const serviceInPath = "/{project}/{location}/{name}"

func serviceFromPath(r *http.Request) names.Service {
	return names.Service{Project: r.PathValue("project"), Location: r.PathValue("location"), ID: r.PathValue("name")}
}

func readPolicy(w http.ResponseWriter, r *http.Request) (*iampb.Policy, bool) {
	var in adminapi.Policy
	err := decodeStrict(io.LimitReader(r.Body, 1<<20), &in)
	var p *iampb.Policy
	if err == nil {
		p, err = policyProto(&in)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("policy: %w", err))
		return nil, false
	}
	return p, true
}

// policyJSON is p in the admin API's form. adminapi.Policy mirrors protojson, so the policy
// passes through protojson; a field adminapi lacks fails here rather than vanish from /state.
func policyJSON(p *iampb.Policy) (adminapi.Policy, error) {
	var out adminapi.Policy
	raw, err := protojson.Marshal(p)
	if err == nil {
		err = decodeStrict(bytes.NewReader(raw), &out)
	}
	return out, err
}

// policyProto is the inverse of policyJSON.
func policyProto(p *adminapi.Policy) (*iampb.Policy, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	out := &iampb.Policy{}
	if err := protojson.Unmarshal(raw, out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeStrict decodes one JSON value into v, rejecting fields v does not have.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
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
	writeJSON(w, code, adminapi.Error{Error: err.Error()})
}
