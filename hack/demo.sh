#!/usr/bin/env bash
# `make demo`: from a fresh checkout, a local control plane, the Talkturo simulator and the
# operator; the example class and claims applied and shown Bound. Runs until Ctrl-C, then
# cleans everything up. With DEMO_EXIT=1 it exits (and cleans up) once the claims are Bound.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
dir="$root/.cache/demo"
sim_addr="127.0.0.1:18080"     # the address examples/phonenumberclass.yaml points at
admin_addr="127.0.0.1:18081"
pids=()
started=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  local rc=$?
  trap - EXIT
  if [ "$rc" != 0 ] && [ "$started" = 1 ]; then
    # CI shows only the end of the output: the logs' last lines go here, before the clean-up.
    for log in "$dir"/cluster.log "$dir"/sim.log "$dir"/operator.log; do
      [ -s "$log" ] && { say "last lines of $log"; tail -25 "$log"; }
    done
    say "the demo failed (exit $rc); see the error above"
  fi
  say "cleaning up"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "stopped the operator, the simulator and the control plane (state was in $dir)"
  exit "$rc"
}
trap cleanup EXIT
# Ctrl-C or SIGTERM ends the demo normally: the EXIT trap cleans up.
trap 'exit 0' INT TERM

if (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null; then
  echo "port 18080 is in use; the demo's simulator needs it (examples/phonenumberclass.yaml points there)" >&2
  exit 1
fi

say "building (first run: the control plane from Go modules, ~7 min; then cargo)"
assets="$(hack/testenv/build.sh kube)"
hack/testenv/build.sh etcd >/dev/null
cargo build -q --bins || { echo "cargo build failed (exit $?); free disk: $(df -h . | awk 'NR==2 {print $4}')" >&2; exit 1; }
rm -rf "$dir" && mkdir -p "$dir"
started=1

say "starting kube-apiserver + etcd on loopback"
KUBEBUILDER_ASSETS="$assets" target/debug/talkturo-testenv up --dir "$dir/cluster" >"$dir/cluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 240); do [ -f "$dir/cluster/ready" ] && break; sleep 0.5; done
[ -f "$dir/cluster/ready" ] || { tail -20 "$dir/cluster.log" >&2; exit 1; }
export KUBECONFIG="$dir/cluster/kubeconfig"

say "starting the Talkturo simulator on $sim_addr"
target/debug/talkturo-sim --listen "$sim_addr" --activation-delay-ms 1500 >"$dir/sim.log" 2>&1 &
pids+=($!)

say "installing the API-key Secret and the default PhoneNumberClass"
kubectl create namespace talkturo-system
kubectl apply -f examples/phonenumberclass.yaml

say "starting the operator"
target/debug/talkturo-operator run --admin-addr "$admin_addr" --lease-namespace talkturo-system >"$dir/operator.log" 2>&1 &
pids+=($!)

say "applying the example claims"
kubectl create namespace demo
for f in examples/claim-*.yaml; do kubectl apply -n demo -f "$f"; done
kubectl wait -n demo --for=jsonpath='{.status.phase}'=Bound pnc --all --timeout=90s
kubectl wait -n demo --for=condition=Ready pnc --all --timeout=60s

say "kubectl get pnclass,pnc,pn -A"
kubectl get pnclass,pnc,pn -A

if [ "${DEMO_EXIT:-0}" = 1 ]; then
  exit 0
fi
cat <<TXT

The demo is running. In another terminal:

  export KUBECONFIG=$KUBECONFIG
  kubectl get pnc -n demo -o wide              # claims, with the reason column
  kubectl describe pnc -n demo sales-line      # conditions and Events
  kubectl get pn tel-... -o yaml               # a number's provider id, prices, status
  kubectl apply -n demo -f - <<'EOF2'
  apiVersion: telephony.talkturo.ai/v1alpha1
  kind: PhoneNumberClaim
  metadata: {name: another}
  spec: {countryCode: US, areaCode: "212"}
EOF2
  curl -s http://$sim_addr/admin/counters       # what the operator asked Talkturo
  curl -s http://$admin_addr/metrics            # the operator's metrics

Logs: $dir/operator.log, $dir/sim.log, $dir/cluster.log
Press Ctrl-C to stop and clean everything up.
TXT
# `wait` (unlike a foreground sleep) returns at once on a signal, so Ctrl-C or SIGTERM cleans up
# immediately.
while true; do
  sleep 3600 &
  wait $! || true
done
