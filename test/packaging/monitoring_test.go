package packaging

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	promparser "github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/runguard/runguard/internal/testenv"
)

var (
	rulesFile     = repoPath("config", "monitoring", "prometheus-rule.yaml")
	dashboardFile = repoPath("config", "monitoring", "runguard-dashboard.json")
)

// alertRules loads the PrometheusRule's groups the way Prometheus loads a rule file: unknown
// fields, expressions, durations, label names and annotation templates are all checked.
func alertRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	groups, err := yaml.Marshal(rule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	rgs, errs := rulefmt.Parse(groups, false, model.UTF8Validation, promql)
	for _, err := range errs {
		t.Errorf("%s: %v", rulesFile, err)
	}
	if rgs == nil || len(errs) > 0 {
		t.FailNow()
	}
	return rgs
}

type grafanaTarget struct {
	Expr string `json:"expr"`
}

type grafanaPanel struct {
	ID         int             `json:"id"`
	Title      string          `json:"title"`
	Type       string          `json:"type"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []grafanaTarget `json:"targets"`
}

type grafanaDashboard struct {
	UID        string         `json:"uid"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			AllValue string `json:"allValue"`
			Query    any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func dashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// A query the shipped monitoring sends to Prometheus, and where it comes from.
type shippedQuery struct {
	where, expr string
}

// labelValues is Grafana's variable query label_values(selector, label); only the selector is PromQL.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// grafanaBuiltins are the interval variables Grafana fills in before it sends a query.
var grafanaBuiltins = []string{"$__rate_interval", "$__interval", "$__range"}

// grafanaVariable is a variable left in a query ($1 in label_replace is PromQL's own).
var grafanaVariable = regexp.MustCompile(`\$\{?[A-Za-z_]\w*\}?`)

// shippedQueries are every alert expression and every dashboard query, with Grafana's variables
// replaced the way Grafana replaces them (a variable's "All" value, an interval for the builtins).
func shippedQueries(t *testing.T) []shippedQuery {
	t.Helper()
	var out []shippedQuery
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			out = append(out, shippedQuery{"alert " + r.Alert, r.Expr})
		}
	}
	d := dashboard(t)
	replacer := []string{}
	for _, v := range d.Templating.List {
		all := v.AllValue
		if all == "" {
			all = ".*"
		}
		replacer = append(replacer, "${"+v.Name+"}", all, "$"+v.Name, all)
		if v.Type != "query" {
			continue
		}
		q, ok := v.Query.(string) // older dashboards' form
		if m, isMap := v.Query.(map[string]any); isMap {
			q, ok = m["query"].(string)
		}
		if !ok {
			t.Errorf("dashboard variable %s: no query in %v", v.Name, v.Query)
			continue
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("dashboard variable %s: query %q is not label_values(selector, label)", v.Name, q)
			continue
		}
		out = append(out, shippedQuery{"dashboard variable " + v.Name, m[1]})
	}
	for _, b := range grafanaBuiltins {
		replacer = append(replacer, b, "5m")
	}
	grafana := strings.NewReplacer(replacer...)
	for _, p := range d.Panels {
		for i, target := range p.Targets {
			out = append(out, shippedQuery{fmt.Sprintf("dashboard panel %q, query %d", p.Title, i+1), grafana.Replace(target.Expr)})
		}
	}
	return out
}

func TestAlerts_LoadAsPrometheusLoadsThem(t *testing.T) {
	docs, err := os.ReadFile(repoPath("docs", "observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || !strings.HasPrefix(r.Alert, "Runguard") || seen[r.Alert] {
				t.Errorf("group %s: alert %q must be named Runguard... and only once", g.Name, r.Alert)
			}
			seen[r.Alert] = true
			if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			// The runbook is a heading of docs/observability.md named after the alert.
			anchor := "#" + strings.ToLower(r.Alert)
			if !strings.HasSuffix(r.Annotations["runbook_url"], "/docs/observability.md"+anchor) ||
				!regexp.MustCompile(`(?m)^#+ `+r.Alert+`$`).Match(docs) {
				t.Errorf("%s: runbook_url %q, want docs/observability.md%s and a heading %s there", r.Alert, r.Annotations["runbook_url"], anchor, r.Alert)
			}
		}
	}
	// The six: stalled objects, public services, drift fighting, Google errors by class,
	// quota throttling, a silent audit subscription.
	for _, want := range []string{"RunguardProtectedServicesStalled", "RunguardPublicAccessCorrected", "RunguardDriftFighting",
		"RunguardGooglePermissionDenied", "RunguardGoogleRequestsRejected", "RunguardGoogleErrorsHigh",
		"RunguardGoogleQuotaExhausted", "RunguardAuditSubscriptionSilent"} {
		if !seen[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

func TestAlertsAndDashboard_EveryQueryParsesAndNamesItsMetrics(t *testing.T) {
	d := dashboard(t)
	if d.UID == "" {
		t.Error("dashboard has no uid: every import would create a new copy")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d is used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if !strings.Contains(string(p.Datasource), "${datasource}") {
			t.Errorf("panel %q: datasource %s, want the dashboard's ${datasource} variable", p.Title, p.Datasource)
		}
	}
	for _, q := range shippedQueries(t) {
		if v := grafanaVariable.FindString(q.expr); v != "" {
			t.Errorf("%s: Grafana variable %s is neither the dashboard's nor a builtin the test knows: %s", q.where, v, q.expr)
		}
		names, err := metricNamesIn(q.expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", q.where, err, q.expr)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s selects no metric: %s", q.where, q.expr)
		}
	}
}

// The Stalled alert's reasons are exactly the ones api/v1alpha1 lists as needing a human: a new
// one cannot be added there and forgotten here.
func TestStalledAlert_CoversEveryReasonThatNeedsAHuman(t *testing.T) {
	_, reasons, human := testenv.ConditionConstants(t)
	other := slices.DeleteFunc(slices.Clone(reasons), func(r string) bool { return slices.Contains(human, r) })
	if len(human) < 10 {
		t.Fatalf("found only %d reasons that need a human in api/v1alpha1/conditions.go: %v", len(human), human)
	}
	var matcher *labels.Matcher
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert != "RunguardProtectedServicesStalled" {
				continue
			}
			expr, err := promql.ParseExpr(r.Expr)
			if err != nil {
				t.Fatal(err)
			}
			promparser.Inspect(expr, func(node promparser.Node, _ []promparser.Node) error {
				if vs, ok := node.(*promparser.VectorSelector); ok && vs.Name == "runguard_reconcile_outcomes_total" {
					for _, m := range vs.LabelMatchers {
						if m.Name == "reason" {
							matcher = m
						}
					}
				}
				return nil
			})
		}
	}
	if matcher == nil {
		t.Fatal("RunguardProtectedServicesStalled selects runguard_reconcile_outcomes_total by no reason")
	}
	for _, r := range human {
		if !matcher.Matches(r) {
			t.Errorf("reason %s needs a human, but %s does not match it", r, matcher)
		}
	}
	for _, r := range other {
		if matcher.Matches(r) {
			t.Errorf("reason %s is not one that needs a human, but %s matches it", r, matcher)
		}
	}
}

// monitoringOverlay is config/default with both monitoring components, as docs/observability.md
// tells a kustomize user to write it.
func monitoringOverlay(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	overlay := t.TempDir()
	rel := func(dir string) string {
		r, err := filepath.Rel(overlay, repoPath("config", dir))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	writeFile(t, filepath.Join(overlay, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- "+rel("default")+
		"\ncomponents:\n- "+rel("monitoring")+"\n- "+rel("managed-prometheus")+"\n")
	return renderKustomize(t, overlay)
}

var monitoringValues = []string{"metrics.prometheusRule.enabled=true", "metrics.grafanaDashboard.enabled=true", "metrics.podMonitoring.enabled=true"}

var monitoringObjects = []struct{ kind, name string }{
	{"PrometheusRule", "runguard-alerts"},
	{"ConfigMap", "runguard-grafana-dashboard"},
	{"PodMonitoring", "runguard-controller-manager-metrics-monitor"},
	{"ServiceAccount", "runguard-metrics-scraper"},
	{"Secret", "runguard-metrics-scraper-token"},
	{"ClusterRoleBinding", "runguard-metrics-scraper"},
	{"Role", "runguard-metrics-scraper-token-reader"},
	{"RoleBinding", "runguard-metrics-scraper-token-reader"},
}

// Alerts, dashboard and Managed Prometheus need CRDs or grant access, so a default install has
// none of them; switched on, kustomize and Helm install the same objects with the same content.
func TestMonitoring_OptInAndAlikeInKustomizeAndHelm(t *testing.T) {
	for _, r := range installs(t) {
		for _, o := range monitoringObjects {
			if find(r.objs, o.kind, o.name) != nil {
				t.Errorf("%s installs %s %s by default", r.name, o.kind, o.name)
			}
		}
	}
	kustomized, helm := monitoringOverlay(t), renderHelm(t, monitoringValues...)
	for _, o := range monitoringObjects {
		k, h := find(kustomized, o.kind, o.name), find(helm, o.kind, o.name)
		if k == nil || h == nil {
			t.Errorf("%s %s: rendered by kustomize %v, by Helm %v", o.kind, o.name, k != nil, h != nil)
			continue
		}
		if k.GetNamespace() != h.GetNamespace() {
			t.Errorf("%s %s: namespace %q with kustomize, %q with Helm", o.kind, o.name, k.GetNamespace(), h.GetNamespace())
		}
		// Helm's selectors add the release's instance label; TestPodMonitoring_* checks they select the manager.
		spec := []string{"spec"}
		if o.kind == "PodMonitoring" {
			spec = []string{"spec", "endpoints"}
		}
		for _, field := range [][]string{spec, {"data"}, {"rules"}, {"roleRef"}, {"subjects"}, {"type"}, {"metadata", "annotations"}} {
			kv, _, _ := unstructured.NestedFieldNoCopy(k.Object, field...)
			hv, _, _ := unstructured.NestedFieldNoCopy(h.Object, field...)
			if fmt.Sprint(kv) != fmt.Sprint(hv) {
				t.Errorf("%s %s: %s differs:\nkustomize: %v\nhelm:      %v", o.kind, o.name, strings.Join(field, "."), kv, hv)
			}
		}
	}
	for _, objs := range [][]*unstructured.Unstructured{kustomized, helm} {
		cm := mustFind(t, objs, "ConfigMap", "runguard-grafana-dashboard")
		if cm.GetLabels()["grafana_dashboard"] != "1" {
			t.Errorf("dashboard ConfigMap labels %v: Grafana's sidecar looks for grafana_dashboard=1", cm.GetLabels())
		}
		if data, _, _ := unstructured.NestedString(cm.Object, "data", "runguard.json"); !json.Valid([]byte(data)) {
			t.Error("the dashboard ConfigMap does not hold the dashboard's JSON")
		}
	}
}

func TestHelmValues_MonitoringNeedsMetrics(t *testing.T) {
	objs := renderHelm(t, append([]string{"metrics.enabled=false"}, monitoringValues...)...)
	for _, o := range monitoringObjects {
		if find(objs, o.kind, o.name) != nil {
			t.Errorf("metrics.enabled=false, yet Helm renders %s %s", o.kind, o.name)
		}
	}
}
