//! A one-node Kubernetes cluster on this machine, for `make e2e`: the test control plane
//! (etcd + kube-apiserver, here with Node/RBAC authorization and ServiceAccount admission) plus
//! kube-controller-manager, kube-scheduler, Debian's containerd and runc, and a kubelet. Every
//! listener is on loopback and on a free port; all state lives under one folder.
//!
//! The machine this runs on has no pod network and withholds `CAP_SYS_RESOURCE`, so:
//! - CNI is configured with the loopback plugin only: the node is Ready, and only `hostNetwork`
//!   pods can run (the chart has the values for that);
//! - containerd restricts `oom_score_adj` and the kubelet sets none (runc cannot lower a score
//!   without that capability).
//!
//! Stopping (and starting, after a run that crashed) kills the containers, the shims, the
//! processes left in the kubelet's cgroups, unmounts whatever is mounted under the state folder
//! and removes the cgroups: nothing of a run outlives it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::api::Api;

use super::image::{self, ImageConfig};
use super::process::{self, ManagedChild};
use super::{Binaries, ControlPlane, Error, io};

mod cleanup;
mod files;

pub use cleanup::{cgroups_left, mounts_under, processes_under, sweep};
use files::{CONTAINERD_CONFIG, ECHO_ENV_C, KUBELET_CONFIG, PAUSE_C};

/// The node's name (the API server reaches the kubelet by it).
pub const NODE_NAME: &str = "localhost";

/// The sandbox image, built here (no registry).
pub const PAUSE_IMAGE: &str = "localhost/pause:local";

/// An app image built here: prints `PHONE_NUMBER=… PHONE_NUMBER_ID=…` from its environment on
/// its first line of output, then sleeps (what a pod reading a claim's ConfigMap sees).
pub const ECHO_ENV_IMAGE: &str = "localhost/echo-env:local";

/// What `make e2e` needs on the machine, beyond the Go-built binaries.
pub const PREREQUISITES: &str = "root, containerd and runc (apt: containerd runc), the CNI \
    loopback plugin (apt: containernetworking-plugins) and gcc";

/// A running one-node cluster. Dropping it stops everything and cleans up.
pub struct NodeCluster {
    dir: PathBuf,
    kubelet: Option<ManagedChild>,
    scheduler: ManagedChild,
    controller_manager: ManagedChild,
    containerd: Option<ManagedChild>,
    plane: ControlPlane,
}

/// Why the machine cannot run the cluster, if it cannot.
pub fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root (runc, mounts and cgroups need it)".to_owned());
    }
    for (what, path) in [
        ("containerd", "/usr/bin/containerd"),
        ("ctr", "/usr/bin/ctr"),
        ("runc", "/usr/sbin/runc"),
        ("the CNI loopback plugin", "/usr/lib/cni/loopback"),
        ("gcc", "/usr/bin/gcc"),
    ] {
        if !Path::new(path).exists() {
            missing.push(format!("{what} ({path})"));
        }
    }
    missing
}

impl NodeCluster {
    /// Starts the cluster with its state in `dir` (emptied first, after cleaning up what a
    /// crashed run may have left there) and waits until the node is Ready. `node_bins` holds
    /// kubelet, kube-controller-manager and kube-scheduler.
    pub async fn start(binaries: &Binaries, dir: &Path) -> Result<Self, Error> {
        let missing = missing_prerequisites();
        if !missing.is_empty() {
            return Err(Error::Io {
                what: format!("the one-node cluster needs {PREREQUISITES}"),
                source: std::io::Error::other(format!("missing: {}", missing.join(", "))),
            });
        }
        sweep(dir);
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let plane = ControlPlane::start_with(
            binaries,
            &dir.join("plane"),
            &[
                "--authorization-mode=Node,RBAC",
                "--disable-admission-plugins=",
                "--enable-admission-plugins=NodeRestriction",
                "--endpoint-reconciler-type=none",
                "--kubelet-preferred-address-types=Hostname,InternalIP",
            ],
        )
        .await?;
        let kubeconfig = plane.kubeconfig_path().to_owned();
        let pki = plane.dir().to_owned();
        let [kcm_port, scheduler_port, kubelet_port, kubelet_healthz] = process::free_ports::<4>()?;
        let kc = format!("--kubeconfig={}", kubeconfig.display());
        let controller_manager = process::spawn(
            "kube-controller-manager",
            &binaries.path("kube-controller-manager"),
            &[
                kc.clone(),
                format!("--authentication-kubeconfig={}", kubeconfig.display()),
                format!("--authorization-kubeconfig={}", kubeconfig.display()),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={kcm_port}"),
                "--leader-elect=false".into(),
                "--use-service-account-credentials=false".into(),
                format!(
                    "--service-account-private-key-file={}",
                    pki.join("sa.key").display()
                ),
                format!("--root-ca-file={}", pki.join("ca.crt").display()),
                "--allocate-node-cidrs=false".into(),
                "--controllers=*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller,-csrsigning".into(),
            ],
            &dir.join("kube-controller-manager.log"),
        )?;
        let scheduler = process::spawn(
            "kube-scheduler",
            &binaries.path("kube-scheduler"),
            &[
                kc.clone(),
                format!("--authentication-kubeconfig={}", kubeconfig.display()),
                format!("--authorization-kubeconfig={}", kubeconfig.display()),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={scheduler_port}"),
                "--leader-elect=false".into(),
            ],
            &dir.join("kube-scheduler.log"),
        )?;
        let mut cluster = Self {
            dir: dir.to_owned(),
            kubelet: None,
            scheduler,
            controller_manager,
            containerd: None,
            plane,
        };
        cluster.record_pids()?;
        cluster.start_containerd()?;
        cluster.record_pids()?;
        cluster.import_pause()?;
        cluster.start_kubelet(binaries, kubelet_port, kubelet_healthz)?;
        cluster.record_pids()?;
        cluster.wait_node_ready(Duration::from_secs(120)).await?;
        Ok(cluster)
    }

    /// The admin kubeconfig.
    pub fn kubeconfig_path(&self) -> &Path {
        self.plane.kubeconfig_path()
    }

    /// The API server's port (pods reach it on 127.0.0.1: there is no kube-proxy).
    pub fn api_port(&self) -> u16 {
        self.plane.port()
    }

    /// The state folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub async fn config(&self) -> Result<kube::Config, Error> {
        self.plane.config().await
    }

    /// Writes the pids of every process this cluster started to `run.pids`, so that a later
    /// start can stop them if this process died without cleaning up.
    fn record_pids(&self) -> Result<(), Error> {
        let mut pids: Vec<u32> = self.plane.pids().to_vec();
        pids.extend([self.controller_manager.pid(), self.scheduler.pid()]);
        pids.extend(self.containerd.iter().map(ManagedChild::pid));
        pids.extend(self.kubelet.iter().map(ManagedChild::pid));
        let text: Vec<String> = pids.iter().map(u32::to_string).collect();
        std::fs::write(self.dir.join("run.pids"), text.join("\n"))
            .map_err(io("writing the pid file"))
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("containerd/containerd.sock")
    }

    fn ctr(&self, args: &[&str]) -> Result<String, Error> {
        let socket = self.socket();
        let out = Command::new("ctr")
            .arg("-a")
            .arg(&socket)
            .args(["-n", "k8s.io"])
            .args(args)
            .output()
            .map_err(io("running ctr"))?;
        if !out.status.success() {
            return Err(Error::Io {
                what: format!("ctr {}", args.join(" ")),
                source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn start_containerd(&mut self) -> Result<(), Error> {
        let d = self.dir.join("containerd");
        let cni = self.dir.join("cni/net.d");
        std::fs::create_dir_all(&cni).map_err(io("creating the CNI config folder"))?;
        std::fs::create_dir_all(&d).map_err(io("creating the containerd folder"))?;
        std::fs::write(
            cni.join("10-loopback.conflist"),
            r#"{"cniVersion": "1.0.0", "name": "loopback", "plugins": [{"type": "loopback"}]}"#,
        )
        .map_err(io("writing the CNI config"))?;
        let config = CONTAINERD_CONFIG
            .replace("$STATE", &d.display().to_string())
            .replace("$CNI", &cni.display().to_string())
            .replace("$PAUSE", PAUSE_IMAGE);
        let path = d.join("config.toml");
        std::fs::write(&path, config).map_err(io("writing the containerd config"))?;
        self.containerd = Some(process::spawn(
            "containerd",
            Path::new("/usr/bin/containerd"),
            &["--config".into(), path.display().to_string()],
            &self.dir.join("containerd.log"),
        )?);
        let started = Instant::now();
        while self.ctr(&["version"]).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(Error::NotReady(Duration::from_secs(30), self.dir.clone()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Loads a docker-archive tarball into the node's image store.
    pub fn import_image(&self, tar: &Path) -> Result<(), Error> {
        self.ctr(&["images", "import", &tar.display().to_string()])
            .map(|_| ())
    }

    fn import_pause(&self) -> Result<(), Error> {
        self.import_c_image("pause", PAUSE_C, PAUSE_IMAGE)?;
        self.import_c_image("echo-env", ECHO_ENV_C, ECHO_ENV_IMAGE)
    }

    /// Compiles `source` (C, statically) as the image `reference`'s only program.
    fn import_c_image(&self, name: &str, source: &str, reference: &str) -> Result<(), Error> {
        let build = self.dir.join("images").join(name);
        let root = build.join("root");
        std::fs::create_dir_all(&root).map_err(io(format!("creating the {name} image folder")))?;
        let file = build.join(format!("{name}.c"));
        std::fs::write(&file, source).map_err(io(format!("writing {name}.c")))?;
        let program = root.join(name);
        let out = Command::new("gcc")
            .args(["-Os", "-static", "-s", "-o"])
            .arg(&program)
            .arg(&file)
            .output()
            .map_err(io("running gcc"))?;
        if !out.status.success() {
            return Err(Error::Io {
                what: format!("compiling the {name} program"),
                source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()),
            });
        }
        let tar = build.join(format!("{name}.tar"));
        image::docker_archive(
            &root,
            reference,
            &ImageConfig {
                entrypoint: vec![format!("/{name}")],
                user: "65535:65535".into(),
                ..Default::default()
            },
            &tar,
        )?;
        self.import_image(&tar)
    }

    fn start_kubelet(&mut self, binaries: &Binaries, port: u16, healthz: u16) -> Result<(), Error> {
        let root = self.dir.join("kubelet");
        std::fs::create_dir_all(&root).map_err(io("creating the kubelet folder"))?;
        let config = KUBELET_CONFIG
            .replace("$PORT", &port.to_string())
            .replace("$HEALTHZ", &healthz.to_string())
            .replace("$SOCKET", &self.socket().display().to_string())
            .replace("$LOGS", &self.dir.join("pod-logs").display().to_string());
        let path = root.join("config.yaml");
        std::fs::write(&path, config).map_err(io("writing the kubelet config"))?;
        self.kubelet = Some(process::spawn(
            "kubelet",
            &binaries.path("kubelet"),
            &[
                format!("--config={}", path.display()),
                format!("--kubeconfig={}", self.kubeconfig_path().display()),
                format!("--hostname-override={NODE_NAME}"),
                format!("--root-dir={}", root.display()),
                format!("--cert-dir={}", root.join("pki").display()),
                "--v=1".into(),
            ],
            &self.dir.join("kubelet.log"),
        )?);
        Ok(())
    }

    async fn wait_node_ready(&self, timeout: Duration) -> Result<(), Error> {
        let client = kube::Client::try_from(self.config().await?)?;
        let nodes: Api<Node> = Api::all(client);
        let started = Instant::now();
        loop {
            if let Some(k) = self
                .kubelet
                .as_ref()
                .and_then(|k| k.exited().map(|s| (k, s)))
            {
                return Err(Error::Exited {
                    process: "kubelet",
                    status: k.1,
                    log: k.0.log_tail(30),
                });
            }
            let ready = nodes
                .get_opt(NODE_NAME)
                .await
                .ok()
                .flatten()
                .is_some_and(|n| {
                    n.status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                });
            if ready {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(Error::NotReady(timeout, self.dir.clone()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the node (kubelet, containers, containerd) and cleans up; the control plane stops
    /// when the cluster is dropped.
    fn stop_node(&mut self) {
        if let Some(mut k) = self.kubelet.take() {
            k.stop(Duration::from_secs(10));
        }
        if self.containerd.is_some() {
            if let Ok(tasks) = self.ctr(&["tasks", "ls", "-q"]) {
                for t in tasks.lines() {
                    let _ = self.ctr(&["tasks", "kill", "-s", "SIGKILL", t]);
                }
                std::thread::sleep(Duration::from_millis(500));
                for t in tasks.lines() {
                    let _ = self.ctr(&["tasks", "rm", "-f", t]);
                }
            }
            if let Ok(containers) = self.ctr(&["containers", "ls", "-q"]) {
                for c in containers.lines() {
                    let _ = self.ctr(&["containers", "rm", c]);
                }
            }
        }
        if let Some(mut c) = self.containerd.take() {
            c.stop(Duration::from_secs(10));
        }
        self.scheduler.stop(Duration::from_secs(10));
        self.controller_manager.stop(Duration::from_secs(10));
        sweep(&self.dir);
    }
}

impl Drop for NodeCluster {
    fn drop(&mut self) {
        self.stop_node();
    }
}
