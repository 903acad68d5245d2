#!/usr/bin/env bash
# Builds the control-plane binaries that envtest, the demo and the end-to-end test use:
# kube-apiserver and kubectl from k8s.io/kubernetes (hack/tools/k8s) and etcd from
# go.etcd.io/etcd/server/v3 (hack/tools/etcd). They cannot be downloaded on our machines,
# only built from the Go module proxy.
#
# Output: bin/k8s/<version>/{kube-apiserver,etcd,kubectl}, the layout KUBEBUILDER_ASSETS expects.
# A copy is kept in ${XDG_CACHE_HOME:-~/.cache}/runguard/k8s/<version>/ so a fresh clone on the
# same machine reuses it. Does nothing when the binaries are already present.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The pinned versions are read from the tools modules, so bumping one there triggers a rebuild.
pinned() { awk -v m="$2" '($1==m || ($1=="require" && $2==m)) {print ($1==m ? $2 : $3); exit}' "$1"; }
K8S_VERSION="$(pinned "$ROOT/hack/tools/k8s/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(pinned "$ROOT/hack/tools/etcd/go.mod" go.etcd.io/etcd/server/v3)"
[[ -n "$K8S_VERSION" && -n "$ETCD_VERSION" ]] || { echo "cannot read pinned versions from hack/tools/*/go.mod" >&2; exit 1; }
KEY="${K8S_VERSION#v}-etcd${ETCD_VERSION#v}"
OUT="$ROOT/bin/k8s/$KEY"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/runguard/k8s/$KEY"
BINARIES=(kube-apiserver etcd kubectl)

say() { printf '[k8s-binaries] %s\n' "$*" >&2; }

have_all() {
	local dir="$1" b
	for b in "${BINARIES[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

if [[ "${1:-}" == "--print-dir" ]]; then
	echo "$OUT"
	exit 0
fi

if have_all "$OUT"; then
	exit 0
fi

command -v go >/dev/null 2>&1 || { say "Go is required (https://go.dev/doc/install); 'go' is not on PATH."; exit 1; }

mkdir -p "$OUT"
if have_all "$CACHE"; then
	say "reusing kube-apiserver $K8S_VERSION, kubectl $K8S_VERSION and etcd $ETCD_VERSION from $CACHE"
	for b in "${BINARIES[@]}"; do cp "$CACHE/$b" "$OUT/$b.tmp" && mv "$OUT/$b.tmp" "$OUT/$b"; done
	exit 0
fi

# The fast path, for machines that reach the internet: setup-envtest (controller-runtime's, at the
# version go.mod pins) downloads kube-apiserver, etcd and kubectl of the same Kubernetes version in
# about a minute. Where only the Go module proxy answers (CI, our machines) its download fails within
# seconds and the binaries are built from source. RUNGUARD_BUILD_K8S=1 skips the fast path. Its etcd
# is the one envtest ships, not necessarily $ETCD_VERSION; the directory's SOURCE file says which
# path filled it.
try_setup_envtest() {
	[[ "${RUNGUARD_BUILD_K8S:-}" == "1" ]] && return 1
	local cr tmp log
	cr="$(pinned "$ROOT/go.mod" sigs.k8s.io/controller-runtime)"
	tmp="$(mktemp -d)" log="$(mktemp)"
	say "trying setup-envtest $cr (downloads Kubernetes ${K8S_VERSION#v}; set RUNGUARD_BUILD_K8S=1 to build instead)"
	if ! timeout 300 go run "sigs.k8s.io/controller-runtime/tools/setup-envtest@$cr" use "${K8S_VERSION#v}" --bin-dir "$tmp" -p path >"$log.path" 2>"$log"; then
		say "setup-envtest could not download them ($(grep -v -e '^go: ' -e '^exit status' "$log" | tail -n 1 | cut -c1-200)): building from source instead"
		rm -rf "$tmp" "$log" "$log.path"
		return 1
	fi
	local dir b
	dir="$(cat "$log.path")"
	for b in "${BINARIES[@]}"; do
		[[ -x "$dir/$b" ]] || { say "setup-envtest gave no $b: building from source instead"; rm -rf "$tmp" "$log" "$log.path"; return 1; }
		cp "$dir/$b" "$OUT/$b.tmp" && mv "$OUT/$b.tmp" "$OUT/$b"
	done
	echo "setup-envtest $cr, Kubernetes ${K8S_VERSION#v}" >"$OUT/SOURCE"
	rm -rf "$tmp" "$log" "$log.path"
	say "downloaded with setup-envtest into $OUT"
}
if try_setup_envtest; then
	exit 0
fi

say "building kube-apiserver and kubectl $K8S_VERSION, etcd $ETCD_VERSION into $OUT"
say "the first build on a cold 2-core machine takes about 25 minutes (measured: 23.4); later builds reuse $CACHE"
start=$(date +%s)
build() { # module dir, package, output name
	local t0=$(date +%s)
	say "  go build $2"
	(cd "$1" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$OUT/$3.tmp" "$2")
	mv "$OUT/$3.tmp" "$OUT/$3"
	say "  built $3 in $(( $(date +%s) - t0 ))s"
}
build "$ROOT/hack/tools/etcd" . etcd
build "$ROOT/hack/tools/k8s" k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
build "$ROOT/hack/tools/k8s" k8s.io/kubernetes/cmd/kubectl kubectl

echo "built from source: Kubernetes $K8S_VERSION, etcd $ETCD_VERSION" >"$OUT/SOURCE"
mkdir -p "$CACHE"
for b in "${BINARIES[@]}"; do cp "$OUT/$b" "$CACHE/$b.tmp" && mv "$CACHE/$b.tmp" "$CACHE/$b"; done
say "done in $(( $(date +%s) - start ))s; cached a copy in $CACHE"
