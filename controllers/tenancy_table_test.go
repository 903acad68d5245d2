package controllers

import (
	"strings"
	"testing"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/tenancy"
	"github.com/runguard/runguard/internal/tenancy/tenancycases"
)

// The controller's tenancy rules decide every case of the table the admission policy is held to
// (test/admission) the same way, and say the same words.
func TestTenancyRules_DecideTheAdmissionTableAlike(t *testing.T) {
	for _, tc := range tenancycases.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			f := &facts{target: tc.Spec.Service, namespace: tc.Namespace, annotations: tc.Annotations}
			rule, message := tenancycases.Admitted, ""
			switch {
			case !tenancy.ProjectAllowed(tc.Annotations[iapv1alpha1.AnnotationAllowedProjects], tc.Spec.Service):
				rule, message = tenancycases.RuleProject, outcomeMessage(stall(iapv1alpha1.ReasonProjectNotAllowed, nil), f)
			case len(tenancy.DisallowedMembers(tc.Annotations[iapv1alpha1.AnnotationAllowedMembers], tc.Spec.AccessGroups)) > 0:
				f.disallowed = tenancy.DisallowedMembers(tc.Annotations[iapv1alpha1.AnnotationAllowedMembers], tc.Spec.AccessGroups)
				rule, message = tenancycases.RuleMembers, outcomeMessage(stall(iapv1alpha1.ReasonMemberNotAllowed, nil), f)
			case !tc.Spec.IAPEnabled() && tc.Spec.PublicAccess == iapv1alpha1.PublicAccessAllow && tc.Annotations[iapv1alpha1.AnnotationAllowPublic] != "true":
				// The controller refuses only once Google says the service is public; the
				// admission policy asks for consent up front (tenancycases.RulePublic).
				rule = tenancycases.RulePublic
			}
			if rule != tc.WantRule {
				t.Fatalf("the controller's rules decide %q, the table says %q", rule, tc.WantRule)
			}
			if message != "" && !strings.HasPrefix(message, tc.WantMessage) {
				t.Errorf("the controller says\n  %s\nthe admission policy says\n  %s", message, tc.WantMessage)
			}
		})
	}
}
