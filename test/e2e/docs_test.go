package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocs_ShellSnippetsParse keeps every sh/bash block in README.md and docs/, and the demo
// script, valid shell: a new user copies them as they are.
func TestDocs_ShellSnippetsParse(t *testing.T) {
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "README.md"))
	checked := 0
	for _, f := range files {
		for _, snip := range shellSnippets(t, f) {
			checked++
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(snip.text)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s:%d: shell snippet does not parse (bash -n): %v\n%s\n---\n%s", filepath.Base(f), snip.line, err, out, snip.text)
			}
		}
	}
	if checked == 0 {
		t.Error("found no sh/bash snippets in README.md and docs/; the Quick start should have one")
	}
	if out, err := exec.Command("bash", "-n", filepath.Join(root, "hack", "demo.sh")).CombinedOutput(); err != nil {
		t.Errorf("hack/demo.sh does not parse: %v\n%s", err, out)
	}
}

type snippet struct {
	line int
	text string
}

// shellSnippets returns the fenced blocks marked sh, bash or shell.
func shellSnippets(t *testing.T, path string) []snippet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			t.Errorf("%s is missing", filepath.Base(path))
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	var out []snippet
	var cur *snippet
	fence := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && fence == "" && strings.HasPrefix(trimmed, "```"):
			fence = "```"
			switch strings.TrimSpace(strings.TrimPrefix(trimmed, "```")) {
			case "sh", "bash", "shell":
				cur = &snippet{line: n + 1}
			}
		case fence != "" && trimmed == fence:
			if cur != nil {
				out = append(out, *cur)
			}
			cur, fence = nil, ""
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
