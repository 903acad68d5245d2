package acm

import (
	"context"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/runguard/runguard/internal/gcpfake/iampolicy"
	"github.com/runguard/runguard/internal/gcpfake/store"
)

// The permissions of an access policy's own IAM methods (the policyAdmin role holds both).
const (
	PermissionGetPolicyIAM = "accesscontextmanager.policies.getIamPolicy"
	PermissionSetPolicyIAM = "accesscontextmanager.policies.setIamPolicy"
)

// PolicyKind registers access policies (accessPolicies/{number}) with the IAM policy store: a
// policy's allow policy exists as long as the policy.
func PolicyKind() iampolicy.Kind {
	return iampolicy.Kind{
		Owns:      ValidPolicyName,
		Canonical: func(name string) (string, bool) { return name, true },
		Exists:    func(tx *store.Tx, name string) bool { return policyIn(tx, name) != nil },
	}
}

// GetIamPolicy answers an access policy's allow policy.
func (s *Server) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	name := req.GetResource()
	return s.Policies.Get(name, s.policyExists(PermissionGetPolicyIAM, name), req.GetOptions())
}

// SetIamPolicy replaces an access policy's allow policy.
func (s *Server) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	name := req.GetResource()
	return s.Policies.Set(name, s.policyExists(PermissionSetPolicyIAM, name), req)
}

func (s *Server) policyExists(permission, name string) func(tx *store.Tx) error {
	return func(tx *store.Tx) error {
		if !ValidPolicyName(name) || policyIn(tx, name) == nil {
			return noPolicy(permission, name)
		}
		return nil
	}
}
