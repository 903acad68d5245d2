package version

import (
	"maps"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestFromBuild(t *testing.T) {
	stamped := func(settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/runguard/runguard", Version: "v0.2.0"}, Settings: settings}
	}
	revision := debug.BuildSetting{Key: "vcs.revision", Value: "4f1c2e3d"}
	for _, tc := range []struct {
		name                string
		build               *debug.BuildInfo
		ldVersion, ldCommit string
		want                Info
	}{
		{"a build from a clean checkout names its commit", stamped(revision, debug.BuildSetting{Key: "vcs.modified", Value: "false"}), "", "",
			Info{Version: "v0.2.0", Commit: "4f1c2e3d", GoVersion: "go1.26.0"}},
		{"uncommitted changes mark the commit dirty", stamped(revision, debug.BuildSetting{Key: "vcs.modified", Value: "true"}), "", "",
			Info{Version: "v0.2.0", Commit: "4f1c2e3d-dirty", GoVersion: "go1.26.0"}},
		{"a build without VCS stamping says the commit is unknown", stamped(), "", "",
			Info{Version: "v0.2.0", Commit: "unknown", GoVersion: "go1.26.0"}},
		{"ldflags override the build info", stamped(revision), "v1.0.0", "abcdef",
			Info{Version: "v1.0.0", Commit: "abcdef", GoVersion: "go1.26.0"}},
		{"ldflags alone, without build info", nil, "v1.0.0", "abcdef",
			Info{Version: "v1.0.0", Commit: "abcdef", GoVersion: Get().GoVersion}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromBuild(tc.build, tc.ldVersion, tc.ldCommit); got != tc.want {
				t.Errorf("fromBuild = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestString_NamesVersionCommitAndGo(t *testing.T) {
	got := Info{Version: "v0.2.0", Commit: "4f1c2e3d", GoVersion: "go1.26.0"}.String()
	if want := "runguard v0.2.0 (commit 4f1c2e3d, go1.26.0)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !strings.HasPrefix(String(), "runguard ") {
		t.Errorf("this binary's String() = %q, want it to start with runguard", String())
	}
}

func TestNewCollector_ExportsBuildInfo(t *testing.T) {
	registry := prometheus.NewPedanticRegistry()
	registry.MustRegister(Info{Version: "v0.2.0", Commit: "4f1c2e3d", GoVersion: "go1.26.0"}.NewCollector())
	families, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 1 || families[0].GetName() != "runguard_build_info" || len(families[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, want one runguard_build_info series", families)
	}
	series := families[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range series.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"version": "v0.2.0", "commit": "4f1c2e3d", "goversion": "go1.26.0"}
	if !maps.Equal(labels, want) || series.GetGauge().GetValue() != 1 {
		t.Errorf("runguard_build_info%v %v, want %v 1", labels, series.GetGauge().GetValue(), want)
	}
}
