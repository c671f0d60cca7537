//! Test support shared by the integration test binaries: the one control plane per test binary,
//! and the table of invalid objects both schema layers must reject.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cases;
pub mod operator;
pub mod tenants;

use std::path::PathBuf;
use std::sync::OnceLock;

use talkturo_testenv::{self as testenv, Binaries, ControlPlane};

/// The control plane of this test binary, started on first use (or reused from
/// `TESTENV_KUBECONFIG`), with the CRDs from `crds/` installed.
pub struct TestEnv {
    pub kubeconfig: PathBuf,
    /// The apiserver's audit log of service-account requests (`None` when reusing a plane).
    pub audit_log: Option<PathBuf>,
    config: kube::Config,
    plane: std::sync::Mutex<Option<ControlPlane>>,
}

impl TestEnv {
    /// A client for this test's runtime (clients must not cross tokio runtimes).
    /// Restarts the API server on the same port, keeping etcd and its data (no-op when reusing
    /// a plane through `TESTENV_KUBECONFIG`).
    pub async fn restart_apiserver(&self) {
        let taken = self.plane.lock().unwrap().take();
        if let Some(mut plane) = taken {
            plane.restart_apiserver().await.unwrap();
            *self.plane.lock().unwrap() = Some(plane);
        }
    }

    pub fn client(&self) -> kube::Client {
        kube::Client::try_from(self.config.clone()).unwrap()
    }

    /// The admin's configuration, to derive impersonating clients from.
    pub fn config(&self) -> kube::Config {
        self.config.clone()
    }

    /// A client and a fresh namespace for one test.
    pub async fn namespace(&self, prefix: &str) -> (kube::Client, String) {
        let client = self.client();
        let ns = testenv::create_namespace(&client, prefix).await.unwrap();
        (client, ns)
    }

    /// `kubectl` against this control plane (`$KUBECTL` or the one on PATH).
    pub fn kubectl(&self, args: &[&str]) -> std::process::Output {
        let bin = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
        std::process::Command::new(bin)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .unwrap()
    }
}

/// The shared control plane, or `None` (with a loud message) when its binaries are missing
/// outside CI. With `CI=true` missing binaries fail the test: a skipped suite must not pass.
pub fn env() -> Option<&'static TestEnv> {
    env_with(&[])
}

/// [`env`], with `apiserver_flags` added to the API server's command line. A test binary has
/// one control plane: the flags of its first call apply.
pub fn env_with(apiserver_flags: &'static [&'static str]) -> Option<&'static TestEnv> {
    static ENV: OnceLock<Result<TestEnv, StartError>> = OnceLock::new();
    let result = ENV.get_or_init(|| {
        // Start on a thread with its own runtime: the plane outlives every test's runtime.
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(start(apiserver_flags))
        })
        .join()
        .unwrap_or_else(|_| Err(StartError::Failed("control plane start-up panicked".into())))
    });
    match result {
        Ok(env) => Some(env),
        Err(StartError::Missing(e)) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("control plane binaries missing (CI=true): {e}")
        }
        Err(StartError::Missing(e)) => {
            eprintln!(
                "\n*** SKIPPED: {e}\n*** run `make testenv` (or `make test`) to build the control plane\n"
            );
            None
        }
        // Binaries present but the plane does not come up: that is a failure, never a skip.
        Err(StartError::Failed(e)) => panic!("control plane failed to start: {e}"),
    }
}

enum StartError {
    /// The binaries are not built: a skip outside CI.
    Missing(String),
    /// Anything else.
    Failed(String),
}

async fn start(apiserver_flags: &[&str]) -> Result<TestEnv, StartError> {
    let failed = |e: &dyn std::fmt::Display| StartError::Failed(e.to_string());
    let crds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds");
    let (kubeconfig, plane) = match std::env::var_os("TESTENV_KUBECONFIG") {
        Some(path) => (PathBuf::from(path), None),
        None => {
            let binaries = Binaries::locate().map_err(|e| StartError::Missing(e.to_string()))?;
            let dir = std::env::temp_dir().join(format!("talkturo-testenv-{}", std::process::id()));
            remove_stale_dirs();
            let plane = ControlPlane::start_with(&binaries, &dir, apiserver_flags)
                .await
                .map_err(|e| failed(&e))?;
            (plane.kubeconfig_path().to_owned(), Some(plane))
        }
    };
    let config = testenv::config_from(&kubeconfig)
        .await
        .map_err(|e| failed(&e))?;
    let client = kube::Client::try_from(config.clone()).map_err(|e| failed(&e))?;
    testenv::install_crds(&client, &crds)
        .await
        .map_err(|e| failed(&e))?;
    let audit_log = plane.as_ref().map(ControlPlane::audit_log_path);
    Ok(TestEnv {
        kubeconfig,
        config,
        audit_log,
        plane: std::sync::Mutex::new(plane),
    })
}

/// Removes the state directories of earlier test processes that are gone (statics are never
/// dropped, so a test binary cannot clean up after itself; its children die with it).
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("talkturo-testenv-")
            .and_then(|p| p.parse::<u32>().ok())
            && !PathBuf::from(format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The operator binary running as a child process of the test. Killed when dropped (also when
/// a test panics) and, through `PR_SET_PDEATHSIG`, when the test process dies.
pub struct OperatorProcess {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl OperatorProcess {
    /// `talkturo-operator run <args>` against this control plane, logging to a temp file.
    pub fn spawn(env: &TestEnv, name: &str, args: &[&str]) -> Self {
        Self::spawn_bin(
            std::path::Path::new(env!("CARGO_BIN_EXE_talkturo-operator")),
            &env.kubeconfig,
            name,
            args,
        )
    }

    /// `<bin> run <args>` against the control plane of `kubeconfig` (another build of the
    /// operator: the upgrade test's earlier releases).
    pub fn spawn_bin(
        bin: &std::path::Path,
        kubeconfig: &std::path::Path,
        name: &str,
        args: &[&str],
    ) -> Self {
        use std::os::unix::process::CommandExt;
        let log = std::env::temp_dir().join(format!(
            "talkturo-operator-{name}-{}.log",
            std::process::id()
        ));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut cmd = std::process::Command::new(bin);
        cmd.arg("run")
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        // SAFETY: prctl is async-signal-safe, as pre_exec requires.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        Self {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a graceful shutdown request).
    pub fn terminate(&self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port (for an operator's admin server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
