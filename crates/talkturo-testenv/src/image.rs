//! Container images without a registry or a container engine: a root filesystem directory
//! packed as a one-layer docker-archive tarball, which `ctr images import` loads into containerd.

use std::io::Write as _;
use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Error, io};

/// What the image runs.
#[derive(Clone, Debug, Default)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `uid:gid`.
    pub user: String,
    pub env: Vec<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The layer: every file of `rootfs`, owned by root, with zero mtimes (reproducible digests).
fn layer(rootfs: &Path) -> Result<Vec<u8>, Error> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", rootfs)
        .map_err(io(format!("packing {}", rootfs.display())))?;
    builder
        .into_inner()
        .map_err(io(format!("packing {}", rootfs.display())))
}

/// Writes `rootfs` as image `reference` (e.g. `localhost/pause:local`) to `out`, a docker-archive
/// tarball.
pub fn docker_archive(
    rootfs: &Path,
    reference: &str,
    config: &ImageConfig,
    out: &Path,
) -> Result<(), Error> {
    let layer = layer(rootfs)?;
    let diff_id = format!("sha256:{}", hex(&Sha256::digest(&layer)));
    let image_config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": config.entrypoint,
            "Cmd": config.cmd,
            "User": config.user,
            "Env": config.env,
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "talkturo-operator testenv"}],
    });
    let config_bytes = serde_json::to_vec(&image_config).map_err(|e| Error::Io {
        what: "encoding an image config".into(),
        source: std::io::Error::other(e),
    })?;
    let config_name = format!("{}.json", hex(&Sha256::digest(&config_bytes)));
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name,
        "RepoTags": [reference],
        "Layers": ["layer.tar"],
    }]))
    .map_err(|e| Error::Io {
        what: "encoding an image manifest".into(),
        source: std::io::Error::other(e),
    })?;
    let file = std::fs::File::create(out).map_err(io(format!("creating {}", out.display())))?;
    let mut archive = tar::Builder::new(std::io::BufWriter::new(file));
    for (name, bytes) in [
        ("layer.tar", &layer[..]),
        (config_name.as_str(), &config_bytes[..]),
        ("manifest.json", &manifest[..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        archive
            .append_data(&mut header, name, bytes)
            .map_err(io(format!("writing {}", out.display())))?;
    }
    archive
        .into_inner()
        .map_err(io(format!("writing {}", out.display())))?
        .flush()
        .map_err(io(format!("writing {}", out.display())))
}

/// The operator's image from a locally built binary, laid out like the Dockerfile's final stage
/// (distroless: the binary in `/usr/local/bin`, a CA bundle, user 65532, nothing writable
/// needed), plus the shared libraries the binary links (a glibc build, not a static one).
pub fn operator_image(
    binary: &Path,
    reference: &str,
    work: &Path,
) -> Result<std::path::PathBuf, Error> {
    let root = work.join("operator-root");
    let _ = std::fs::remove_dir_all(&root);
    let mkdir =
        |p: &Path| std::fs::create_dir_all(p).map_err(io(format!("creating {}", p.display())));
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to)
            .map(|_| ())
            .map_err(io(format!("copying {}", from.display())))
    };
    for d in ["usr/local/bin", "etc/ssl/certs", "tmp"] {
        mkdir(&root.join(d))?;
    }
    copy(binary, &root.join("usr/local/bin/talkturo-operator"))?;
    copy(
        Path::new("/etc/ssl/certs/ca-certificates.crt"),
        &root.join("etc/ssl/certs/ca-certificates.crt"),
    )?;
    let ldd = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(io("running ldd"))?;
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let to = root.join(lib.trim_start_matches('/'));
        if let Some(parent) = to.parent() {
            mkdir(parent)?;
        }
        // Through symlinks: the file itself.
        let real = std::fs::canonicalize(lib).map_err(io(format!("resolving {lib}")))?;
        copy(&real, &to)?;
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    .map_err(io("writing /etc/passwd"))?;
    std::fs::write(root.join("etc/group"), "root:x:0:\nnonroot:x:65532:\n")
        .map_err(io("writing /etc/group"))?;
    let tar = work.join("operator.tar");
    docker_archive(
        &root,
        reference,
        &ImageConfig {
            entrypoint: vec!["/usr/local/bin/talkturo-operator".into()],
            cmd: vec!["run".into()],
            user: "65532:65532".into(),
            env: vec!["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".into()],
        },
        &tar,
    )?;
    Ok(tar)
}

#[cfg(test)]
mod tests;
