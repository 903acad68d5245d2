package gcpfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// Seed is the world the fake starts with.
type Seed struct {
	Projects []Project `json:"projects"`
	Services []Service `json:"services"`
}

// Project is a seeded Google Cloud project.
type Project struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	// IAPAPIDisabled makes every IAP call on the project's resources fail
	// PERMISSION_DENIED with ErrorInfo reason SERVICE_DISABLED.
	IAPAPIDisabled bool `json:"iapApiDisabled,omitempty"`
	// NoIAPServiceAgent: service-{number}@gcp-sa-iap.iam.gserviceaccount.com
	// was never created, so granting it a role fails INVALID_ARGUMENT.
	NoIAPServiceAgent bool `json:"noIapServiceAgent,omitempty"`
	// Principals are the users, groups and service accounts that exist, in
	// member form ("user:a@x.com"). IAM rejects members of those kinds that
	// are listed in no project and are not a project's service agent.
	Principals []string `json:"principals,omitempty"`
}

// Service is a seeded Cloud Run service.
type Service struct {
	Project            string `json:"project"`
	Location           string `json:"location"`
	Name               string `json:"name"`
	IAPEnabled         bool   `json:"iapEnabled,omitempty"`
	InvokerIAMDisabled bool   `json:"invokerIamDisabled,omitempty"`
	// Public grants allUsers roles/run.invoker.
	Public bool `json:"public,omitempty"`
	// Ingress is an IngressTraffic enum name; empty means INGRESS_TRAFFIC_ALL.
	Ingress string `json:"ingress,omitempty"`
	// InvokerPolicy seeds the service's IAM policy (merged with Public).
	InvokerPolicy *iampb.Policy `json:"-"`
	// IAPPolicy seeds the policy of the service's IAP resource.
	IAPPolicy *iampb.Policy `json:"-"`
}

type serviceJSON struct {
	Project            string          `json:"project"`
	Location           string          `json:"location"`
	Name               string          `json:"name"`
	IAPEnabled         bool            `json:"iapEnabled,omitempty"`
	InvokerIAMDisabled bool            `json:"invokerIamDisabled,omitempty"`
	Public             bool            `json:"public,omitempty"`
	Ingress            string          `json:"ingress,omitempty"`
	InvokerPolicy      json.RawMessage `json:"invokerPolicy,omitempty"`
	IAPPolicy          json.RawMessage `json:"iapPolicy,omitempty"`
}

// MarshalJSON writes the policies in protojson.
func (s Service) MarshalJSON() ([]byte, error) {
	out := serviceJSON{Project: s.Project, Location: s.Location, Name: s.Name, IAPEnabled: s.IAPEnabled,
		InvokerIAMDisabled: s.InvokerIAMDisabled, Public: s.Public, Ingress: s.Ingress}
	var err error
	if s.InvokerPolicy != nil {
		if out.InvokerPolicy, err = protojson.Marshal(s.InvokerPolicy); err != nil {
			return nil, err
		}
	}
	if s.IAPPolicy != nil {
		if out.IAPPolicy, err = protojson.Marshal(s.IAPPolicy); err != nil {
			return nil, err
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the policies as protojson (bindings, members, role,
// condition {expression, title}, auditConfigs).
func (s *Service) UnmarshalJSON(data []byte) error {
	var in serviceJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	*s = Service{Project: in.Project, Location: in.Location, Name: in.Name, IAPEnabled: in.IAPEnabled,
		InvokerIAMDisabled: in.InvokerIAMDisabled, Public: in.Public, Ingress: in.Ingress}
	if len(in.InvokerPolicy) > 0 && string(in.InvokerPolicy) != "null" {
		s.InvokerPolicy = &iampb.Policy{}
		if err := protojson.Unmarshal(in.InvokerPolicy, s.InvokerPolicy); err != nil {
			return fmt.Errorf("service %s invokerPolicy: %w", in.Name, err)
		}
	}
	if len(in.IAPPolicy) > 0 && string(in.IAPPolicy) != "null" {
		s.IAPPolicy = &iampb.Policy{}
		if err := protojson.Unmarshal(in.IAPPolicy, s.IAPPolicy); err != nil {
			return fmt.Errorf("service %s iapPolicy: %w", in.Name, err)
		}
	}
	return nil
}

// LoadSeed reads a seed from a YAML (or JSON) file.
func LoadSeed(path string) (Seed, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("read seed: %w", err)
	}
	var s Seed
	if err := yaml.UnmarshalStrict(raw, &s); err != nil {
		return Seed{}, fmt.Errorf("parse seed %s: %w", path, err)
	}
	return s, nil
}
