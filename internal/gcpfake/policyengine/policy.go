// Package policyengine is the fake's model of IAM allow-policy semantics as
// documented in google/iam/v1/policy.proto and IAM's guides: versions and
// the "_withcond_" view, etag compare-and-set, member syntax and existence,
// merging, and the documented limits. It holds no state; callers keep the
// stored policy and call Get and Set under their own lock.
package policyengine

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/runguard/runguard/internal/gcpfake/apierr"
)

const versionsURL = "https://cloud.google.com/iam/docs/policies#versions"

// Engine validates writes and renders reads.
type Engine struct {
	// PrincipalExists reports whether a lower-cased user:, group: or
	// serviceAccount: member exists. Nil accepts every such member.
	PrincipalExists func(member string) bool
}

// Empty is the policy of a resource whose policy was never set.
func Empty() *iampb.Policy {
	return &iampb.Policy{Version: 1, Etag: append([]byte(nil), EmptyEtag...)}
}

// HasConditions reports whether any binding is conditional.
func HasConditions(p *iampb.Policy) bool {
	for _, b := range p.GetBindings() {
		if b.GetCondition() != nil {
			return true
		}
	}
	return false
}

// Get renders a stored policy (nil: never set) the way GetIamPolicy returns
// it for the requested version.
func (e *Engine) Get(stored *iampb.Policy, opts *iampb.GetPolicyOptions) (*iampb.Policy, error) {
	v := opts.GetRequestedPolicyVersion()
	if v != 0 && v != 1 && v != 3 {
		return nil, apierr.BadRequest(fmt.Sprintf("Invalid requested policy version (%d). Valid values are 0, 1, and 3. For more information, please refer to %s.", v, versionsURL),
			apierr.FieldViolation{Field: "options.requested_policy_version", Description: "must be 0, 1 or 3"})
	}
	return View(stored, v), nil
}

// View renders without validating the version: 3 shows conditions (and
// says version 3 only if there are any); 0 and 1 rewrite each conditional
// binding's role to "<role>_withcond_<hash>" and drop its condition.
func View(stored *iampb.Policy, version int32) *iampb.Policy {
	if stored == nil {
		return Empty()
	}
	out := proto.Clone(stored).(*iampb.Policy)
	out.Version = 1
	if !HasConditions(out) {
		return out
	}
	if version == 3 {
		out.Version = 3
		return out
	}
	for _, b := range out.Bindings {
		if b.Condition != nil {
			b.Role = withcondRole(b.Role, b.Condition)
			b.Condition = nil
		}
	}
	return out
}

// SetResult is what a successful Set produces.
type SetResult struct {
	Stored   *iampb.Policy // the new stored (version 3 form) policy
	Response *iampb.Policy // what SetIamPolicy returns
}

// Set applies a SetIamPolicyRequest to the stored policy (nil: never set),
// enforcing everything IAM enforces on write.
func (e *Engine) Set(stored *iampb.Policy, req *iampb.SetIamPolicyRequest) (SetResult, error) {
	in := req.GetPolicy()
	if in == nil {
		return SetResult{}, apierr.BadRequest("Request contains an invalid argument.", apierr.FieldViolation{Field: "policy", Description: "required"})
	}
	paths := map[string]bool{"bindings": true, "etag": true}
	if m := req.GetUpdateMask(); m != nil && len(m.GetPaths()) > 0 {
		paths = map[string]bool{}
		for _, p := range m.GetPaths() {
			switch p {
			case "bindings", "etag", "audit_configs", "version":
				paths[p] = true
			default:
				return SetResult{}, apierr.BadRequest(fmt.Sprintf("Invalid update_mask path %q.", p),
					apierr.FieldViolation{Field: "update_mask", Description: fmt.Sprintf("unknown field %q; valid paths are bindings, etag, audit_configs, version", p)})
			}
		}
	}
	if v := in.GetVersion(); v != 0 && v != 1 && v != 3 {
		return SetResult{}, apierr.BadRequest(fmt.Sprintf("Invalid policy version (%d). Valid values are 0, 1, and 3. For more information, please refer to %s.", v, versionsURL),
			apierr.FieldViolation{Field: "policy.version", Description: "must be 0, 1 or 3"})
	}
	if HasConditions(in) && in.GetVersion() != 3 {
		return SetResult{}, apierr.BadRequest(fmt.Sprintf("Specified policy version (%d) is invalid for a policy with conditional role bindings; conditions require policy version 3. For more information, please refer to %s.", in.GetVersion(), versionsURL),
			apierr.FieldViolation{Field: "policy.version", Description: "must be 3 when any binding has a condition"})
	}
	next, err := normalize(in, e.PrincipalExists)
	if err != nil {
		return SetResult{}, err
	}

	current := stored
	if current == nil {
		current = Empty()
	}
	if paths["etag"] && len(in.GetEtag()) > 0 {
		if !bytes.Equal(in.GetEtag(), current.GetEtag()) {
			return SetResult{}, apierr.New(codes.Aborted, fmt.Sprintf("There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. The request's ETag '%s' did not match the current policy's ETag '%s'.",
				base64.StdEncoding.EncodeToString(in.GetEtag()), base64.StdEncoding.EncodeToString(current.GetEtag())))
		}
		// Without an etag IAM skips this check, which is how a version-1
		// writer silently drops a version-3 policy's conditions.
		if HasConditions(current) && in.GetVersion() < 3 {
			return SetResult{}, apierr.BadRequest(fmt.Sprintf("Specified policy version (%d) cannot be less than the existing policy version (3). For more information, please refer to %s.", in.GetVersion(), versionsURL),
				apierr.FieldViolation{Field: "policy.version", Description: "must be 3 to modify a policy that has conditions"})
		}
	}

	result := proto.Clone(current).(*iampb.Policy)
	if paths["bindings"] {
		result.Bindings = next.Bindings
	}
	if paths["audit_configs"] {
		result.AuditConfigs = next.AuditConfigs
	}
	if err := checkLimits(result); err != nil {
		return SetResult{}, err
	}
	result.Version = 1
	if HasConditions(result) {
		result.Version = 3
	}
	result.Etag = NewEtag()
	respVersion := int32(1)
	if in.GetVersion() == 3 {
		respVersion = 3
	}
	return SetResult{Stored: result, Response: View(result, respVersion)}, nil
}

// Normalize brings a policy into stored form without checking that
// identities exist; it is for seeds and out-of-band writes.
func Normalize(p *iampb.Policy) (*iampb.Policy, error) {
	out, err := normalize(p, nil)
	if err != nil {
		return nil, err
	}
	out.AuditConfigs = p.GetAuditConfigs()
	out.Version = 1
	if HasConditions(out) {
		out.Version = 3
	}
	out.Etag = NewEtag()
	return out, nil
}

// normalize validates bindings and audit configs and returns them in
// stored form: members canonical and de-duplicated, bindings with the same
// role and condition merged, bindings without members dropped, sorted.
func normalize(in *iampb.Policy, exists func(string) bool) (*iampb.Policy, error) {
	type group struct {
		b       *iampb.Binding
		members map[string]bool
	}
	groups := map[string]*group{}
	var order []string
	for _, b := range in.GetBindings() {
		role := b.GetRole()
		if err := validateRole(role); err != nil {
			return nil, err
		}
		cond := b.GetCondition()
		if cond != nil {
			if err := validateCondition(cond); err != nil {
				return nil, err
			}
			if basicRoles[role] {
				return nil, apierr.New(codes.InvalidArgument, fmt.Sprintf("Conditions are not supported for the basic role %s.", role))
			}
		}
		k := role + "\x01" + conditionKey(cond)
		g, ok := groups[k]
		if !ok {
			nb := &iampb.Binding{Role: role}
			if cond != nil {
				nb.Condition = proto.CloneOf(cond)
			}
			g = &group{b: nb, members: map[string]bool{}}
			groups[k] = g
			order = append(order, k)
		}
		for _, raw := range b.GetMembers() {
			m, err := normalizeMember(raw)
			if err != nil {
				return nil, err
			}
			if cond != nil && isPublic(m) {
				return nil, apierr.New(codes.InvalidArgument, fmt.Sprintf("Conditions are not supported for the member %s.", m))
			}
			if err := memberMustExist(m, exists); err != nil {
				return nil, err
			}
			g.members[m] = true
		}
	}
	out := &iampb.Policy{}
	for _, k := range order {
		g := groups[k]
		if len(g.members) == 0 {
			continue
		}
		for m := range g.members {
			g.b.Members = append(g.b.Members, m)
		}
		sort.Strings(g.b.Members)
		out.Bindings = append(out.Bindings, g.b)
	}
	sort.SliceStable(out.Bindings, func(i, j int) bool {
		a, b := out.Bindings[i], out.Bindings[j]
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		return conditionKey(a.Condition) < conditionKey(b.Condition)
	})
	for _, ac := range in.GetAuditConfigs() {
		if ac.GetService() == "" {
			return nil, apierr.BadRequest("Audit config service is required.", apierr.FieldViolation{Field: "policy.audit_configs.service", Description: "required"})
		}
		nac := proto.Clone(ac).(*iampb.AuditConfig)
		for _, lc := range nac.AuditLogConfigs {
			if lc.GetLogType() == iampb.AuditLogConfig_LOG_TYPE_UNSPECIFIED {
				return nil, apierr.BadRequest("Audit log config log_type is required.", apierr.FieldViolation{Field: "policy.audit_configs.audit_log_configs.log_type", Description: "required"})
			}
			for i, raw := range lc.ExemptedMembers {
				m, err := normalizeMember(raw)
				if err != nil {
					return nil, err
				}
				if err := memberMustExist(m, exists); err != nil {
					return nil, err
				}
				lc.ExemptedMembers[i] = m
			}
		}
		out.AuditConfigs = append(out.AuditConfigs, nac)
	}
	return out, nil
}

var basicRoles = map[string]bool{"roles/owner": true, "roles/editor": true, "roles/viewer": true}

func validateRole(role string) error {
	ok := strings.HasPrefix(role, "roles/") && len(role) > len("roles/")
	if !ok {
		parts := strings.Split(role, "/")
		ok = len(parts) == 4 && (parts[0] == "projects" || parts[0] == "organizations") && parts[1] != "" && parts[2] == "roles" && parts[3] != ""
	}
	if !ok {
		return apierr.BadRequest(fmt.Sprintf("Role %q is not a valid role name.", role),
			apierr.FieldViolation{Field: "policy.bindings.role", Description: "must be roles/{role}, projects/{project}/roles/{role} or organizations/{org}/roles/{role}"})
	}
	return nil
}

// checkLimits enforces the documented per-policy limits. Every occurrence
// of a principal counts, including audit-logging exemptions.
func checkLimits(p *iampb.Policy) error {
	principals, groups := 0, 0
	conditional := map[string]int{}
	count := func(m string) {
		principals++
		if isGroup(m) {
			groups++
		}
	}
	for _, b := range p.GetBindings() {
		for _, m := range b.GetMembers() {
			count(m)
			if b.GetCondition() != nil {
				k := b.GetRole() + "\x00" + m
				conditional[k]++
				if conditional[k] > MaxConditionalPerRoleMember {
					return apierr.New(codes.InvalidArgument, fmt.Sprintf("The number of conditional role bindings granting role %s to member %s (%d) is larger than the maximum allowed %d.", b.GetRole(), m, conditional[k], MaxConditionalPerRoleMember))
				}
			}
		}
	}
	for _, ac := range p.GetAuditConfigs() {
		for _, lc := range ac.GetAuditLogConfigs() {
			for _, m := range lc.GetExemptedMembers() {
				count(m)
			}
		}
	}
	if principals > MaxPrincipals {
		return apierr.New(codes.InvalidArgument, fmt.Sprintf("The number of members in the policy (%s) is larger than the maximum allowed size %s.", thousands(principals), thousands(MaxPrincipals)))
	}
	if groups > MaxGroups {
		return apierr.New(codes.InvalidArgument, fmt.Sprintf("The number of groups in the policy (%s) is larger than the maximum allowed size %s.", thousands(groups), thousands(MaxGroups)))
	}
	return nil
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestPermissions answers TestIamPermissions for a caller that holds every
// permission of the resource's service (the fake has no caller identity):
// it echoes the requested permissions that belong to one of the prefixes.
func TestPermissions(req *iampb.TestIamPermissionsRequest, prefixes ...string) (*iampb.TestIamPermissionsResponse, error) {
	out := &iampb.TestIamPermissionsResponse{}
	for _, p := range req.GetPermissions() {
		if strings.Contains(p, "*") {
			return nil, apierr.BadRequest(fmt.Sprintf("Permissions with wildcards (such as '*' or 'storage.*') are not allowed: %s.", p),
				apierr.FieldViolation{Field: "permissions", Description: "wildcards are not allowed"})
		}
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				out.Permissions = append(out.Permissions, p)
				break
			}
		}
	}
	return out, nil
}
