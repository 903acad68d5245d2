package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/controllers"
	"github.com/runguard/runguard/internal/tenancy"
)

// workloadIdentityAnnotation binds a Kubernetes service account to a Google service account on
// GKE (Workload Identity).
const workloadIdentityAnnotation = "iam.gke.io/gcp-service-account"

// managerSelector finds the manager's Deployment, as kustomize and the chart label it.
const managerSelector = "app.kubernetes.io/name=runguard"

// targets are the projects to check, in order, and the locations known for each.
type targets struct {
	projects  []string
	locations map[string][]string
}

func newTargets(projects, locations []string) targets {
	t := targets{locations: map[string][]string{}}
	for _, p := range projects {
		t.add(p, locations...)
	}
	return t
}

func (t *targets) add(project string, locations ...string) {
	if !slices.Contains(t.projects, project) {
		t.projects = append(t.projects, project)
	}
	for _, l := range locations {
		if l != "" && !slices.Contains(t.locations[project], l) {
			t.locations[project] = append(t.locations[project], l)
		}
	}
}

func (t *targets) merge(o targets) {
	for _, p := range o.projects {
		t.add(p, o.locations[p]...)
	}
}

// clusterFlags say which cluster --from-cluster reads.
type clusterFlags struct {
	fromCluster bool
	kube        *genericclioptions.ConfigFlags
}

func newClusterFlags() clusterFlags {
	return clusterFlags{kube: &genericclioptions.ConfigFlags{KubeConfig: new(string), Context: new(string)}}
}

func (c *clusterFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&c.fromCluster, "from-cluster", false, "Read the projects and regions to check from the namespaces' allowed-projects annotations, and the manager's Workload Identity binding and audit-log subscription from its Deployment, in the kubeconfig's cluster.")
	c.kube.AddFlags(fs)
}

// discovered is what the cluster says about where runguard works.
type discovered struct {
	targets           targets
	auditSubscription string
}

// discover reads the namespaces' allowed-projects annotations and the manager's Deployment.
func (c *clusterFlags) discover(ctx context.Context, r *report) (discovered, error) {
	found := discovered{targets: newTargets(nil, nil)}
	cfg, err := c.kube.ToRESTConfig()
	if err != nil {
		return found, fmt.Errorf("--from-cluster: %w", err)
	}
	k8s, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return found, fmt.Errorf("--from-cluster: %w", err)
	}
	fmt.Fprintf(r.out, "cluster %s\n", cfg.Host)
	namespaces, err := k8s.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return found, fmt.Errorf("--from-cluster: list namespaces: %w", err)
	}
	for _, ns := range namespaces.Items {
		entries := tenancy.AllowedEntries(ns.Annotations[iapv1alpha1.AnnotationAllowedProjects])
		for _, e := range entries {
			if !e.Malformed {
				found.targets.add(e.Project, e.Location)
			}
		}
		if len(entries) > 0 {
			r.ok("namespace %s may target %s", ns.Name, ns.Annotations[iapv1alpha1.AnnotationAllowedProjects])
		}
	}
	if len(found.targets.projects) == 0 {
		r.note("no namespace has the %s annotation: no namespace may target a project yet (docs/tenancy.md)", iapv1alpha1.AnnotationAllowedProjects)
	}
	found.auditSubscription = c.checkManager(ctx, k8s, r)
	return found, nil
}

// checkManager reports the manager's Workload Identity binding and returns its audit-log
// subscription, if it has one.
func (c *clusterFlags) checkManager(ctx context.Context, k8s kubernetes.Interface, r *report) string {
	deployments, err := k8s.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: managerSelector})
	if err != nil {
		r.note("cannot list Deployments to find the manager (%v): its Workload Identity binding is not checked", err)
		return ""
	}
	if len(deployments.Items) == 0 {
		r.problem("no runguard manager Deployment (label %s) in the cluster: install it (docs/install.md)", managerSelector)
		return ""
	}
	d := deployments.Items[0]
	ksa := d.Spec.Template.Spec.ServiceAccountName
	if ksa == "" {
		ksa = "default"
	}
	sa, err := k8s.CoreV1().ServiceAccounts(d.Namespace).Get(ctx, ksa, metav1.GetOptions{})
	switch {
	case err != nil:
		r.problem("the manager's service account %s/%s: %v", d.Namespace, ksa, err)
	case sa.Annotations[workloadIdentityAnnotation] == "":
		r.note("manager %s/%s runs as %s/%s, which has no %s annotation: fine where its Google credentials come another way; on GKE bind it with Workload Identity (docs/install.md)",
			d.Namespace, d.Name, d.Namespace, ksa, workloadIdentityAnnotation)
	default:
		r.ok("manager %s/%s runs as %s/%s, bound by Workload Identity to %s (check as it: --impersonate-service-account %s)",
			d.Namespace, d.Name, d.Namespace, ksa, sa.Annotations[workloadIdentityAnnotation], sa.Annotations[workloadIdentityAnnotation])
	}
	if sub, ok := managerFlag(d, "audit-log-subscription"); ok {
		return sub
	}
	r.note("the manager has no --audit-log-subscription: drift is corrected by the resync only (docs/drift-events.md)")
	return ""
}

// managerFlag is the value the manager's Deployment gives one of its flags: its settings are
// published there, in the container's arguments (docs/cli.md).
func managerFlag(d appsv1.Deployment, name string) (string, bool) {
	for _, container := range d.Spec.Template.Spec.Containers {
		for i, arg := range container.Args {
			if v, ok := strings.CutPrefix(arg, "--"+name+"="); ok {
				return v, true
			}
			if arg == "--"+name && i+1 < len(container.Args) {
				return container.Args[i+1], true
			}
		}
	}
	return "", false
}

// clusterView is the cluster the kubeconfig names, when one answers: export and plan read the
// manager's settings and the namespaces' annotations there instead of asking for flags.
type clusterView struct {
	k8s     kubernetes.Interface
	dynamic dynamic.Interface
	host    string
	// manager is the manager's Deployment, read once.
	manager    *appsv1.Deployment
	managerErr error
}

// clusterTimeout bounds each read of the cluster: a kubeconfig naming a cluster that is gone
// must not hold the command.
const clusterTimeout = 5 * time.Second

// openCluster is the kubeconfig's cluster, or nil when the kubeconfig names none (no
// kubeconfig, or no current context): then nothing is read from a cluster.
func openCluster(kube *genericclioptions.ConfigFlags) (*clusterView, error) {
	raw, err := kube.ToRawKubeConfigLoader().RawConfig()
	if err != nil || (raw.CurrentContext == "" && *kube.Context == "") {
		return nil, nil //nolint:nilerr // no usable kubeconfig: no cluster to read, which is not an error
	}
	cfg, err := kube.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = clusterTimeout
	k8s, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &clusterView{k8s: k8s, dynamic: dyn, host: cfg.Host}, nil
}

// managerDeployment is the manager's Deployment (label app.kubernetes.io/name=runguard), and
// which one it is.
func (v *clusterView) managerDeployment(ctx context.Context) (*appsv1.Deployment, string, error) {
	if v.manager == nil && v.managerErr == nil {
		deployments, err := v.k8s.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: managerSelector})
		switch {
		case err != nil:
			v.managerErr = err
		case len(deployments.Items) == 0:
			v.managerErr = fmt.Errorf("no runguard manager Deployment (label %s) in the cluster at %s", managerSelector, v.host)
		default:
			v.manager = &deployments.Items[0]
		}
	}
	if v.managerErr != nil {
		return nil, "", v.managerErr
	}
	return v.manager, "Deployment " + v.manager.Namespace + "/" + v.manager.Name, nil
}

// managerSetting is the value the manager runs with for one of its flags, def when its
// Deployment names none, and which Deployment said so.
func (v *clusterView) managerSetting(ctx context.Context, flag, def string) (value, where string, err error) {
	d, where, err := v.managerDeployment(ctx)
	if err != nil {
		return "", "", err
	}
	if value, ok := managerFlag(*d, flag); ok {
		return value, where, nil
	}
	return def, where, nil
}

// managerClusterName is the --cluster-name the manager's Deployment runs with (the manager's
// default when it names none), and which Deployment said so.
func (v *clusterView) managerClusterName(ctx context.Context) (name, where string, err error) {
	return v.managerSetting(ctx, "cluster-name", controllers.DefaultOptions().ClusterName)
}

// namespaceAnnotations are a namespace's annotations, nil when it does not exist.
func (v *clusterView) namespaceAnnotations(ctx context.Context, name string) (map[string]string, error) {
	ns, err := v.k8s.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ns.Annotations, nil
}

// accessLevelResource is the AccessLevel kind's resource.
var accessLevelResource = iapv1alpha1.GroupVersion.WithResource("accesslevels")

// accessLevels are the cluster's AccessLevel objects; none when the cluster does not serve the
// kind (a manager installed before it).
func (v *clusterView) accessLevels(ctx context.Context) ([]iapv1alpha1.AccessLevel, error) {
	list, err := v.dynamic.Resource(accessLevelResource).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]iapv1alpha1.AccessLevel, len(list.Items))
	for i := range list.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &out[i]); err != nil {
			return nil, fmt.Errorf("read AccessLevel %s: %w", list.Items[i].GetName(), err)
		}
	}
	return out, nil
}
