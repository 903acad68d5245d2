// Package version says which build of runguard is running: the module version and the commit Go
// stamps into every binary it builds from a checkout, or what a release build sets with -ldflags -X.
// Every runguard binary (manager, gcpfake, runguard) reports the same Info.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Set by a release build, which knows its tag even where Go cannot (a Docker build copies no .git):
//
//	go build -ldflags "-X github.com/runguard/runguard/internal/version.version=v0.2.0 \
//	  -X github.com/runguard/runguard/internal/version.commit=$(git rev-parse HEAD)"
var (
	version string
	commit  string
)

// unknown stands for what neither the build info nor -ldflags said.
const unknown = "unknown"

// Info identifies a build.
type Info struct {
	// Version is the module version: a tag (v0.2.0), a pseudo-version Go derived from the commit,
	// or "(devel)".
	Version string
	// Commit is the VCS revision, with "-dirty" when the checkout had uncommitted changes.
	Commit string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
}

// Get is this binary's Info.
func Get() Info {
	build, _ := debug.ReadBuildInfo()
	return fromBuild(build, version, commit)
}

// fromBuild reads Info from Go's build info, which may be nil; a non-empty ldflags value wins.
func fromBuild(build *debug.BuildInfo, ldVersion, ldCommit string) Info {
	info := Info{Version: unknown, Commit: unknown, GoVersion: runtime.Version()}
	if build != nil {
		if build.Main.Version != "" {
			info.Version = build.Main.Version
		}
		if build.GoVersion != "" {
			info.GoVersion = build.GoVersion
		}
		info.Commit = vcsCommit(build.Settings)
	}
	if ldVersion != "" {
		info.Version = ldVersion
	}
	if ldCommit != "" {
		info.Commit = ldCommit
	}
	return info
}

func vcsCommit(settings []debug.BuildSetting) string {
	revision, modified := unknown, false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && revision != unknown {
		return revision + "-dirty"
	}
	return revision
}

// String is the line `--version` prints: runguard v0.2.0 (commit 1f0c…, go1.26.0).
func (i Info) String() string {
	return fmt.Sprintf("runguard %s (commit %s, %s)", i.Version, i.Commit, i.GoVersion)
}

// String is this binary's Info as `--version` prints it.
func String() string { return Get().String() }

// NewCollector exports i as runguard_build_info{version,commit,goversion} 1, so a dashboard can
// say which build each replica runs and when it changed.
func (i Info) NewCollector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "runguard_build_info",
		Help:        "Always 1; the labels say which build of runguard is running.",
		ConstLabels: prometheus.Labels{"version": i.Version, "commit": i.Commit, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}
