//! `talkturo-operator probe`: the pod's liveness and readiness probes run inside the pod, for an
//! admin server whose port the pod spec cannot name (port 0 with `hostNetwork`: several replicas
//! on one node each take a free port). The running operator writes the address it bound to a
//! file ([`write_address`]); the probe reads it and asks that address.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Writes `addr` to `file` whole or not at all (a probe never reads half an address).
pub fn write_address(file: &Path, addr: SocketAddr) -> std::io::Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{addr}\n"))?;
    std::fs::rename(&tmp, file)
}

/// Reads the address [`write_address`] wrote.
pub fn read_address(file: &Path) -> Result<SocketAddr, ProbeError> {
    let text = std::fs::read_to_string(file).map_err(|e| ProbeError::NoAddress {
        file: file.display().to_string(),
        reason: e.to_string(),
    })?;
    text.trim().parse().map_err(|_| ProbeError::NoAddress {
        file: file.display().to_string(),
        reason: format!("{:?} is not an address", text.trim()),
    })
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("no admin address in {file}: {reason} (has the operator started?)")]
    NoAddress { file: String, reason: String },
    #[error("GET {url}: {reason}")]
    Request { url: String, reason: String },
    #[error("GET {url}: {status}")]
    Status { url: String, status: u16 },
}

/// Asks the admin server at `addr` for `path` (`/healthz`, `/readyz`): `Ok` on a 2xx answer
/// within `timeout`. No proxy, no redirect: the answer is this process's or none.
pub async fn check(mut addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), ProbeError> {
    // Bound on every address (`0.0.0.0`, `::`): asked on loopback.
    if addr.ip().is_unspecified() {
        let loopback = match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        addr.set_ip(loopback);
    }
    let url = format!("http://{addr}/{}", path.trim_start_matches('/'));
    let failed = |e: reqwest::Error| ProbeError::Request {
        url: url.clone(),
        reason: e.to_string(),
    };
    // (Plain HTTP, but the client is built with TLS support, which needs a provider.)
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(failed)?;
    let status = client.get(&url).send().await.map_err(failed)?.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(ProbeError::Status {
            url,
            status: status.as_u16(),
        })
    }
}

#[cfg(test)]
mod tests;
