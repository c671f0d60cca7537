//! A real kube-apiserver and etcd on loopback, for the integration tests, `make cluster` and
//! `make demo` (what controller-runtime's envtest does, with binaries this project builds from
//! their Go modules: see `hack/testenv/`).
//!
//! Owns process lifecycles, certificates and the admin kubeconfig. Children are spawned from
//! one long-lived thread with `PR_SET_PDEATHSIG`, so they die with the process that started them
//! even when it is killed. Not used by the operator itself.

mod certs;
pub mod image;
pub mod node;
mod objects;
mod process;

use objects::readyz;
pub use objects::{config_from, create_namespace, install_crds};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

pub use process::{ManagedChild, free_ports};

/// Versions the cache is built for (`hack/testenv/versions.env`, shared with the build script).
const VERSIONS: &str = include_str!("../../../hack/testenv/versions.env");

/// Field manager for objects the harness applies.
const FIELD_MANAGER: &str = "talkturo-testenv";

/// Errors starting or using the control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "control-plane binaries not found in {dir} (missing {missing}); build them with `make testenv` or set KUBEBUILDER_ASSETS"
    )]
    BinariesMissing { dir: PathBuf, missing: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("generating certificates: {0}")]
    Certs(#[from] rcgen::Error),
    #[error("{process} exited during start-up ({status}); last log lines:\n{log}")]
    Exited {
        process: &'static str,
        status: String,
        log: String,
    },
    #[error("the control plane was not ready after {0:?}; see the logs in {1}")]
    NotReady(Duration, PathBuf),
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("CRD {0}: {1}")]
    Crd(String, String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Where the kube-apiserver and etcd binaries are.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    /// `KUBEBUILDER_ASSETS` if set (envtest's convention), else the cache `make testenv` fills.
    pub fn locate() -> Result<Self, Error> {
        let dir = std::env::var_os("KUBEBUILDER_ASSETS")
            .map(PathBuf::from)
            .unwrap_or_else(default_cache_dir);
        let missing: Vec<&str> = ["kube-apiserver", "etcd"]
            .into_iter()
            .filter(|b| !dir.join(b).is_file())
            .collect();
        if missing.is_empty() {
            Ok(Self { dir })
        } else {
            Err(Error::BinariesMissing {
                dir,
                missing: missing.join(", "),
            })
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// `$HOME/.cache/talkturo-testenv/k8s-<v>-etcd-<v>-helm-<v>`, as `hack/testenv/build.sh` names it.
fn default_cache_dir() -> PathBuf {
    let v = |key: &str| {
        VERSIONS
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .unwrap_or("unknown")
            .trim()
            .to_owned()
    };
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache/talkturo-testenv").join(format!(
        "k8s-{}-etcd-{}-helm-{}",
        v("KUBE_VERSION"),
        v("ETCD_VERSION"),
        v("HELM_VERSION")
    ))
}

const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
";

/// A running etcd + kube-apiserver pair with RBAC on and an admin identity.
pub struct ControlPlane {
    dir: PathBuf,
    kubeconfig: PathBuf,
    etcd: ManagedChild,
    apiserver: ManagedChild,
    apiserver_args: Vec<String>,
    binaries: Binaries,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver on free loopback ports, with state in `dir` (created),
    /// and waits until the apiserver serves and the `default` namespace exists.
    ///
    /// A port found free can be taken by another process before etcd or the apiserver binds
    /// it; such a start is retried on fresh ports (three attempts).
    pub async fn start(binaries: &Binaries, dir: &Path) -> Result<Self, Error> {
        Self::start_with(binaries, dir, &[]).await
    }

    /// [`start`](Self::start) with `extra` kube-apiserver flags (e.g. a feature gate turned off).
    pub async fn start_with(
        binaries: &Binaries,
        dir: &Path,
        extra: &[&str],
    ) -> Result<Self, Error> {
        let mut attempt = 1;
        loop {
            match Self::start_once(binaries, dir, extra).await {
                Err(e) if attempt < 3 && e.to_string().contains("address already in use") => {
                    eprintln!("[testenv] a port was taken during start-up; retrying ({e})");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(binaries: &Binaries, dir: &Path, extra: &[&str]) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let certs = certs::write(dir)?;
        let [etcd_client, etcd_peer, api_port] = process::free_ports::<3>()?;
        let etcd = process::spawn(
            "etcd",
            &binaries.path("etcd"),
            &[
                "--name=default".into(),
                format!("--data-dir={}", dir.join("etcd").display()),
                format!("--listen-client-urls=http://127.0.0.1:{etcd_client}"),
                format!("--advertise-client-urls=http://127.0.0.1:{etcd_client}"),
                format!("--listen-peer-urls=http://127.0.0.1:{etcd_peer}"),
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}"),
                format!("--initial-cluster=default=http://127.0.0.1:{etcd_peer}"),
                "--unsafe-no-fsync=true".into(),
                "--log-level=warn".into(),
            ],
            &dir.join("etcd.log"),
        )?;
        // Every request is audited (metadata only): the RBAC tests read this log to prove which
        // permissions the operator, impersonating its ServiceAccount, really uses.
        let audit_policy = dir.join("audit-policy.yaml");
        std::fs::write(&audit_policy, AUDIT_POLICY).map_err(io("writing the audit policy"))?;
        let mut apiserver_args = vec![
            format!("--etcd-servers=http://127.0.0.1:{etcd_client}"),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={api_port}"),
            format!("--tls-cert-file={}", certs.serving_cert.display()),
            format!("--tls-private-key-file={}", certs.serving_key.display()),
            format!("--token-auth-file={}", certs.tokens.display()),
            "--authorization-mode=RBAC".into(),
            format!("--service-account-issuer=https://127.0.0.1:{api_port}"),
            format!("--service-account-key-file={}", certs.sa_pub.display()),
            format!(
                "--service-account-signing-key-file={}",
                certs.sa_key.display()
            ),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--disable-admission-plugins=ServiceAccount".into(),
            "--allow-privileged=true".into(),
            "--profiling=false".into(),
            format!("--audit-policy-file={}", audit_policy.display()),
            format!("--audit-log-path={}", dir.join("audit.log").display()),
            "--audit-log-format=json".into(),
            "--audit-log-mode=blocking".into(),
            // Never rotated (its default is 100 MB): counts are read from a position in this
            // one file, and the scale benchmark's fill alone writes several hundred MB.
            "--audit-log-maxsize=1000000".into(),
        ];
        // An extra flag replaces the default of the same name (list flags would append).
        let name = |flag: &str| flag.split('=').next().unwrap_or_default().to_owned();
        apiserver_args.retain(|a| !extra.iter().any(|e| name(e) == name(a)));
        apiserver_args.extend(extra.iter().map(|f| (*f).to_owned()));
        let apiserver = process::spawn(
            "kube-apiserver",
            &binaries.path("kube-apiserver"),
            &apiserver_args,
            &dir.join("kube-apiserver.log"),
        )?;
        let kubeconfig = dir.join("kubeconfig");
        let server = format!("https://127.0.0.1:{api_port}");
        std::fs::write(
            &kubeconfig,
            certs::kubeconfig(&server, &certs.ca_cert, &certs.admin_token),
        )
        .map_err(io("writing the kubeconfig"))?;
        let plane = Self {
            dir: dir.to_owned(),
            kubeconfig,
            etcd,
            apiserver,
            apiserver_args,
            binaries: binaries.clone(),
        };
        plane.wait_ready(Duration::from_secs(120)).await?;
        Ok(plane)
    }

    /// The admin kubeconfig (user `admin` in `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The pids of etcd and kube-apiserver.
    pub fn pids(&self) -> [u32; 2] {
        [self.etcd.pid(), self.apiserver.pid()]
    }

    /// The API server's port (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.apiserver_args
            .iter()
            .find_map(|a| a.strip_prefix("--secure-port=")?.parse().ok())
            .unwrap_or(0)
    }

    /// The audit log: one JSON event per request (metadata only).
    pub fn audit_log_path(&self) -> PathBuf {
        self.dir.join("audit.log")
    }

    /// Directory with the logs, certificates and etcd data.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A kube client configuration for the admin.
    pub async fn config(&self) -> Result<kube::Config, Error> {
        config_from(&self.kubeconfig).await
    }

    async fn wait_ready(&self, timeout: Duration) -> Result<(), Error> {
        let started = Instant::now();
        let config = self.config().await?;
        loop {
            for (name, child) in [("etcd", &self.etcd), ("kube-apiserver", &self.apiserver)] {
                if let Some(status) = child.exited() {
                    return Err(Error::Exited {
                        process: name,
                        status,
                        log: child.log_tail(20),
                    });
                }
            }
            // `/readyz` is `ok` only once every post-start hook ran (the bootstrap RBAC roles
            // among them): before that, a user's first request may be refused.
            if let Ok(client) = kube::Client::try_from(config.clone())
                && readyz(&client).await
                && Api::<Namespace>::all(client).get("default").await.is_ok()
            {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(Error::NotReady(timeout, self.dir.clone()));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Stops and starts the apiserver again on the same port, keeping etcd and its data.
    pub async fn restart_apiserver(&mut self) -> Result<(), Error> {
        self.apiserver.stop(Duration::from_secs(20));
        self.apiserver = process::spawn(
            "kube-apiserver",
            &self.binaries.path("kube-apiserver"),
            &self.apiserver_args,
            &self.dir.join("kube-apiserver.log"),
        )?;
        self.wait_ready(Duration::from_secs(120)).await
    }

    /// SIGTERM to the apiserver, then to etcd (SIGKILL after a grace period).
    pub fn stop(&mut self) {
        self.apiserver.stop(Duration::from_secs(20));
        self.etcd.stop(Duration::from_secs(10));
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}
