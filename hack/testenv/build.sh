#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, etcd) and helm from their upstream Go modules
# into a git-ignored cache, only when missing or of the wrong version.
#
# The wrapper modules in hack/testenv/{kube,etcd,helm} pin the versions (go.mod + go.sum are
# committed). Output: $TESTENV_BIN (default: $HOME/.cache/talkturo-testenv/<versions>/), which
# is printed on the last line so callers can `export KUBEBUILDER_ASSETS=$(hack/testenv/build.sh)`.
set -euo pipefail
# Version checks capture output rather than pipe into `grep -q`: under pipefail an early exit of
# grep can fail the producer with SIGPIPE and make a cached binary look stale.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0

out="${TESTENV_BIN:-$HOME/.cache/talkturo-testenv/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION}"
mkdir -p "$out"

log() { printf '[testenv] %s\n' "$*" >&2; }
fail() {
  printf '[testenv] ERROR: %s\n' "$*" >&2
  exit 1
}

command -v go >/dev/null || fail "go is not installed; the control plane is built from Go modules (need Go >= 1.25)"

minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"

build_kube() {
  if [ -x "$out/kube-apiserver" ] && [ "$("$out/kube-apiserver" --version 2>/dev/null)" = "Kubernetes $KUBE_VERSION" ]; then
    log "kube-apiserver $KUBE_VERSION: cached in $out"
    return
  fi
  log "building kube-apiserver $KUBE_VERSION (first build: ~5-8 min on 2 cores)..."
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  local start=$SECONDS
  log "  downloading modules (the first time: a few hundred MB from the Go module proxy)..."
  (cd "$here/kube" && go mod download) || fail "downloading the kube-apiserver modules failed (is the Go module proxy reachable?)"
  log "  compiling..."
  (cd "$here/kube" && go build -trimpath -ldflags "$ld" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver) ||
    fail "kube-apiserver $KUBE_VERSION did not build (a module the proxy does not serve?). See the go error above."
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
  log "kube-apiserver built in $((SECONDS - start)) s"
}

build_etcd() {
  if [ -x "$out/etcd" ] && [[ "$("$out/etcd" --version 2>/dev/null)" == *"etcd Version: ${ETCD_VERSION#v}"* ]]; then
    log "etcd $ETCD_VERSION: cached in $out"
    return
  fi
  log "building etcd $ETCD_VERSION (~1-2 min)..."
  local start=$SECONDS
  (cd "$here/etcd" && go mod download) || fail "downloading the etcd modules failed (is the Go module proxy reachable?)"
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3) ||
    fail "etcd $ETCD_VERSION did not build. See the go error above."
  mv "$out/etcd.tmp" "$out/etcd"
  log "etcd built in $((SECONDS - start)) s"
}

build_helm() {
  if [ -x "$out/helm" ] && [[ "$("$out/helm" version --short 2>/dev/null)" == "$HELM_VERSION"* ]]; then
    log "helm $HELM_VERSION: cached in $out"
    return
  fi
  log "building helm $HELM_VERSION (~2 min)..."
  local start=$SECONDS
  (cd "$here/helm" && go mod download) || fail "downloading the helm modules failed (is the Go module proxy reachable?)"
  local ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ld="$ld -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"
  done
  (cd "$here/helm" && go build -trimpath -ldflags "$ld" -o "$out/helm.tmp" helm.sh/helm/v3/cmd/helm) ||
    fail "helm $HELM_VERSION did not build. See the go error above."
  mv "$out/helm.tmp" "$out/helm"
  log "helm built in $((SECONDS - start)) s"
}

# kubelet, kube-controller-manager and kube-scheduler for the one-node cluster of `make e2e`,
# from the same wrapper module as kube-apiserver (so its build cache is shared).
build_node() {
  local c
  for c in kubelet kube-controller-manager kube-scheduler; do
    if [ -x "$out/$c" ] && [[ "$("$out/$c" --version 2>/dev/null)" == "Kubernetes $KUBE_VERSION" ]]; then
      log "$c $KUBE_VERSION: cached in $out"
      continue
    fi
    log "building $c $KUBE_VERSION (~1 min each once kube-apiserver is built)..."
    local start=$SECONDS
    local ld="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    done
    (cd "$here/kube" && go build -trimpath -ldflags "$ld" -o "$out/$c.tmp" "k8s.io/kubernetes/cmd/$c") ||
      fail "$c $KUBE_VERSION did not build. See the go error above."
    mv "$out/$c.tmp" "$out/$c"
    log "$c built in $((SECONDS - start)) s"
  done
}

# promtool (Prometheus's rule checker) and dashcheck (the Grafana dashboard checker in
# monitoring/dashcheck), for the chart's alert rules and dashboard. One module pins both.
build_monitoring() {
  local mod="$here/monitoring"
  if [ -x "$out/promtool" ] && [[ "$("$out/promtool" --version 2>/dev/null)" == *"version $PROMETHEUS_VERSION"* ]]; then
    log "promtool $PROMETHEUS_VERSION: cached in $out"
  else
    log "building promtool $PROMETHEUS_VERSION (first build: ~5 min on 2 cores)..."
    local start=$SECONDS
    (cd "$mod" && go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
      -o "$out/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool) ||
      fail "promtool $PROMETHEUS_VERSION did not build (is the Go module proxy reachable?). See the go error above."
    mv "$out/promtool.tmp" "$out/promtool"
    log "promtool built in $((SECONDS - start)) s"
  fi
  # dashcheck is this project's source: rebuilt whenever it or its module pins change.
  local sum
  sum="$(cat "$mod/go.mod" "$mod/go.sum" "$mod/dashcheck/main.go" | sha256sum | cut -d' ' -f1)"
  if [ -x "$out/dashcheck" ] && [ "$(cat "$out/dashcheck.sum" 2>/dev/null)" = "$sum" ]; then
    log "dashcheck: cached in $out"
  else
    log "building dashcheck..."
    (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$out/dashcheck.tmp" ./dashcheck) ||
      fail "dashcheck did not build. See the go error above."
    mv "$out/dashcheck.tmp" "$out/dashcheck"
    echo "$sum" >"$out/dashcheck.sum"
  fi
}

case "${1:-all}" in
  all) build_etcd; build_kube; build_helm; build_monitoring ;;
  kube) build_kube ;;
  etcd) build_etcd ;;
  helm) build_helm ;;
  monitoring) build_monitoring ;;
  node) build_node ;;
  *) fail "usage: $0 [all|kube|etcd|helm|monitoring|node]" ;;
esac
echo "$out"
