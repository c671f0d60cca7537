//! Child processes of the control plane: spawned from one long-lived thread with
//! `PR_SET_PDEATHSIG(SIGKILL)`, so they never outlive the process that started them.
//!
//! PDEATHSIG fires when the *thread* that forked the child exits; spawning from a test's own
//! thread would kill the control plane when that test ends. The spawner thread lives as long as
//! the process.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{Error, io};

type SpawnRequest = (Command, Sender<std::io::Result<Child>>);

fn spawner() -> &'static Mutex<Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testenv-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The channel's sender is static and never dropped: park so the thread (and
                // with it the children's PDEATHSIG) lives until the process exits.
                loop {
                    std::thread::park();
                }
            })
            .map(drop)
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the spawner thread"));
        Mutex::new(tx)
    })
}

/// A child process with its log file, killed on stop.
pub struct ManagedChild {
    name: &'static str,
    child: Mutex<Child>,
    log: PathBuf,
}

/// Starts `program args…` with stdout and stderr appended to `log`.
pub fn spawn(
    name: &'static str,
    program: &Path,
    args: &[String],
    log: &Path,
) -> Result<ManagedChild, Error> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io(format!("opening {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(io("duplicating the log file handle"))?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: prctl and getppid are async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = channel();
    spawner()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, tx))
        .map_err(|_| Error::Io {
            what: format!("starting {name}"),
            source: std::io::Error::other("spawner thread is gone"),
        })?;
    let child = rx
        .recv()
        .map_err(|_| Error::Io {
            what: format!("starting {name}"),
            source: std::io::Error::other("spawner thread is gone"),
        })?
        .map_err(io(format!("starting {}", program.display())))?;
    Ok(ManagedChild {
        name,
        child: Mutex::new(child),
        log: log.to_owned(),
    })
}

impl ManagedChild {
    fn child(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exit status, if the process has exited.
    pub fn exited(&self) -> Option<String> {
        self.child()
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.to_string())
    }

    pub fn pid(&self) -> u32 {
        self.child().id()
    }

    /// The last `n` lines of the process's log.
    pub fn log_tail(&self, n: usize) -> String {
        let Ok(f) = std::fs::File::open(&self.log) else {
            return String::new();
        };
        let lines: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SAFETY: sending a signal to our own child's pid.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let started = Instant::now();
        while started.elapsed() < grace {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!(
            process = self.name,
            "did not stop after SIGTERM; killing it"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `N` distinct free loopback ports: every listener is held until all are found, so the OS
/// cannot hand out the same port twice.
pub fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let mut held = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
        *port = l.local_addr().map_err(io("finding a free port"))?.port();
        held.push(l);
    }
    Ok(ports)
}
