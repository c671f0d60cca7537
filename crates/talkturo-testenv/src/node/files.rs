//! The files a node is started with: the pause sandbox's source, containerd's and the
//! kubelet's configuration.

/// The sandbox: sleeps until told to stop, reaping orphans.
pub(super) const PAUSE_C: &str = r#"#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
"#;

/// [`super::ECHO_ENV_IMAGE`]'s program: the claim's number and id as its environment has them.
pub(super) const ECHO_ENV_C: &str = r#"#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void stop(int s) { (void)s; _exit(0); }
int main(void) {
  const char *n = getenv("PHONE_NUMBER"), *id = getenv("PHONE_NUMBER_ID");
  printf("PHONE_NUMBER=%s PHONE_NUMBER_ID=%s\n", n ? n : "", id ? id : "");
  fflush(stdout);
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  for (;;) pause();
}
"#;

/// containerd 1.6 (Debian bookworm), everything under the state folder.
pub(super) const CONTAINERD_CONFIG: &str = r#"version = 2
root = "$STATE/root"
state = "$STATE/state"
oom_score = 0
[grpc]
  address = "$STATE/containerd.sock"
[ttrpc]
  address = "$STATE/containerd.sock.ttrpc"
[debug]
  address = "$STATE/debug.sock"
  level = "info"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$STATE/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE"
    enable_selinux = false
    disable_apparmor = true
    # Without CAP_SYS_RESOURCE runc cannot set a negative oom_score_adj (the pause container's
    # -998): clamp scores to containerd's own. Harmless where root has every capability.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "/usr/sbin/runc"
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$CNI"
      max_conf_num = 1
"#;

/// The kubelet: loopback only; anonymous and AlwaysAllow on its loopback port (a test node).
pub(super) const KUBELET_CONFIG: &str = r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $HEALTHZ
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://$SOCKET
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageMinimumGCAge: 24h
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
registerNode: true
oomScoreAdj: 0
podLogsDir: $LOGS
"#;
