#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::routing::get;

use super::*;

/// An admin-like server on a free loopback port: `/ok` 200, `/no` 503, `/moved` a redirect to `/ok`.
async fn server() -> SocketAddr {
    let app = axum::Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/no",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "not ready") }),
        )
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/ok")]) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[test]
fn the_address_written_is_the_one_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-addr");
    let addr: SocketAddr = "127.0.0.1:41234".parse().unwrap();
    write_address(&file, addr).unwrap();
    assert_eq!(read_address(&file).unwrap(), addr);
    // Rewritten (a restarted process binds another port): the new one.
    let again: SocketAddr = "[::1]:8080".parse().unwrap();
    write_address(&file, again).unwrap();
    assert_eq!(read_address(&file).unwrap(), again);
}

#[test]
fn a_missing_or_garbled_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-addr");
    let e = read_address(&file).unwrap_err().to_string();
    assert!(
        e.contains("admin-addr") && e.contains("has the operator started"),
        "{e}"
    );
    std::fs::write(&file, "not an address").unwrap();
    let e = read_address(&file).unwrap_err().to_string();
    assert!(e.contains("\"not an address\" is not an address"), "{e}");
}

#[tokio::test]
async fn only_a_success_passes_and_redirects_are_not_followed() {
    let addr = server().await;
    let t = Duration::from_secs(2);
    check(addr, "/ok", t).await.unwrap();
    check(addr, "ok", t).await.unwrap();
    // An address bound on every interface is asked on loopback.
    let any = SocketAddr::new([0, 0, 0, 0].into(), addr.port());
    check(any, "/ok", t).await.unwrap();
    let e = check(addr, "/no", t).await.unwrap_err();
    assert!(matches!(e, ProbeError::Status { status: 503, .. }), "{e}");
    let e = check(addr, "/moved", t).await.unwrap_err();
    assert!(matches!(e, ProbeError::Status { status: 302, .. }), "{e}");
}

#[tokio::test]
async fn nothing_listening_fails() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = check(addr, "/healthz", Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(e, ProbeError::Request { .. }), "{e}");
}
