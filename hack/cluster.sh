#!/usr/bin/env bash
# `make cluster` / `make cluster-down`: a local control plane in the background for humans.
#   hack/cluster.sh up     start it (or report the running one) and print the KUBECONFIG line
#   hack/cluster.sh down   stop it
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/.cache/cluster"
pidfile="$PWD/.cache/cluster.pid"
log="$PWD/.cache/cluster.log"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-up}" in
  up)
    if running && [ -f "$dir/ready" ]; then
      echo "control plane already running (pid $(cat "$pidfile"))"
      cat "$dir/ready"
      exit 0
    fi
    assets="$(hack/testenv/build.sh kube)"
    hack/testenv/build.sh etcd >/dev/null
    cargo build -q --bin talkturo-testenv
    mkdir -p .cache
    KUBEBUILDER_ASSETS="$assets" nohup target/debug/talkturo-testenv up --dir "$dir" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 240); do
      [ -f "$dir/ready" ] && break
      if ! running; then
        echo "the control plane failed to start; log ($log):" >&2
        tail -n 30 "$log" >&2
        exit 1
      fi
      sleep 0.5
    done
    [ -f "$dir/ready" ] || { echo "the control plane was not ready after 120 s; see $log" >&2; exit 1; }
    echo "control plane running (pid $(cat "$pidfile")); stop it with: make cluster-down"
    cat "$dir/ready"
    ;;
  down)
    if running; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 1 60); do running || break; sleep 0.5; done
      echo "control plane stopped"
    else
      echo "no control plane running"
    fi
    rm -f "$pidfile"
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
