//! Cleaning up after a node (this run's, or one that crashed): processes, mounts, cgroups.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a run (this one, or one that crashed) left behind under `dir`: containerd shims started
/// with its socket, processes in the kubelet's cgroups, mounts under `dir`, and those cgroups.
pub fn sweep(dir: &Path) {
    // The processes a crashed run started (recorded by pid; a pid reused since by another
    // program is left alone).
    let names = [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "containerd",
        "kubelet",
    ];
    let recorded = std::fs::read_to_string(dir.join("run.pids")).unwrap_or_default();
    for pid in recorded
        .lines()
        .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
    {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if names.contains(&name) {
            // SAFETY: signalling a process by pid.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    let socket = dir.join("containerd/containerd.sock").display().to_string();
    for pid in processes_matching(|cmdline| {
        cmdline.contains("containerd-shim") && cmdline.contains(&socket)
    }) {
        // SAFETY: signalling a process by pid.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    for cgroup in kubelet_cgroups() {
        for pid in cgroup_procs(&cgroup) {
            // SAFETY: signalling a process by pid.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    unmount_under(dir);
    for cgroup in kubelet_cgroups() {
        remove_tree(&cgroup);
    }
}

/// Pids whose command line matches.
fn processes_matching(matches: impl Fn(&str) -> bool) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .is_ok_and(|c| matches(&c))
        })
        .collect()
}

/// The kubelet's cgroups (`kubepods` under each cgroup v1 controller, or under the v2 root).
fn kubelet_cgroups() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut out = Vec::new();
    if root.join("kubepods").is_dir() {
        out.push(root.join("kubepods"));
    }
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            let p = e.path().join("kubepods");
            if p.is_dir() {
                out.push(p);
            }
        }
    }
    out
}

fn cgroup_procs(cgroup: &Path) -> Vec<libc::pid_t> {
    let mut pids = Vec::new();
    let mut stack = vec![cgroup.to_owned()];
    while let Some(dir) = stack.pop() {
        if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            pids.extend(
                text.lines()
                    .filter_map(|l| l.trim().parse::<libc::pid_t>().ok()),
            );
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            stack.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    pids
}

/// Removes a cgroup and its children (empty ones only: the kernel refuses the rest).
fn remove_tree(cgroup: &Path) {
    if let Ok(entries) = std::fs::read_dir(cgroup) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(cgroup);
}

/// Unmounts everything mounted under `dir`, deepest first (lazily if busy).
fn unmount_under(dir: &Path) {
    let mut points = mounts_under(dir);
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let Ok(c) = std::ffi::CString::new(p) else {
            continue;
        };
        // SAFETY: a valid NUL-terminated path.
        unsafe {
            if libc::umount2(c.as_ptr(), 0) != 0 {
                libc::umount2(c.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

/// Mount points under `dir` (spaces unescaped), as `/proc/mounts` lists them.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p.starts_with(&prefix))
        .collect()
}

/// Processes that mention `dir` on their command line, or run in the kubelet's cgroups (for the
/// test's leftover check).
pub fn processes_under(dir: &Path) -> Vec<libc::pid_t> {
    let d = dir.display().to_string();
    let mut pids = processes_matching(|c| c.contains(&d));
    for cgroup in kubelet_cgroups() {
        pids.extend(cgroup_procs(&cgroup));
    }
    pids
}

/// Whether any kubelet cgroup is left.
pub fn cgroups_left() -> Vec<PathBuf> {
    kubelet_cgroups()
}
