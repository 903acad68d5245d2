package packaging

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	// Registers runguard's collectors with controller-runtime's registry, as in the manager.
	_ "github.com/runguard/runguard/controllers"
)

// promql is Prometheus' own parser with its default options: what a Prometheus server accepts
// in a rule or a Grafana panel sends to one.
var promql = parser.NewParser(parser.Options{})

// metricNamesIn parses a PromQL expression and returns the names of the metrics it selects, in
// the order they appear. A selector that names no single metric (a regular expression on
// __name__) is an error: its metrics could not be checked.
func metricNamesIn(expr string) ([]string, error) {
	ast, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var unnamed error
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			unnamed = fmt.Errorf("selector %s names no single metric", vs)
			return nil
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	return names, unnamed
}

// metricFamilies reads a Prometheus text exposition: each family's name and type.
func metricFamilies(t *testing.T, exposition string) map[string]string {
	t.Helper()
	families := map[string]string{}
	for s := bufio.NewScanner(strings.NewReader(exposition)); s.Scan(); {
		if f := strings.Fields(s.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			families[f[2]] = f[3]
		}
	}
	if len(families) == 0 {
		t.Fatalf("no metric families in the scrape:\n%s", exposition)
	}
	return families
}

// served tells whether series of that name are in the families: a family of its own, or a
// histogram's or summary's _bucket, _sum and _count.
func served(name string, families map[string]string) bool {
	if _, ok := families[name]; ok {
		return true
	}
	for suffix, types := range map[string][]string{"_bucket": {"histogram"}, "_sum": {"histogram", "summary"}, "_count": {"histogram", "summary"}} {
		base, found := strings.CutSuffix(name, suffix)
		if found && slices.Contains(types, families[base]) {
			return true
		}
	}
	return false
}

// registeredByTheManager tells whether a collector the manager's packages register (controllers'
// init, imported above) uses the name: a vector with no series yet is registered but absent from
// a scrape. The registry lists nothing; it refuses a probe of the same name with another help
// text exactly when the name is taken.
func registeredByTheManager(name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "test/packaging probe"})
	if err := ctrlmetrics.Registry.Register(probe); err != nil {
		return true
	}
	ctrlmetrics.Registry.Unregister(probe)
	return false
}

// checkServed fails for every metric a shipped query names that the running manager does not
// serve, naming the metric and the query.
func checkServed(t *testing.T, families map[string]string) {
	t.Helper()
	checked, unobserved := 0, []string{}
	for _, q := range shippedQueries(t) {
		names, err := metricNamesIn(q.expr)
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
			continue
		}
		for _, name := range names {
			checked++
			if served(name, families) {
				continue
			}
			if registeredByTheManager(name) {
				if !slices.Contains(unobserved, name) {
					unobserved = append(unobserved, name)
				}
				continue
			}
			t.Errorf("%s queries %s, which the manager does not export (not in its scrape, not registered by its packages)", q.where, name)
		}
	}
	t.Logf("checked %d metric references against %d families served; registered but without series yet: %v", checked, len(families), unobserved)
}

// scrapeManager reads the manager's metrics endpoint with a token authorized for /metrics.
func scrapeManager(t *testing.T, m *runningManager, token string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the manager's self-signed certificate
	}}
	req, _ := http.NewRequest(http.MethodGet, m.metricsURL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, body.String())
	}
	return body.String()
}
