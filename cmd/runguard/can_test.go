package main

import (
	"encoding/json"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"

	"github.com/runguard/runguard/internal/iampolicy"
)

// can's answers and exit codes over the access fake (startAccessFake). Groups are unknown unless
// a case says them: the organization grants group:everyone@acme.com, so a case that wants a
// certain DENY says --groups-known.
func TestCan_AnswersAndExitCodes(t *testing.T) {
	fake := startAccessFake(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		says []string
	}{
		{"a grant on the service lets its member in", []string{"user:tech-writer@acme.com", "--path", "/drafts/plan"}, exitOK,
			[]string{"ALLOW: user:tech-writer@acme.com gets through IAP to " + billing,
				"granted by   roles/iap.httpsResourceAccessor on " + billingIAP + ` (service), by hand ("drafts only")`, "condition    on paths /drafts/*"}},
		{"a path outside the grant's is denied on that clause", []string{"user:tech-writer@acme.com", "--path", "/admin", "--groups-known"}, exitDeny,
			[]string{"DENY: user:tech-writer@acme.com does not get through IAP to " + billing, `closest      roles/iap.httpsResourceAccessor on ` + billingIAP,
				`failed       request.path.startsWith("/drafts/")`}},
		{"a grant on the project is inherited", []string{"user:oncall@acme.com"}, exitOK,
			[]string{"ALLOW", "on projects/512345678901 (project), inherited from projects/512345678901"}},
		{"from inside the access level's range", []string{"user:cfo@acme.com", "--path", "/reports/q3", "--ip", "203.0.113.7"}, exitOK,
			[]string{"ALLOW", "runguard: group finance of ProtectedService finance/billing-dashboard (cluster demo)", "from corp_network, on paths /reports/*"}},
		{"from outside the access level's range", []string{"user:cfo@acme.com", "--path", "/reports/q3", "--ip", "198.51.100.7", "--groups-known"}, exitDeny,
			[]string{"DENY", "closest      roles/iap.httpsResourceAccessor on " + billingIAP + " (service), runguard: group finance", "failed       ", "198.51.100.7"}},
		{"a device policy with no device facts", []string{"user:mobile@acme.com", "--groups-known"}, exitDepends,
			[]string{"DEPENDS: whether user:mobile@acme.com gets through IAP", "might by     roles/iap.httpsResourceAccessor on " + billingIAP, "depends on   ", "screen lock"}},
		{"a device policy the facts meet", []string{"user:mobile@acme.com", "--groups-known", "--device", "screen_lock=true"}, exitOK,
			[]string{"ALLOW", `by hand ("managed devices")`}},
		{"membership of a group that is not known", []string{"user:lead@acme.com"}, exitDepends,
			[]string{"DEPENDS", "depends on   user:lead@acme.com is in group:platform@acme.com", "depends on   user:lead@acme.com is in group:everyone@acme.com"}},
		{"membership of a group that is known", []string{"user:lead@acme.com", "--group", "group:platform@acme.com"}, exitOK,
			[]string{"ALLOW", "on folders/100 (folder), inherited from folders/100"}},
		{"a role that does not carry the permission", []string{"user:viewer@acme.com", "--groups-known"}, exitDeny,
			[]string{"DENY", "user:viewer@acme.com holds roles/viewer on project projects/512345678901, which does not include iap.webServiceVersions.accessViaIAP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reachCLI(t, fake, append([]string{"can", tc.args[0], billing}, tc.args[1:]...)...)
			if r.code != tc.code {
				t.Errorf("can %v exited %d, want %d:\n%s%s", tc.args, r.code, tc.code, r.stdout, r.stderr)
			}
			for _, want := range tc.says {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("can %v lacks %q:\n%s", tc.args, want, r.stdout)
				}
			}
		})
	}
}

func TestCan_ErrorsExitOne(t *testing.T) {
	fake := startAccessFake(t)
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"an unknown service", []string{"user:oncall@acme.com", "acme-prod/us-central1/nope"}, "no such Cloud Run service: projects/acme-prod/locations/us-central1/services/nope"},
		{"a group as the member", []string{"group:finance@acme.com", billing}, `MEMBER "group:finance@acme.com" is a set of principals, which makes no request`},
		{"a member of no kind", []string{"alice@acme.com", billing}, `MEMBER "alice@acme.com" is not user:EMAIL`},
		{"a malformed device fact", []string{"user:oncall@acme.com", billing, "--device", "screen_lock=yes"}, "screen_lock is one of true, false"},
		{"a malformed time", []string{"user:oncall@acme.com", billing, "--at", "tomorrow"}, `--at "tomorrow" is not an RFC 3339 time`},
		{"a malformed group", []string{"user:oncall@acme.com", billing, "--group", "finance@acme.com"}, `--group "finance@acme.com": want group:EMAIL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reachCLI(t, fake, append([]string{"can"}, tc.args...)...)
			if r.code != exitError || !strings.Contains(r.stderr, tc.says) {
				t.Errorf("can %v exited %d, want %d and %q:\n%s%s", tc.args, r.code, exitError, tc.says, r.stdout, r.stderr)
			}
		})
	}
}

// --at decides time clauses; without it the request is made now.
func TestCan_AtDecidesTimeWindows(t *testing.T) {
	fake := startAccessFake(t)
	setPolicy(t, fake.SetIAPPolicy, billingIAP, bindingUntil(t, "user:temp@acme.com", "2027-01-01T00:00:00Z"))
	for at, code := range map[string]int{"2026-06-01T12:00:00Z": exitOK, "2027-06-01T12:00:00Z": exitDeny} {
		if r := reachCLI(t, fake, "can", "user:temp@acme.com", billing, "--at", at, "--groups-known"); r.code != code {
			t.Errorf("can at %s exited %d, want %d:\n%s%s", at, r.code, code, r.stdout, r.stderr)
		}
	}
}

// What the caller may not read could grant what the rest denies: DENY becomes DEPENDS naming it,
// and ALLOW stands.
func TestCan_UnreadPoliciesTurnDenyIntoDepends(t *testing.T) {
	fake := startAccessFake(t)
	r := reachCLI(t, fake, "can", "user:stranger@acme.com", billing, "--groups-known", "--impersonate-service-account", narrowReader, "-o", "json")
	var answer canAnswer
	if err := json.Unmarshal([]byte(r.stdout), &answer); err != nil || r.code != exitDepends || answer.Verdict != "DEPENDS" || answer.FromWhatWasRead != "DENY" ||
		!strings.Contains(strings.Join(answer.Depends, "\n"), "what the policy of projects/512345678901 grants: the caller lacks resourcemanager.projects.getIamPolicy") {
		t.Errorf("can as %s exited %d (%v), want %d, DEPENDS from DENY on the project's policy:\n%s%s", narrowReader, r.code, err, exitDepends, r.stdout, r.stderr)
	}
	r = reachCLI(t, fake, "can", "user:tech-writer@acme.com", billing, "--path", "/drafts/a", "--impersonate-service-account", narrowReader)
	if r.code != exitOK {
		t.Errorf("can of a grant on the service, as %s, exited %d, want %d:\n%s%s", narrowReader, r.code, exitOK, r.stdout, r.stderr)
	}
}

func bindingUntil(t *testing.T, member, until string) *iampb.Binding {
	t.Helper()
	return &iampb.Binding{Role: iampolicy.AccessorRole, Members: []string{member},
		Condition: &expr.Expr{Title: "until " + until, Expression: `request.time < timestamp("` + until + `")`}}
}
