//! Certificates, the admin token and the kubeconfig of a local control plane.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::{Error, io};

pub struct Files {
    pub ca_cert: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub sa_key: PathBuf,
    pub sa_pub: PathBuf,
    pub tokens: PathBuf,
    pub admin_token: String,
}

/// Writes a CA, a serving certificate for `localhost`/`127.0.0.1`, a service-account signing
/// key pair and a static token file with one admin in `system:masters`.
pub fn write(dir: &Path) -> Result<Files, Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "talkturo-testenv-ca");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let serving_key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let serving = params.signed_by(&serving_key, &issuer)?;
    let sa_key = KeyPair::generate()?;

    use rand::Rng;
    let admin_token: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let files = Files {
        ca_cert: dir.join("ca.crt"),
        serving_cert: dir.join("serving.crt"),
        serving_key: dir.join("serving.key"),
        sa_key: dir.join("sa.key"),
        sa_pub: dir.join("sa.pub"),
        tokens: dir.join("tokens.csv"),
        admin_token,
    };
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(io(format!("writing {}", path.display())))
    };
    write(&files.ca_cert, ca_cert.pem())?;
    write(&files.serving_cert, serving.pem())?;
    write(&files.serving_key, serving_key.serialize_pem())?;
    write(&files.sa_key, sa_key.serialize_pem())?;
    write(&files.sa_pub, sa_key.public_key_pem())?;
    write(
        &files.tokens,
        format!("{},admin,admin-uid,\"system:masters\"\n", files.admin_token),
    )?;
    Ok(files)
}

/// A kubeconfig for the admin, usable by kube-rs, kubectl and helm.
pub fn kubeconfig(server: &str, ca: &Path, token: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: talkturo-testenv
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: admin
  user:
    token: {token}
contexts:
- name: talkturo-testenv
  context:
    cluster: talkturo-testenv
    user: admin
    namespace: default
current-context: talkturo-testenv
",
        ca = ca.display()
    )
}
