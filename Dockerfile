# syntax=docker/dockerfile:1
#
# userapi container image: a static Go binary on a small Alpine base.
#
#   docker build -t userapi .
#   docker run --rm -p 8000:8000 -e CASSANDRA_HOSTS=cassandra-host userapi
#
# Every setting is an environment variable (see docs/configuration.md); a
# flag given after the image name wins over its variable.

# Keep in step with the go line of go.mod. GOTOOLCHAIN=local below makes a
# mismatch fail the build instead of silently downloading another toolchain.
ARG GO_VERSION=1.26.8
ARG ALPINE_VERSION=3.22

# ---- build -----------------------------------------------------------------
# The build stage runs on the builder's own platform and cross-compiles, so
# multi-platform builds (docker buildx --platform) need no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ENV CGO_ENABLED=0 \
    GOTOOLCHAIN=local \
    GOFLAGS=-buildvcs=false
WORKDIR /src

# Modules first: this layer is reused until go.mod or go.sum change.
# They come from GOPROXY (the public module proxy by default).
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -ldflags='-s -w' -o /out/userapi ./cmd/userapi

# ---- runtime ---------------------------------------------------------------
# Alpine rather than distroless: HEALTHCHECK needs an HTTP client inside the
# image, and busybox wget is the smallest one that comes with a base image.
# Alpine also carries the CA bundle used for TLS to Cassandra when no
# CASSANDRA_TLS_CA is given.
FROM alpine:${ALPINE_VERSION}
RUN addgroup -S -g 10001 userapi \
 && adduser -S -D -H -u 10001 -G userapi -s /sbin/nologin userapi
COPY --from=build /out/userapi /usr/local/bin/userapi

# The HEALTHCHECK reads the port from LISTEN_ADDR, so set the listen address
# with this variable, not with -listen. Everything else keeps the binary's
# defaults; CASSANDRA_HOSTS must be set at run time (127.0.0.1 is the
# container itself).
ENV LISTEN_ADDR=:8000

# Numeric ids, so that orchestrators can check "runs as non-root" without
# reading /etc/passwd.
USER 10001:10001
EXPOSE 8000

# Liveness, not readiness: /health answers 200 whenever the HTTP server
# runs, even while Cassandra is down. Readiness (/ready: 503 while Cassandra
# is unreachable or the server drains) is for load balancers; using it here
# would make an orchestrator that restarts unhealthy containers restart every
# replica during a database outage, which cannot help. The port follows
# LISTEN_ADDR (":8000" -> 8000).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD wget -q -T 2 -O /dev/null "http://127.0.0.1:${LISTEN_ADDR##*:}/health" || exit 1

# SIGTERM starts the graceful shutdown: /ready turns 503, in-flight requests
# finish, pending write batches flush. Give it more than SHUTDOWN_TIMEOUT
# (docker stop -t / stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/userapi"]
