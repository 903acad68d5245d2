package packaging

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Every shell snippet in the install and GitOps guides must at least parse.
func TestDocs_ShellSnippetsParse(t *testing.T) {
	for _, doc := range []string{"install.md", "gitops.md"} {
		data, err := os.ReadFile(repoPath("docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		snippets := fencedBlocks(string(data), "sh", "bash")
		if doc == "install.md" && len(snippets) < 8 {
			t.Fatalf("%s: found only %d shell snippets", doc, len(snippets))
		}
		for i, s := range snippets {
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(s)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s, shell snippet %d does not parse: %v\n%s\n---\n%s", doc, i+1, err, out, s)
			}
		}
	}
}

func fencedBlocks(markdown string, langs ...string) []string {
	var blocks []string
	var current *strings.Builder
	for _, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case current == nil && strings.HasPrefix(trimmed, "```"):
			lang := strings.TrimPrefix(trimmed, "```")
			for _, l := range langs {
				if lang == l {
					current = &strings.Builder{}
				}
			}
		case current != nil && trimmed == "```":
			blocks = append(blocks, current.String())
			current = nil
		case current != nil:
			current.WriteString(line + "\n")
		}
	}
	return blocks
}
