# syntax=docker/dockerfile:1
# The runguard manager: a static binary on a distroless base, running as a non-root user.
#   docker build -t "$IMG" .        (or: make build-installer IMG=... for the matching manifests)
# The builder runs on the build machine's platform and cross-compiles (no emulation for arm64).
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
# The version and commit --version prints and runguard_build_info exports (docs/release.md):
#   docker build --build-arg VERSION=v0.2.0 --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=""
ARG COMMIT=""
WORKDIR /workspace

# Dependencies first, so a source change does not re-download them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY api/ api/
COPY cmd/manager/ cmd/manager/
COPY controllers/ controllers/
COPY internal/ internal/

# CGO off gives a static binary that runs on distroless/static (no libc there).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X github.com/runguard/runguard/internal/version.version=${VERSION} -X github.com/runguard/runguard/internal/version.commit=${COMMIT}" \
    -o /out/manager ./cmd/manager

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/manager /manager
# 65532 is distroless's "nonroot"; numeric so Kubernetes can enforce runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/manager"]
