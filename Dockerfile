# syntax=docker/dockerfile:1
# The runguard manager: a static binary on a distroless base, running as a non-root user.
#   docker build -t "$IMG" .        (or: make build-installer IMG=... for the matching manifests)
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
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
    go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/manager /manager
# 65532 is distroless's "nonroot"; numeric so Kubernetes can enforce runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/manager"]
