package reach

import "testing"

func TestDescribeCondition_WordsWhatItRecognizes(t *testing.T) {
	cases := []struct{ expression, want string }{
		{"", "always"},
		{`request.time >= timestamp("1970-01-01T00:00:00Z")`, "always"},
		{inLevel(levelCorp) + ` && request.path.startsWith("/reports/") && request.time < timestamp("2027-01-01T00:00:00Z")`,
			"from corp_network, on paths /reports/*, until 2027-01-01"},
		{`(request.path.startsWith("/a/") || request.path.startsWith("/b/")) && request.host == "x.acme.com"`,
			"on paths /a/* or /b/*, on host x.acme.com"},
		{`request.time >= timestamp("2026-06-01T12:30:00Z")`, "since 2026-06-01T12:30:00Z"},
		{`!(` + inLevel(levelGermany) + `)`, "not from germany"},
		{`request.time.getHours("Europe/Berlin") >= 9 && request.time.getHours("Europe/Berlin") < 17`,
			"from 09:00 Europe/Berlin, before 17:00 Europe/Berlin"},
		{`request.host.endsWith(".acme.com") || request.path == "/health"`, `request.host.endsWith(".acme.com") || request.path == "/health"`},
		{`resource.name.startsWith("projects/1/")`, `resource.name.startsWith("projects/1/")`},
		{`this is not CEL`, `this is not CEL`},
	}
	for _, tc := range cases {
		if got := DescribeCondition(tc.expression); got != tc.want {
			t.Errorf("DescribeCondition(%q) = %q, want %q", tc.expression, got, tc.want)
		}
	}
}
