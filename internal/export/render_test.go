package export_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/type/expr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/internal/export"
	"github.com/runguard/runguard/internal/iampolicy"
	"github.com/runguard/runguard/internal/manifest"
)

// awkward are characters a Google string may hold that YAML does not take as they are in a
// comment: line breaks (YAML 1.1 counts NEL, LS and PS as line breaks), control characters, a byte
// order mark, noncharacters — and a backslash, the escape character itself.
var awkward = []string{"\u2028", "\u2029", "\u0085", "\r", "\r\n", "\n", "\x00", "\x1b", "\x7f", "\u0080", "\u009f",
	"\ufeff", "\ufffe", "\uffff", "\t", `\`, `\u2028`, `"`, "'", "#", ": ", " - ", "---", "\U0001F600"}

// The defect of issue 22: an unowned grant whose condition holds a line separator in a string
// literal was commented out line by line on "\n" only, so YAML saw the comment end mid-line and
// nothing could read the manifest.
func TestYAML_UnownedConditionWithAwkwardCharactersStaysACommentAndReadsBackExactly(t *testing.T) {
	for _, c := range awkward {
		expression := `request.auth.claims.name == "a` + c + `b"`
		t.Run(strings.Trim(strconv.Quote(c), `"`), func(t *testing.T) {
			access := &iampb.Policy{Bindings: []*iampb.Binding{{Role: iampolicy.AccessorRole, Members: []string{"user:odd@acme.com"},
				Condition: &expr.Expr{Title: "odd name", Expression: expression}}}}
			m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: access}, options())
			out, err := m.YAML()
			if err != nil {
				t.Fatalf("export fails to render: %v", err)
			}
			if docs, err := manifest.Read(bytes.NewReader(out), "export"); err != nil || len(docs) != 1 {
				t.Fatalf("the export is not a manifest kubectl reads (%d documents): %v\n%s", len(docs), err, out)
			}
			groups, err := commentedOutGroups(out)
			if err != nil {
				t.Fatalf("the commented-out groups, uncommented, do not read: %v\n%s", err, out)
			}
			if len(groups) != 1 || groups[0].Context == nil || groups[0].Context.Expression != expression {
				t.Fatalf("the commented-out groups read back as %s, want one with the expression %q exactly\n%s", mustJSON(groups), expression, out)
			}
		})
	}
}

func TestYAML_EscapedCommentIsSaidOnceNamingTheGrant(t *testing.T) {
	access := &iampb.Policy{Bindings: []*iampb.Binding{
		{Role: iampolicy.AccessorRole, Members: []string{"user:odd@acme.com"},
			Condition: &expr.Expr{Title: "odd name", Expression: "request.auth.claims.name == \"a\u2028b\""}},
		{Role: iampolicy.AccessorRole, Members: []string{"user:nel@acme.com"},
			Condition: &expr.Expr{Title: "nel", Expression: "request.auth.claims.name == \"a\u0085b\""}},
		{Role: iampolicy.AccessorRole, Members: []string{"user:plain@acme.com"},
			Condition: &expr.Expr{Title: "plain", Expression: `request.auth.claims.name == "ab"`}},
	}}
	m := export.Build(export.Observed{Target: target, Service: service(true), InvokerPolicy: &iampb.Policy{}, AccessPolicy: access}, options())
	out, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "escaped") {
			said = append(said, line)
		}
	}
	note := noteSaying(out, "escaped")
	if strings.Count(string(out), "are escaped") != 1 || !strings.Contains(note, "odd-name (user:odd@acme.com)") ||
		!strings.Contains(note, "nel (user:nel@acme.com)") || strings.Contains(note, "plain@acme.com") || !strings.Contains(note, `\u2028`) {
		t.Errorf("the export does not say once which grants' characters are escaped, and how (lines %q):\n%s", said, out)
	}
	if !strings.Contains(string(out), `request.auth.claims.name == \"a\u2028b\"`) {
		t.Errorf("the commented-out group does not show the line separator as \\u2028:\n%s", out)
	}
}

// The property behind the defect, for any string: wherever the export puts it — in a note, in the
// object, in a commented-out group — the comments stay comments (the document reads as the same
// object with them and without them), and the object and the commented-out groups read back to
// exactly the strings they were made from.
func FuzzYAML_CommentsStayComments(f *testing.F) {
	for _, c := range awkward {
		f.Add("a" + c + "b")
	}
	f.Add("")
	f.Add("\xff\xfe invalid UTF-8")
	f.Fuzz(checkCommentsStayComments)
}

// TestYAML_CommentsStayCommentsForRandomStrings runs the fuzz property over strings drawn mostly
// from the awkward characters, so every `go test` covers combinations the seed corpus does not.
func TestYAML_CommentsStayCommentsForRandomStrings(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 2))
	for range 500 {
		var s strings.Builder
		for range r.IntN(12) {
			switch r.IntN(3) {
			case 0:
				s.WriteString(awkward[r.IntN(len(awkward))])
			case 1:
				s.WriteRune(rune(r.IntN(0x110000)))
			default:
				s.WriteString(" x ")
			}
		}
		checkCommentsStayComments(t, s.String())
	}
}

func checkCommentsStayComments(t *testing.T, s string) {
	m := export.Manifest{
		Object: &iapv1alpha1.ProtectedService{
			TypeMeta: metav1.TypeMeta{APIVersion: iapv1alpha1.GroupVersion.String(), Kind: "ProtectedService"},
			Spec: iapv1alpha1.ProtectedServiceSpec{Service: iapv1alpha1.ServiceRef{Project: "p", Location: "l", Name: s},
				AccessGroups: []iapv1alpha1.AccessGroup{{Name: "own", Members: []iapv1alpha1.Member{"user:" + iapv1alpha1.Member(s)},
					Context: &iapv1alpha1.AccessContext{Expression: s}}}},
		},
		Notes: []string{"a note quoting " + s},
		Foreign: []iapv1alpha1.AccessGroup{{Name: "theirs", Members: []iapv1alpha1.Member{iapv1alpha1.Member(s)},
			Context: &iapv1alpha1.AccessContext{Expression: s, PathPrefixes: []iapv1alpha1.PathPrefix{iapv1alpha1.PathPrefix(s)}, Hosts: []iapv1alpha1.Host{iapv1alpha1.Host(s)}}}},
	}
	out, err := m.YAML()
	if err != nil {
		t.Fatalf("%q: export fails to render: %v", s, err)
	}
	var with, without iapv1alpha1.ProtectedService
	if err := yaml.UnmarshalStrict(out, &with); err != nil {
		t.Fatalf("%q: the export does not read: %v\n%s", s, err, out)
	}
	if err := yaml.UnmarshalStrict(withoutComments(out), &without); err != nil {
		t.Fatalf("%q: the export without its comments does not read: %v\n%s", s, err, out)
	}
	if diff := cmp.Diff(without, with); diff != "" {
		t.Fatalf("%q: the comments change the object (-without +with):\n%s\n%s", s, diff, out)
	}
	groups, err := commentedOutGroups(out)
	if err != nil {
		t.Fatalf("%q: the commented-out groups, uncommented, do not read: %v\n%s", s, err, out)
	}
	if !utf8.ValidString(s) {
		// No YAML document holds invalid UTF-8 (nor does any Google string): it reads as U+FFFD.
		return
	}
	if diff := cmp.Diff(m.Object.Spec, with.Spec); diff != "" {
		t.Errorf("%q: the object reads back changed (-exported +read):\n%s\n%s", s, diff, out)
	}
	if diff := cmp.Diff(m.Foreign, groups); diff != "" {
		t.Errorf("%q: the commented-out groups read back changed (-exported +read):\n%s\n%s", s, diff, out)
	}
}

func mustJSON(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(raw)
}

const foreignHeader = "# Not runguard's: "

// commentedOutGroups uncomments the groups below foreignHeader, as a user moving them into the
// spec would, and reads them.
func commentedOutGroups(out []byte) ([]iapv1alpha1.AccessGroup, error) {
	_, block, found := strings.Cut(string(out), foreignHeader)
	if !found {
		return nil, nil
	}
	lines := strings.Split(strings.TrimSuffix(block, "\n"), "\n")[1:]
	for i, line := range lines {
		lines[i] = strings.TrimPrefix(line, "#   ")
	}
	var doc struct {
		AccessGroups []iapv1alpha1.AccessGroup `json:"accessGroups"`
	}
	err := yaml.UnmarshalStrict([]byte(strings.Join(lines, "\n")), &doc)
	return doc.AccessGroups, err
}

// withoutComments drops every line that starts a comment.
func withoutComments(out []byte) []byte {
	var kept []string
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "#") {
			kept = append(kept, line)
		}
	}
	return []byte(strings.Join(kept, "\n"))
}

// noteSaying is the note (its comment lines joined) that holds word.
func noteSaying(out []byte, word string) string {
	var note []string
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "# - "):
			note = []string{strings.TrimPrefix(line, "# - ")}
		case strings.HasPrefix(line, "#   ") && len(note) > 0:
			note = append(note, strings.TrimPrefix(line, "#   "))
		default:
			if n := strings.Join(note, " "); strings.Contains(n, word) {
				return n
			}
			note = nil
		}
	}
	return ""
}
