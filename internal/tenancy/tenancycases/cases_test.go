package tenancycases

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// The table runs in one API server: every case needs its own valid namespace, and a refusal
// always says why.
func TestCases_AreWellFormed(t *testing.T) {
	names, namespaces := map[string]bool{}, map[string]bool{}
	rules := map[Rule]int{}
	for _, c := range Cases {
		if names[c.Name] {
			t.Errorf("case name %q is used twice", c.Name)
		}
		names[c.Name] = true
		if namespaces[c.Namespace] {
			t.Errorf("%s: namespace %q is used by another case", c.Name, c.Namespace)
		}
		namespaces[c.Namespace] = true
		if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
			t.Errorf("%s: namespace %q: %v", c.Name, c.Namespace, errs)
		}
		if (c.WantRule == Admitted) != (c.WantMessage == "") {
			t.Errorf("%s: rule %q with message %q: a refusal needs both, an admission neither", c.Name, c.WantRule, c.WantMessage)
		}
		rules[c.WantRule]++
	}
	for _, r := range []Rule{Admitted, RuleProject, RuleMembers, RulePublic} {
		if rules[r] < 2 {
			t.Errorf("only %d cases decided by rule %q", rules[r], r)
		}
	}
}
