// Package versiontest checks a command's --version flag the way a user meets it: the test binary
// runs again as the command itself, with --version, in a process of its own.
package versiontest

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/runguard/runguard/internal/version"
)

// asCommand, set in the environment, makes the test binary run the command's main instead of tests.
const asCommand = "RUNGUARD_VERSIONTEST_RUN_MAIN"

// Main is a package's TestMain for a command whose main is main: it runs the tests, or main when
// CheckFlag re-executes the test binary.
func Main(m *testing.M, main func()) {
	if os.Getenv(asCommand) != "" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// CheckFlag runs the command with --version and fails t unless it exits 0 having printed
// version.String() and nothing else.
func CheckFlag(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--version")
	cmd.Env = append(os.Environ(), asCommand+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("--version exited %d: %s", exit.ExitCode(), stderr.String())
	case err != nil:
		t.Fatal(err)
	}
	if got, want := string(out), version.String()+"\n"; got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
}
