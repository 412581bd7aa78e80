# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

GO        ?= go
CASSANDRA := scripts/cassandra.sh
PKGS      := ./...
# Integration tests share the node; each package uses its own keyspace.
TEST_FLAGS ?= -race -count=1 -timeout 30m
export CASSANDRA_HOSTS ?= 127.0.0.1

.PHONY: all build run test periodic-up periodic-down bench-delay test-faults test-cluster cluster-up cluster-down tier-up tier-down tier-status dcs-up dcs-down bench-cluster fuzz unit lint fmt-check vet cassandra-up cassandra-down cassandra-status bench sweep soak bench-large clean help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

build: ## build bin/userapi and bin/loadgen
	$(GO) build -o bin/userapi ./cmd/userapi
	$(GO) build -o bin/loadgen ./cmd/loadgen

# The node is reused when it already answers; CASSANDRA_HOSTS may name another.
cassandra-up: ## start the local Cassandra node (idempotent) and wait for CQL
	@if [ "$(CASSANDRA_HOSTS)" != "127.0.0.1" ] && $(GO) run ./cmd/cqlping -host "$${CASSANDRA_HOSTS%%,*}" >/dev/null 2>&1; then \
		echo "using Cassandra at $(CASSANDRA_HOSTS)"; \
	else \
		$(CASSANDRA) start; \
	fi

cassandra-down: ## stop the local node we started (by pid)
	$(CASSANDRA) stop

cassandra-status: ## show the local node's state
	$(CASSANDRA) status

run: cassandra-up build ## start Cassandra if needed, then the API on :8000 (foreground)
	./bin/userapi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration $(PKGS)
	$(GO) vet -tags faults $(PKGS)

lint: fmt-check vet ## gofmt, go vet, source-in-git and docs-vs-flags checks (staticcheck too when installed)
	scripts/check-tracked.sh
	scripts/check-docs.sh
	@if command -v staticcheck >/dev/null; then staticcheck $(PKGS); fi

unit: ## unit tests only (no Cassandra)
	$(GO) test $(TEST_FLAGS) $(PKGS)

# Fails loudly when Cassandra cannot start: integration tests are never skipped.
test: lint cassandra-up ## lint, unit and integration tests against the real node
	$(GO) test $(TEST_FLAGS) -tags integration $(PKGS)

# Fault drills need minutes: they kill, pause and overload real nodes and the
# real binary. Nodes they break are their own (127.0.0.20-31), never the shared one.
test-faults: cassandra-up fuzz ## fuzzing, outage, overload, shutdown and auth/TLS drills
	$(GO) test $(TEST_FLAGS) -tags faults -p 1 -v -run 'TestAuthAndTLS|TestOutage|TestOverload|TestGraceful' ./engine/ ./internal/faults/

# A short run of every fuzz target (go test runs one target per invocation).
FUZZTIME ?= 10s
fuzz: ## run each fuzz target for FUZZTIME (default 10s)
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME) ./engine ./httpapi

# A 3-node ring on 127.0.0.11-13 (its own cluster: the shared node on
# 127.0.0.1 stays as it is). Each node is a JVM with a 768 MiB heap.
CLUSTER_ENV := CASSANDRA_CLUSTER=ring CASSANDRA_ADDR_BASE=11 CASSANDRA_NODES=3
cluster-up: ## start the local 3-node cluster (127.0.0.11-13), one node after another
	$(CLUSTER_ENV) $(CASSANDRA) start

cluster-down: ## stop the local 3-node cluster
	$(CLUSTER_ENV) $(CASSANDRA) stop

# Two data centres on loopback, a cluster of their own: dc1 on 127.0.0.41-42,
# dc2 on 127.0.0.51-52 (127.0.0.20-31 belong to the fault drills), each node
# a JVM with a 512 MiB heap, GossipingPropertyFileSnitch.
DCS_ENV := CASSANDRA_CLUSTER=dcs CASSANDRA_DC_LAYOUT="dc1:41,42 dc2:51,52" CASSANDRA_HEAP=512m
dcs-up: ## start two data centres: dc1 127.0.0.41-42, dc2 127.0.0.51-52
	$(DCS_ENV) $(CASSANDRA) start

dcs-down: ## stop the two data centres (by pid)
	$(DCS_ENV) $(CASSANDRA) stop

# HAProxy (Debian's package, installed by scripts/tier.sh when root) running
# the shipped deploy/haproxy/haproxy.cfg with local server lines, in front of
# three userapi replicas over the ring. Ports: TIER_* in scripts/tier.sh.
tier-up: cluster-up ## HAProxy on 127.0.0.1:18100 in front of 3 userapi replicas over the ring (pids in files)
	scripts/tier.sh up

tier-down: ## stop HAProxy and the replicas that tier-up started (by pid)
	scripts/tier.sh down

tier-status: ## the tier's processes and HAProxy's view of the replicas
	scripts/tier.sh status

# The scale-out drills (docs/scale-out.md) run here too: the rolling restart
# behind HAProxy on the ring, and the dc2 outage on the two DCs, which the
# drill starts (make dcs-up) and stops again.
test-cluster: cluster-up ## ring checks, node loss, rolling restart behind HAProxy, dc2 outage (2 DCs)
	$(GO) test $(TEST_FLAGS) -tags cluster -p 1 -v -run 'Test' ./internal/cluster/

# Variants alternate within each repeat; compare medians across repeats.
bench-cluster: cluster-up ## creates/s on the ring: token-aware batching vs BatchMax=1 vs ungrouped batches
	@for i in $$(seq 1 $${BENCH_COUNT:-3}); do \
		$(GO) test -tags cluster -run XXX -bench ClusterCreates -benchtime $${BENCH_TIME:-8s} -count 1 -cpu 1 ./internal/cluster/ | grep Benchmark; \
	done

# Creates depend on how the node syncs its commit log more than on the
# server, so make bench runs the suite on both kinds of node: the dev node
# (127.0.0.1, group sync: acknowledged writes survive kill -9) and one with
# Cassandra's default periodic sync, what users run (a cluster of its own on
# 127.0.0.61). BENCH_NODES="group" or "periodic" runs one.
PERIODIC_ENV := CASSANDRA_CLUSTER=periodic CASSANDRA_ADDR_BASE=61 CASSANDRA_COMMITLOG_SYNC=periodic
BENCH_NODES ?= group periodic
periodic-up: ## start a node with Cassandra's default periodic commit-log sync (127.0.0.61)
	$(PERIODIC_ENV) $(CASSANDRA) start

periodic-down: ## stop the periodic-sync node
	$(PERIODIC_ENV) $(CASSANDRA) stop

# wrk is the calibration's yardstick (is loadgen fast enough?): installed
# here as root; otherwise the suite runs without it and its report says so.
bench: build ## the load-test suite on the group- and the periodic-sync node: bench/results/<timestamp>-<node> (BENCH_NODES; BENCH_* knobs: bin/loadgen suite -help)
	scripts/need.sh wrk || echo "make bench: going on without wrk: the calibration target will say 'not measured'"
	stamp=$$(date -u +%Y%m%dT%H%M%SZ); \
	for node in $(BENCH_NODES); do \
		case $$node in \
		group) $(MAKE) --no-print-directory cassandra-up; hosts=$(CASSANDRA_HOSTS) ;; \
		periodic) $(MAKE) --no-print-directory periodic-up; hosts=127.0.0.61 ;; \
		*) echo "BENCH_NODES: unknown node $$node (want group, periodic)" >&2; exit 2 ;; \
		esac; \
		CASSANDRA_HOSTS=$$hosts ./bin/loadgen suite -out bench/results/$$stamp-$$node; \
	done

# Off the loopback: the suite with a network between Cassandra and every
# client of it (a delay proxy of ours, internal/delayproxy, on 127.0.0.62),
# at each round trip in BENCH_DELAYS, on the periodic-sync node: GET and
# create for the API, batching off, the naive handler and raw.
BENCH_DELAYS ?= 0.5ms 2ms
bench-delay: periodic-up build ## GET and create through a delay proxy (BENCH_DELAYS: 0.5ms 2ms round trip) on the periodic-sync node
	stamp=$$(date -u +%Y%m%dT%H%M%SZ); \
	for d in $(BENCH_DELAYS); do \
		CASSANDRA_HOSTS=127.0.0.61 BENCH_SCENARIOS="$${BENCH_SCENARIOS:-get create}" BENCH_MODES="$${BENCH_MODES:-api api-batch1 naive raw}" \
			./bin/loadgen suite -delay $$d -out bench/results/$$stamp-delay-$$d; \
	done

sweep: cassandra-up build ## capacity sweep, API and raw: concurrency and rate steps, the knee (SWEEP_* knobs: bin/loadgen sweep -help)
	./bin/loadgen sweep

# The rate: SOAK_RATE, else 70% of the API's mixed knee in SOAK_SWEEP, else in the
# latest bench/results/sweep-*/results.json, else in a short calibration of its own.
SOAK_DURATION ?= 30m
soak: cassandra-up build ## long mixed load at a constant rate with verdicts (SOAK_DURATION; rate: SOAK_RATE, SOAK_SWEEP or picked itself; bin/loadgen soak -help)
	SOAK_DURATION=$(SOAK_DURATION) ./bin/loadgen soak

bench-large: cassandra-up build ## GET-by-id and list on a preloaded 1M-user table next to a small one (LARGE_* knobs: bin/loadgen large -help)
	./bin/loadgen large

clean: ## remove build output
	rm -rf bin
