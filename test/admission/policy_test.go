package admission

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/tenancy/tenancycases"
	"github.com/runguard/runguard/internal/testenv"
)

func TestPolicy_DecidesEveryTenancyCaseAsTheController(t *testing.T) {
	installPolicy(t)
	for _, c := range tenancycases.Cases {
		ensureNamespace(t, c.Namespace, c.Annotations)
	}
	for _, c := range tenancycases.Cases {
		t.Run(c.Name, func(t *testing.T) {
			err := dryRunCreate(c.Namespace, c.Spec)
			switch {
			case c.WantRule == tenancycases.Admitted && err != nil:
				t.Errorf("%s, want admitted", describe(err))
			case c.WantRule != tenancycases.Admitted && !refusedWith(err, c.WantMessage):
				t.Errorf("%s\nwant refused by rule %s with: %s", describe(err), c.WantRule, c.WantMessage)
			}
		})
	}
}

// The CRD allows 1,500 members in one object; judging all of them against several patterns must
// stay within the API server's CEL cost limits, or the object would be refused for the cost
// rather than for its members.
func TestPolicy_JudgesTheLargestObjectWithinTheCostLimits(t *testing.T) {
	installPolicy(t)
	// Twenty patterns of every shape: exact, *-prefixed, *-suffixed, globbed inside, with and
	// without a kind; no team is likely to need more.
	patterns := []string{"*@acme.com", "*@acme-corp.com", "*@acme.co.uk", "*@subsidiary.acme.com", "*@acme.dev", "*.acme.com",
		"alice@partner.example", "bob@partner.example", "contractor-*@agency.example", "ops-*-oncall@acme.io",
		"group:*@partner.example", "group:eng-*@acme.org", "user:*@acme.net", "user:admin@acme.org",
		"serviceAccount:*@acme-prod.iam.gserviceaccount.com", "serviceAccount:deploy-*@acme-ci.iam.gserviceaccount.com",
		"domain:acme.com", "principalSet://iam.googleapis.com/locations/global/workforcePools/acme-pool/*",
		"principal://iam.googleapis.com/locations/global/workforcePools/*/subject/root@acme.com", "*:break-glass@acme.com"}
	ns := "cost-largest"
	ensureNamespace(t, ns, map[string]string{iapv1alpha1.AnnotationAllowedProjects: "acme-prod", iapv1alpha1.AnnotationAllowedMembers: strings.Join(patterns, ", ")})
	spec := iapv1alpha1.ProtectedServiceSpec{Service: tenancycases.Billing}
	for g := range 20 {
		group := iapv1alpha1.AccessGroup{Name: fmt.Sprintf("group-%02d", g)}
		for m := range 75 {
			// No pattern admits these, so every member is tried against every pattern.
			group.Members = append(group.Members, iapv1alpha1.Member(fmt.Sprintf("user:someone-with-a-long-name-%02d-%02d@engineering.outsider.example", g, m)))
		}
		spec.AccessGroups = append(spec.AccessGroups, group)
	}
	err := dryRunCreate(ns, spec)
	want := fmt.Sprintf("Namespace %s may grant only members matching %q (annotation %s); not allowed: "+
		"user:someone-with-a-long-name-00-00@engineering.outsider.example, user:someone-with-a-long-name-00-01@engineering.outsider.example, "+
		"user:someone-with-a-long-name-00-02@engineering.outsider.example, user:someone-with-a-long-name-00-03@engineering.outsider.example, "+
		"user:someone-with-a-long-name-00-04@engineering.outsider.example and 1495 more. Remove them from the access groups or ask a cluster admin to widen the annotation.",
		ns, strings.Join(patterns, ", "), iapv1alpha1.AnnotationAllowedMembers)
	if !refusedWith(err, want) {
		t.Errorf("%s\nwant: %s", describe(err), want)
	}

	// The same members, all admitted by the last pattern tried.
	ensureNamespace(t, "cost-largest-admitted", map[string]string{iapv1alpha1.AnnotationAllowedProjects: "acme-prod",
		iapv1alpha1.AnnotationAllowedMembers: strings.Join(append(patterns, "*@engineering.outsider.example"), ", ")})
	if err := dryRunCreate("cost-largest-admitted", spec); err != nil {
		t.Errorf("%s, want admitted", describe(err))
	}
}

// Updates are judged like creates when they change the spec. Updates that leave the spec alone
// (labels, the controller's finalizer) pass even when the namespace no longer allows the object,
// so it can still be cleaned up and deleted.
func TestPolicy_JudgesSpecUpdates(t *testing.T) {
	installPolicy(t)
	ctx := context.Background()
	ns := "updates"
	ensureNamespace(t, ns, map[string]string{iapv1alpha1.AnnotationAllowedProjects: "acme-prod", iapv1alpha1.AnnotationAllowedMembers: "*@acme.com"})
	ps := object(ns, "app", iapv1alpha1.ProtectedServiceSpec{Service: tenancycases.Billing,
		AccessGroups: []iapv1alpha1.AccessGroup{{Name: "devs", Members: []iapv1alpha1.Member{"user:alice@acme.com"}}}})
	if err := env.Client.Create(ctx, ps); err != nil {
		t.Fatal(err)
	}

	t.Run("a disallowed member added", func(t *testing.T) {
		edited := ps.DeepCopy()
		edited.Spec.AccessGroups[0].Members = append(edited.Spec.AccessGroups[0].Members, "user:eve@evil.example")
		err := env.Client.Update(ctx, edited, client.DryRunAll)
		want := fmt.Sprintf("Namespace %s may grant only members matching \"*@acme.com\" (annotation %s); not allowed: user:eve@evil.example. "+
			"Remove them from the access groups or ask a cluster admin to widen the annotation.", ns, iapv1alpha1.AnnotationAllowedMembers)
		if !refusedWith(err, want) {
			t.Errorf("%s\nwant: %s", describe(err), want)
		}
	})

	// The CRD makes spec.service immutable, and the API server checks that before admission
	// policies run: a move to a disallowed project is refused either way.
	t.Run("the project changed to a disallowed one", func(t *testing.T) {
		edited := ps.DeepCopy()
		edited.Spec.Service.Project = "other-proj"
		err := env.Client.Update(ctx, edited, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "spec.service is immutable") {
			t.Errorf("%s, want refused as immutable", describe(err))
		}
	})

	t.Run("after the namespace was narrowed", func(t *testing.T) {
		setAnnotation(t, ns, iapv1alpha1.AnnotationAllowedProjects, "other-proj")
		want := fmt.Sprintf("Namespace %s may not target Cloud Run service acme-prod/us-central1/svc-billing: the namespace allows only \"other-proj\". "+
			"Ask a cluster admin to add \"acme-prod/us-central1/svc-billing\" (or \"acme-prod\") to the %s annotation of namespace %s.",
			ns, iapv1alpha1.AnnotationAllowedProjects, ns)
		var edited *iapv1alpha1.ProtectedService
		// The policy reads namespaces from the API server's cache, which follows the change shortly.
		testenv.Eventually(t, 30*time.Second, "a spec edit refused for the narrowed namespace", func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ps), ps); err != nil {
				return err
			}
			edited = ps.DeepCopy()
			edited.Spec.AccessGroups[0].Members = append(edited.Spec.AccessGroups[0].Members, "user:bob@acme.com")
			if err := env.Client.Update(ctx, edited, client.DryRunAll); !refusedWith(err, want) {
				return errors.New(describe(err))
			}
			return nil
		})

		kept := ps.DeepCopy()
		kept.Labels = map[string]string{"team": "finance"}
		kept.Finalizers = append(kept.Finalizers, iapv1alpha1.Finalizer)
		if err := env.Client.Update(ctx, kept); err != nil {
			t.Fatalf("label and finalizer added without a spec change: %s", describe(err))
		}
		if err := env.Client.Delete(ctx, kept); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(kept), kept); err != nil {
			t.Fatal(err)
		}
		kept.Finalizers = nil
		if err := env.Client.Update(ctx, kept); err != nil {
			t.Fatalf("finalizer released: %s", describe(err))
		}
		testenv.Eventually(t, 10*time.Second, "object deleted", func() error {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(kept), kept)
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there: %v", err)
		})
	})
}

// The controller stays the authority: without the policy (removed, or never installed with
// --allow-any-project) every object is stored and the controller alone decides.
func TestWithoutThePolicy_EveryObjectIsAdmitted(t *testing.T) {
	installPolicy(t)
	for _, c := range tenancycases.Cases {
		ensureNamespace(t, c.Namespace, c.Annotations)
	}
	removePolicy(t)
	t.Cleanup(func() { installPolicy(t) })
	for _, c := range tenancycases.Cases {
		if err := dryRunCreate(c.Namespace, c.Spec); err != nil {
			t.Errorf("%s: %s, want admitted without the policy", c.Name, describe(err))
		}
	}
}

func setAnnotation(t *testing.T, namespace, key, value string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "annotate namespace "+namespace, func() error {
		ns := &corev1.Namespace{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: namespace}, ns); err != nil {
			return err
		}
		ns.Annotations[key] = value
		return env.Client.Update(context.Background(), ns)
	})
}
