#!/usr/bin/env bash
# What `make e2e` needs beyond the Go-built binaries: root, containerd and runc, the CNI loopback
# plugin and gcc (for the pause image). Installs the missing packages with apt when root; fails
# with a clear message otherwise. It never skips.
set -euo pipefail
missing=()
[ -x /usr/bin/containerd ] && [ -x /usr/bin/ctr ] || missing+=(containerd)
[ -x /usr/sbin/runc ] || missing+=(runc)
[ -x /usr/lib/cni/loopback ] || missing+=(containernetworking-plugins)
[ -x /usr/bin/gcc ] || missing+=(gcc)
if [ "$(id -u)" != 0 ]; then
  echo "make e2e: runs a kubelet, containerd and runc, which need root (uid $(id -u) here)." >&2
  [ ${#missing[@]} -eq 0 ] || echo "make e2e: also missing: ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "[e2e] installing ${missing[*]} with apt..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || { echo "make e2e: apt-get update failed" >&2; exit 1; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    { echo "make e2e: could not install ${missing[*]} with apt" >&2; exit 1; }
fi
