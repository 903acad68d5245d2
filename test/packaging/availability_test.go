package packaging

import (
	"os/exec"
	"regexp"
	"slices"
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

func pdbOf(t *testing.T, r rendering) *policyv1.PodDisruptionBudget {
	t.Helper()
	var pdb policyv1.PodDisruptionBudget
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(mustFind(t, r.objs, "PodDisruptionBudget", "runguard-controller-manager").Object, &pdb); err != nil {
		t.Fatal(err)
	}
	return &pdb
}

// A node drain or cluster upgrade evicts the manager's replicas one at a time: the other keeps
// (or takes over) the lease meanwhile.
func TestPodDisruptionBudget_KeepsOneManagerThroughDrains(t *testing.T) {
	for _, r := range installs(t) {
		t.Run(r.name, func(t *testing.T) {
			pdb, d := pdbOf(t, r), deploymentOf(t, r.objs)
			if pdb.Namespace != d.Namespace {
				t.Errorf("PodDisruptionBudget in %q, Deployment in %q", pdb.Namespace, d.Namespace)
			}
			if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || pdb.Spec.MaxUnavailable != nil {
				t.Errorf("minAvailable %v, maxUnavailable %v: want minAvailable 1", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
			}
			if d.Spec.Replicas == nil || int(*d.Spec.Replicas) <= pdb.Spec.MinAvailable.IntValue() {
				t.Errorf("%v replicas with minAvailable %v: a drain could never evict one", d.Spec.Replicas, pdb.Spec.MinAvailable)
			}
			selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || selector.Empty() {
				t.Fatalf("selector %v (%v): want the manager's pods", pdb.Spec.Selector, err)
			}
			if !selector.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("selector %v does not select the manager's pods %v", pdb.Spec.Selector, d.Spec.Template.Labels)
			}
			if p := pdb.Spec.UnhealthyPodEvictionPolicy; p == nil || *p != policyv1.AlwaysAllow {
				t.Errorf("unhealthyPodEvictionPolicy %v: a crash-looping replica would block drains", p)
			}
		})
	}
	for _, set := range [][]string{{"podDisruptionBudget.enabled=false"}, {"replicaCount=1"}} {
		if find(renderHelm(t, set...), "PodDisruptionBudget", "runguard-controller-manager") != nil {
			t.Errorf("helm --set %v renders a PodDisruptionBudget", set)
		}
	}
}

// The chart's defaults are the manager's own, and each value reaches its flag.
func TestHelmValues_LeaderElectionTimingsReachTheManager(t *testing.T) {
	out, _ := exec.Command(managerBinary(t), "-help").CombinedOutput()
	managerDefault := func(flag string) string {
		m := regexp.MustCompile(`(?m)^\s+-` + flag + ` duration\n.*\(default (\S+)\)$`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("manager -help shows no default for -%s:\n%s", flag, out)
		}
		return m[1]
	}
	defaults := deploymentOf(t, renderHelm(t)).Spec.Template.Spec.Containers[0].Args
	set := deploymentOf(t, renderHelm(t, "leaderElection.leaseDuration=1m", "leaderElection.renewDeadline=40s",
		"leaderElection.retryPeriod=5s")).Spec.Template.Spec.Containers[0].Args
	for flag, value := range map[string]string{"lease-duration": "1m", "renew-deadline": "40s", "retry-period": "5s"} {
		if want := "--" + flag + "=" + managerDefault(flag); !slices.Contains(defaults, want) {
			t.Errorf("default args %v lack %s, the manager's default", defaults, want)
		}
		if want := "--" + flag + "=" + value; !slices.Contains(set, want) {
			t.Errorf("args %v lack %s", set, want)
		}
	}
	off := deploymentOf(t, renderHelm(t, "leaderElection.enabled=false", "replicaCount=1")).Spec.Template.Spec.Containers[0].Args
	if i := slices.IndexFunc(off, regexp.MustCompile(`^--(lease-duration|renew-deadline|retry-period)=`).MatchString); i >= 0 {
		t.Errorf("leader election off, yet args carry %s", off[i])
	}
}
