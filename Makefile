# Every gate is a target here, and CI runs the same targets (`.ci/run` calls `make test`).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test fmt-check clippy unit crds crds-check testenv

## test: every check: format, clippy (warnings denied), unit and integration tests, CRD drift
test: fmt-check clippy crds-check
	$(CARGO) test --all-targets

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

## crds: regenerate crds/ from the Rust types
crds:
	$(CARGO) run -q --bin talkturo-operator -- crds --out-dir crds

crds-check:
	$(CARGO) test -q --test crd_drift

## testenv: build kube-apiserver, etcd and helm from their Go modules into the cache
testenv:
	hack/testenv/build.sh
