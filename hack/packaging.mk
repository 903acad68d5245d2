# Packaging: the container image, dist/install.yaml, the Helm chart and the tools they need.
# Included at the end of the Makefile, which defines LOCALBIN. kustomize and helm are built from the Go
# module proxy in their own tools modules (hack/tools/<tool>/), so their dependencies never
# touch runguard's go.mod; the pinned versions are read from those go.mod files.

# Where `make build-installer` and `make docker-build` point the manager image.
IMG ?= ghcr.io/runguard/runguard:0.1.0
# Optional: the Google service account the manager impersonates through GKE Workload Identity
# (sets iam.gke.io/gcp-service-account on its Kubernetes service account in dist/install.yaml).
GCP_SERVICE_ACCOUNT ?=

pinned_version = $(shell awk -v m="$(2)" '$$1==m {print $$2; exit}' $(1))
KUSTOMIZE_VERSION := $(call pinned_version,hack/tools/kustomize/go.mod,sigs.k8s.io/kustomize/kustomize/v5)
HELM_VERSION := $(call pinned_version,hack/tools/helm/go.mod,helm.sh/helm/v3)
KUSTOMIZE := $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
HELM := $(LOCALBIN)/helm-$(HELM_VERSION)
# Helm reports its own version and the Kubernetes version it assumes for `helm template` only
# through link-time variables (its own Makefile sets the same ones).
HELM_K8S_MINOR := $(shell awk '$$1=="k8s.io/client-go" {split($$2, v, "."); print v[2]; exit}' hack/tools/helm/go.mod)
HELM_LDFLAGS := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR)

CHART_DIR := charts/runguard
# Generated on every run (dist/ is ignored by git), so IMG never edits a committed file.
INSTALLER_OVERLAY := dist/.installer

##@ Packaging

.PHONY: packaging-prereqs
packaging-prereqs: $(KUSTOMIZE) $(HELM) ## Tools the packaging tests (test/packaging) run: kustomize and helm.

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Build kustomize into bin/ (about 1.5 minutes on 2 cores with a cold Go build cache, seconds when warm).

.PHONY: helm
helm: $(HELM) ## Build helm into bin/ (about 3.5 minutes on 2 cores with a cold Go build cache, seconds when warm).

.PHONY: chart-sync
chart-sync: ## Copy the generated CRD, the manager ClusterRole rules, the admission policies, the alerts and the dashboard into the Helm chart (a test fails when they differ).
	@mkdir -p $(CHART_DIR)/crds $(CHART_DIR)/files
	rm -f $(CHART_DIR)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART_DIR)/crds/
	cp config/rbac/role.yaml $(CHART_DIR)/files/manager-role.yaml
	rm -rf $(CHART_DIR)/files/admission && mkdir -p $(CHART_DIR)/files/admission
	cp config/admission/*-policy.yaml config/admission/*-binding.yaml $(CHART_DIR)/files/admission/
	cp config/monitoring/prometheus-rule.yaml $(CHART_DIR)/files/prometheus-rule.yaml
	cp config/monitoring/runguard-dashboard.json $(CHART_DIR)/files/runguard-dashboard.json

.PHONY: build-installer
build-installer: manifests $(KUSTOMIZE) ## Write dist/install.yaml: CRD, RBAC, manager (IMG=..., GCP_SERVICE_ACCOUNT=... optional).
	@rm -rf $(INSTALLER_OVERLAY) && mkdir -p $(INSTALLER_OVERLAY) dist
	@printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\n' ../../config/default > $(INSTALLER_OVERLAY)/kustomization.yaml
	cd $(INSTALLER_OVERLAY) && $(KUSTOMIZE) edit set image ghcr.io/runguard/runguard=$(IMG)
	@if [[ -n "$(GCP_SERVICE_ACCOUNT)" ]]; then \
		printf 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: runguard-controller-manager\n  namespace: runguard-system\n  annotations:\n    iam.gke.io/gcp-service-account: "%s"\n' "$(GCP_SERVICE_ACCOUNT)" > $(INSTALLER_OVERLAY)/workload-identity.yaml; \
		(cd $(INSTALLER_OVERLAY) && $(KUSTOMIZE) edit add patch --path workload-identity.yaml); \
	fi
	$(KUSTOMIZE) build $(INSTALLER_OVERLAY) > dist/install.yaml
	@echo "wrote dist/install.yaml (image $(IMG))"

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the Helm chart strictly.
	$(HELM) lint --strict $(CHART_DIR)

.PHONY: helm-package
helm-package: $(HELM) ## Package the chart into dist/.
	@mkdir -p dist
	$(HELM) package $(CHART_DIR) -d dist

.PHONY: docker-build
docker-build: ## Build the manager image (needs Docker or a compatible builder).
	docker build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image.
	docker push $(IMG)

$(KUSTOMIZE):
	@mkdir -p $(LOCALBIN)
	cd hack/tools/kustomize && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o $(KUSTOMIZE).tmp sigs.k8s.io/kustomize/kustomize/v5
	mv $(KUSTOMIZE).tmp $(KUSTOMIZE)

$(HELM):
	@mkdir -p $(LOCALBIN)
	cd hack/tools/helm && CGO_ENABLED=0 go build -trimpath -ldflags "$(HELM_LDFLAGS)" -o $(HELM).tmp helm.sh/helm/v3/cmd/helm
	mv $(HELM).tmp $(HELM)
