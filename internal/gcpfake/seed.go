package gcpfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"cloud.google.com/go/iam/apiv1/iampb"
	"sigs.k8s.io/yaml"

	"github.com/runguard/runguard/internal/gcpfake/adminapi"
)

// Seed is the world the fake starts with.
type Seed struct {
	Projects []Project `json:"projects"`
	Services []Service `json:"services"`
	// DefaultCaller is who a request without a bearer token is, in member form
	// ("serviceAccount:runguard@ops-project.iam.gserviceaccount.com"): the identity the
	// manager runs as with its own credentials. Setting it turns access control on.
	DefaultCaller string `json:"defaultCaller,omitempty"`
	// ServiceAccounts may be impersonated through GenerateAccessToken by their token creators.
	ServiceAccounts []ServiceAccount `json:"serviceAccounts,omitempty"`
	// CustomRoles are role name (projects/{p}/roles/{r}, organizations/{o}/roles/{r}) →
	// permissions, for projects' grants.
	CustomRoles map[string][]string `json:"customRoles,omitempty"`
	// Organizations are the organizations of the world, with the grants on them (one an access
	// policy, folder or project names as its parent need not be listed).
	Organizations []Organization `json:"organizations,omitempty"`
	// Folders are the folders of the world, each under an organization or a folder listed before
	// it, with the grants on them.
	Folders []Folder `json:"folders,omitempty"`
	// AccessPolicies are Access Context Manager's policies, with their levels.
	AccessPolicies []AccessPolicy `json:"accessPolicies,omitempty"`
}

// Organization is a seeded organization: its number, display name and the grants on it.
type Organization = adminapi.Organization

// Folder is a seeded folder: its number, parent, display name and the grants on it.
type Folder = adminapi.Folder

// AccessPolicy is a seeded access policy with its grants and levels (protojson).
type AccessPolicy = adminapi.AccessPolicy

// ServiceAccount is a seeded service account and who may impersonate it.
type ServiceAccount = adminapi.ServiceAccount

// Project is a seeded Google Cloud project.
type Project = adminapi.Project

// Service is a seeded Cloud Run service. Its JSON form (seed files, POST /services) is
// adminapi.Service.
type Service struct {
	Project            string
	Location           string
	Name               string
	IAPEnabled         bool
	InvokerIAMDisabled bool
	// Public grants allUsers roles/run.invoker.
	Public bool
	// Ingress is an IngressTraffic enum name; empty means INGRESS_TRAFFIC_ALL.
	Ingress string
	// InvokerPolicy seeds the service's IAM policy (merged with Public).
	InvokerPolicy *iampb.Policy
	// IAPPolicy seeds the policy of the service's IAP resource.
	IAPPolicy *iampb.Policy
}

// MarshalJSON writes the admin API's form, adminapi.Service.
func (s Service) MarshalJSON() ([]byte, error) {
	out := adminapi.Service{Project: s.Project, Location: s.Location, Name: s.Name, IAPEnabled: s.IAPEnabled,
		InvokerIAMDisabled: s.InvokerIAMDisabled, Public: s.Public, Ingress: s.Ingress}
	if s.InvokerPolicy != nil {
		p, err := policyJSON(s.InvokerPolicy)
		if err != nil {
			return nil, err
		}
		out.InvokerPolicy = &p
	}
	if s.IAPPolicy != nil {
		p, err := policyJSON(s.IAPPolicy)
		if err != nil {
			return nil, err
		}
		out.IAPPolicy = &p
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the admin API's form, adminapi.Service; unknown fields are errors.
func (s *Service) UnmarshalJSON(data []byte) error {
	var in adminapi.Service
	if err := decodeStrict(bytes.NewReader(data), &in); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	*s = Service{Project: in.Project, Location: in.Location, Name: in.Name, IAPEnabled: in.IAPEnabled,
		InvokerIAMDisabled: in.InvokerIAMDisabled, Public: in.Public, Ingress: in.Ingress}
	var err error
	if in.InvokerPolicy != nil {
		if s.InvokerPolicy, err = policyProto(in.InvokerPolicy); err != nil {
			return fmt.Errorf("service %s invokerPolicy: %w", in.Name, err)
		}
	}
	if in.IAPPolicy != nil {
		if s.IAPPolicy, err = policyProto(in.IAPPolicy); err != nil {
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
