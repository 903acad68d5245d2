# runguard — see README.md. Every tool is built from the Go module proxy into bin/.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# kube-apiserver, etcd and kubectl for envtest, the demo and the end-to-end test.
K8S_ASSETS := $(shell ./hack/build-k8s-binaries.sh --print-dir)
GO_TEST_FLAGS ?= -count=1
# Packages whose tests start a real API server get a generous timeout: the first run also builds it.
GO_TEST_TIMEOUT ?= 30m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and RBAC from +kubebuilder markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases
	@$(MAKE) --no-print-directory chart-sync

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code from +kubebuilder markers.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt-check
fmt-check: ## Fail when a Go file is not gofmt-formatted.
	@files="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hack/tools/'))"; \
	if [[ -n "$$files" ]]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files differ from what is committed.
	@changed="$$(git status --porcelain -- api config charts)"; \
	if [[ -n "$$changed" ]]; then echo "generated files are stale; run 'make manifests generate' and commit:"; echo "$$changed"; git --no-pager diff --stat -- api config charts; exit 1; fi

.PHONY: k8s-binaries
k8s-binaries: ## kube-apiserver, etcd and kubectl into bin/k8s/: setup-envtest where the internet is reachable, else built from source (about 25 minutes the first time on 2 cores).
	./hack/build-k8s-binaries.sh

.PHONY: test
test: fmt-check vet verify-generated release-check k8s-binaries packaging-prereqs ## Everything CI runs: format, vet, generated files, the release config, unit, envtest and end-to-end tests.
	KUBEBUILDER_ASSETS="$(K8S_ASSETS)" go test $(GO_TEST_FLAGS) -timeout $(GO_TEST_TIMEOUT) ./...

.PHONY: bench
bench: k8s-binaries ## Benchmarks (speed and memory); figures are recorded in docs/benchmarks.md.
	KUBEBUILDER_ASSETS="$(K8S_ASSETS)" go test -run '^$$' -bench . -benchmem -count=1 ./internal/... ./controllers/...

.PHONY: bench-scale
bench-scale: k8s-binaries ## Scale benchmark over the built binaries: N=1000 LATENCY=0 QUOTA=0 PROJECTS=10 REGIONS=2 WORKERS= RESYNC=30s EDITS=50 MANAGER_FLAGS= SCENARIO= (adoption-revocation ADOPTION_EDITS=20, burst-edit BURST_EDIT_AT=6s,8s,10s, audit-flood AUDIT_FLOOD=5000 AUDIT_FLOOD_OVER=10s; docs/benchmarks.md).
	@$(MAKE) --no-print-directory build
	go build -o $(LOCALBIN)/localcluster ./hack/localcluster
	go build -o $(LOCALBIN)/scale-harness ./hack/scale
	$(LOCALBIN)/scale-harness --assets "$(K8S_ASSETS)" --bin "$(LOCALBIN)" --n "$(or $(N),1000)" --latency "$(or $(LATENCY),0)" \
		--quota "$(or $(QUOTA),0)" --projects "$(or $(PROJECTS),10)" --regions "$(or $(REGIONS),2)" \
		--workers "$(or $(WORKERS),0)" --resync "$(or $(RESYNC),30s)" --edits "$(or $(EDITS),50)" --manager-flags "$(MANAGER_FLAGS)" \
		--scenario "$(SCENARIO)" --adoption-edits "$(or $(ADOPTION_EDITS),20)" $(if $(BURST_EDIT_AT),--burst-edit-at "$(BURST_EDIT_AT)") \
		--audit-flood "$(or $(AUDIT_FLOOD),5000)" --audit-flood-over "$(or $(AUDIT_FLOOD_OVER),10s)"

##@ Build

.PHONY: build
build: ## Build the manager, the fake Google Cloud and the runguard CLI (also as the kubectl plugin kubectl-runguard) into bin/.
	go build -o $(LOCALBIN)/manager ./cmd/manager
	go build -o $(LOCALBIN)/gcpfake ./cmd/gcpfake
	go build -o $(LOCALBIN)/runguard ./cmd/runguard
	cp $(LOCALBIN)/runguard $(LOCALBIN)/kubectl-runguard

.PHONY: demo
demo: ## Run the whole system locally: API server, fake Google Cloud, manager, samples. DEMO_EXIT=1 exits when done.
	DEMO_EXIT="$(DEMO_EXIT)" ./hack/demo.sh

$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)

include hack/packaging.mk

##@ Release

# goreleaser is built from the Go module proxy like helm and kustomize (hack/tools/goreleaser), so a
# fresh machine needs nothing but the proxy; pinned_version comes from hack/packaging.mk, above.
GORELEASER_VERSION := $(call pinned_version,hack/tools/goreleaser/go.mod,github.com/goreleaser/goreleaser/v2)
GORELEASER := $(LOCALBIN)/goreleaser-$(GORELEASER_VERSION)

.PHONY: goreleaser
goreleaser: $(GORELEASER) ## Build goreleaser into bin/ (about 8 minutes on 2 cores with a cold Go build cache, seconds when warm).

.PHONY: release-check
release-check: $(GORELEASER) ## Check .goreleaser.yaml with goreleaser's own check (config only: no git, tag or network needed). docs/release.md.
	$(GORELEASER) check --config .goreleaser.yaml

$(GORELEASER):
	@mkdir -p $(LOCALBIN)
	cd hack/tools/goreleaser && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(GORELEASER_VERSION) -X main.builtBy=runguard-make" -o $(GORELEASER).tmp github.com/goreleaser/goreleaser/v2
	mv $(GORELEASER).tmp $(GORELEASER)
