package controllers

import (
	"fmt"
	"path"
	"regexp"
	"time"

	"github.com/runguard/runguard/internal/invalid"
)

// Options are the manager flags the controller honours.
type Options struct {
	// ClusterName is written into every binding's marker, so two clusters never remove each other's bindings.
	ClusterName string
	// AllowAnyProject turns the namespace allowed-projects check off (single-tenant clusters).
	AllowAnyProject bool
	// ResyncPeriod is how often each object is re-checked against Google Cloud to correct drift.
	ResyncPeriod time.Duration
	// StalledRecheck is how often a Stalled object is re-checked.
	StalledRecheck time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
	// IAMPropagationDelay is how long IAP stays on after public access was revoked, when IAP is
	// being switched off: Google documents that IAM changes take about 2 minutes, sometimes 7 or more.
	IAMPropagationDelay time.Duration
	// RequireNamespaceIdentity stalls objects in namespaces without the
	// iap.runguard.dev/google-service-account annotation instead of using runguard's identity.
	RequireNamespaceIdentity bool
	// IAPAgentPropagation is how long IAM's rejection of the IAP service agent is taken for a
	// just-created agent (gcloud itself retries 10 × 15 s) before IAPServiceAgentMissing.
	IAPAgentPropagation time.Duration
	// AccessPolicy is the organization's access policy (accessPolicies/NUMBER) that holds the
	// levels of AccessLevel objects naming none.
	AccessPolicy string
	// AuditOwnPrincipals are runguard's own Google identities as audit entries name them
	// (principalEmail), or patterns with * (runguard@*.iam.gserviceaccount.com): entries by them
	// report runguard's own writes. Namespaces' identities are added from their annotations, and
	// others are learned (docs/drift-events.md).
	AuditOwnPrincipals []string
}

// DefaultOptions is the one place the defaults live; the manager's flags start from it.
func DefaultOptions() Options {
	return Options{
		ClusterName:             "default",
		ResyncPeriod:            10 * time.Minute,
		StalledRecheck:          5 * time.Minute,
		MaxConcurrentReconciles: 64,
		IAMPropagationDelay:     7 * time.Minute,
		IAPAgentPropagation:     3 * time.Minute,
	}
}

// accessPolicyName is an access policy's resource name.
var accessPolicyName = regexp.MustCompile(`^accessPolicies/[0-9]+$`)

// maxWorkers bounds MaxConcurrentReconciles: more would only queue on Google's quotas.
const maxWorkers = 1000

// Validate rejects options the controller cannot run with: the one place their bounds live (the
// manager names the flag from the *invalid.Option).
func (o Options) Validate() error {
	for _, p := range o.AuditOwnPrincipals {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			return &invalid.Option{Field: "AuditOwnPrincipals", Value: p, Want: "an email, or a pattern where * stands for any run of characters"}
		}
	}
	switch {
	case o.ClusterName == "":
		return &invalid.Option{Field: "ClusterName", Value: `""`, Want: "name the cluster; it is written into every binding runguard marks"}
	case o.ResyncPeriod <= 0:
		return &invalid.Option{Field: "ResyncPeriod", Value: o.ResyncPeriod, Want: "a positive period"}
	case o.StalledRecheck <= 0:
		return &invalid.Option{Field: "StalledRecheck", Value: o.StalledRecheck, Want: "a positive period"}
	case o.IAMPropagationDelay < 0:
		return &invalid.Option{Field: "IAMPropagationDelay", Value: o.IAMPropagationDelay, Want: "0 or a positive delay"}
	case o.IAPAgentPropagation < 0:
		return &invalid.Option{Field: "IAPAgentPropagation", Value: o.IAPAgentPropagation, Want: "0 or a positive timeout"}
	case o.AccessPolicy != "" && !accessPolicyName.MatchString(o.AccessPolicy):
		return &invalid.Option{Field: "AccessPolicy", Value: o.AccessPolicy, Want: "accessPolicies/NUMBER, the organization's access policy"}
	case o.MaxConcurrentReconciles <= 0 || o.MaxConcurrentReconciles > maxWorkers:
		return &invalid.Option{Field: "MaxConcurrentReconciles", Value: o.MaxConcurrentReconciles, Want: fmt.Sprintf("use 1 to %d workers", maxWorkers)}
	}
	return nil
}
