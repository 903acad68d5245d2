package packaging

import (
	"fmt"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
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
