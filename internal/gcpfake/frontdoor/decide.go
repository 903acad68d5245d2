package frontdoor

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/type/expr"

	"github.com/runguard/runguard/internal/gcpfake/names"
)

// decision is IAP's verdict on one request, with why, for the log.
type decision struct {
	allowed bool
	reason  string
}

// policyChain is every resource whose allow policy counts for a service behind IAP, innermost
// first: its IAP resource, the region's and the project's IAP resources, the project, its
// folders and its organization. "The effective allow policy for a resource is the union of the
// allow policy set at that resource and the allow policy inherited from its parent"
// (https://cloud.google.com/iam/docs/resource-hierarchy-access-control).
func policyChain(svc Service) []string {
	return append([]string{
		names.IAPService(svc.ProjectNumber, svc.Region, svc.ID),
		names.IAPRegion(svc.ProjectNumber, svc.Region),
		names.IAPWeb(svc.ProjectNumber),
		"projects/" + svc.ProjectID,
	}, svc.Ancestors...)
}

// decide lets the request through when some binding anywhere on the chain grants a role that
// carries AccessPermission to a member covering the caller, under a condition that holds. The
// first such binding is named; otherwise the closest miss is.
func (h *Handler) decide(svc Service, req request) decision {
	lv := newLevels(h.world.AccessLevels(organizationOf(svc)), req, h.cel)
	miss := ""
	for _, resource := range policyChain(svc) {
		p, ok := h.world.Policy(resource)
		if !ok {
			continue
		}
		for _, b := range p.GetBindings() {
			member, covered := coversAny(b.GetMembers(), req)
			if !covered || !h.carriesAccess(b.GetRole()) {
				continue
			}
			holds, why := h.conditionHolds(b.GetCondition(), req, lv)
			at := fmt.Sprintf("%s on %s to %s", b.GetRole(), resource, member)
			if holds {
				return decision{allowed: true, reason: at}
			}
			if miss == "" {
				miss = fmt.Sprintf("the condition %q of %s %s", b.GetCondition().GetTitle(), at, why)
			}
		}
	}
	if miss == "" {
		miss = "no binding of a role that carries " + AccessPermission + " covers " + describeCaller(req)
	}
	return decision{reason: miss}
}

// carriesAccess: only roles whose permissions include AccessPermission let a member through
// ("Owner … only permits modifying policies, and doesn't permit access to the app",
// https://cloud.google.com/iap/docs/managing-access).
func (h *Handler) carriesAccess(role string) bool {
	perms, ok := h.world.RolePermissions(role)
	return ok && slices.Contains(perms, AccessPermission)
}

// conditionHolds evaluates a binding's condition for the request. "If the condition evaluates to
// false, then this binding does not apply to the current request" (policy.proto); the fake
// treats a condition that cannot be evaluated the same way. A condition naming a level that is
// not in the organization's access policy blocks the binding, whatever else it says (IAM's access
// level rewrite guide: such a string is invalid and blocks access).
func (h *Handler) conditionHolds(c *expr.Expr, req request, lv *levels) (bool, string) {
	if strings.TrimSpace(c.GetExpression()) == "" {
		return true, ""
	}
	p := h.cel.condition(c.GetExpression())
	for _, name := range p.levels {
		if _, ok := lv.defs[name]; !ok {
			return false, "names " + name + ", which is not a level of the organization's access policy"
		}
	}
	granted := []string{}
	if len(p.levels) > 0 || strings.Contains(c.GetExpression(), "access_levels") {
		granted = lv.granted()
	}
	attrs := map[string]any{"path": req.path, "host": req.host, "time": req.time,
		"auth": map[string]any{"access_levels": granted}}
	holds, err := p.run(map[string]any{"request": attrs})
	switch {
	case err != nil:
		return false, err.Error()
	case !holds:
		return false, "is false"
	}
	return true, ""
}

// organizationOf is the organization at the top of the service's chain, "" if none.
func organizationOf(svc Service) string {
	if n := len(svc.Ancestors); n > 0 && strings.HasPrefix(svc.Ancestors[n-1], "organizations/") {
		return svc.Ancestors[n-1]
	}
	return ""
}

func describeCaller(req request) string {
	if req.principal == "" {
		return "an anonymous caller"
	}
	return req.principal
}
