//! The runtime half of the bad-input table (the schema half is `tests/support/cases.rs`, run by
//! `tests/apiserver.rs` and `tests/schema.rs`): each case sets up one kind of bad input against the
//! real API server, the in-process operator and a simulator (or a deliberately broken server),
//! and expects a specific condition reason and Event — and nothing bought or released.
//!
//! The cases run concurrently; the test prints the table of outcomes (RELIABILITY.md quotes it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::{get, post};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::{Value, json};
use support::TestEnv;
use support::operator::{Fixture, claim_condition, condition, start_operator};
use talkturo_sim::{FaultAction, FaultRule, Op};

const T: Duration = Duration::from_secs(45);

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

/// What a broken server does.
#[derive(Clone, Copy)]
enum Broken {
    /// Speaks something other than HTTP.
    NotHttp,
    /// Answers the list with a 40 MiB body.
    Huge,
    /// Sends the headers, then the body a byte every half second.
    Slow,
    /// Lists nothing; search offers numbers whose prices make no sense.
    OddPrices,
}

/// A broken Talkturo on loopback; counts purchase calls. Returns its base URL.
async fn broken(kind: Broken, purchases: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    if let Broken::NotHttp = kind {
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                use tokio::io::AsyncWriteExt;
                let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
            }
        });
        return url;
    }
    let list = move || async move {
        match kind {
            Broken::Huge => {
                let chunk = vec![b' '; 1 << 20];
                let stream = futures::stream::iter(
                    (0..40).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
                );
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from_stream(stream))
                    .unwrap()
            }
            Broken::Slow => {
                let stream = futures::stream::unfold(0u32, |i| async move {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    (i < 120).then(|| (Ok::<_, std::io::Error>(b" ".to_vec()), i + 1))
                });
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from_stream(stream))
                    .unwrap()
            }
            _ => Response::new(Body::from(r#"{"success":true,"numbers":[],"count":0}"#)),
        }
    };
    let search = || async {
        Response::new(Body::from(
            json!({"success": true, "count": 4, "numbers": [
                {"phoneNumber": "+14155550101", "monthlyPrice": "abc", "setupPrice": "0", "features": ["voice"]},
                {"phoneNumber": "+14155550102", "monthlyPrice": "1,50", "setupPrice": "0", "features": ["voice"]},
                {"phoneNumber": "+14155550103", "monthlyPrice": null, "setupPrice": null, "features": ["voice"]},
                {"phoneNumber": "+14155550104", "monthlyPrice": "-1", "setupPrice": "NaN", "features": ["voice"]},
            ]})
            .to_string(),
        ))
    };
    let app = Router::new()
        .route("/api/phone-numbers/purchase", get(list))
        .route(
            "/api/phone-numbers/purchase",
            post(move || {
                purchases.fetch_add(1, Ordering::SeqCst);
                async { Response::new(Body::from("{}")) }
            }),
        )
        .route("/api/phone-numbers/search", post(search));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// Where the reason must show.
enum On {
    Class,
    Claim,
}

struct Expect {
    on: On,
    condition: &'static str,
    reason: &'static str,
    /// Purchases the case may make (only the unknown-assistant case buys its one number).
    purchases: u64,
}

fn class(reason: &'static str) -> Expect {
    Expect {
        on: On::Class,
        condition: "Ready",
        reason,
        purchases: 0,
    }
}

fn claim(reason: &'static str) -> Expect {
    Expect {
        on: On::Claim,
        condition: "Ready",
        reason,
        purchases: 0,
    }
}

type Setup = Box<dyn FnOnce(&'static TestEnv) -> Pin<Box<dyn Future<Output = Case> + Send>> + Send>;

/// A case once set up: its fixture and the broken server's purchase counter, if any.
struct Case {
    f: Fixture,
    broken_purchases: Option<Arc<AtomicUsize>>,
}

fn fixture_case(
    prefix: &'static str,
    sim: impl FnOnce(&mut talkturo_sim::SimConfig) + Send + 'static,
    class_spec: Value,
    claim_spec: Value,
) -> Setup {
    Box::new(move |env| {
        Box::pin(async move {
            let f = Fixture::new(env, prefix, sim, class_spec).await;
            f.claim("line", claim_spec).await;
            Case {
                f,
                broken_purchases: None,
            }
        })
    })
}

fn broken_case(prefix: &'static str, kind: Broken, claim_spec: Value) -> Setup {
    Box::new(move |env| {
        Box::pin(async move {
            let purchases = Arc::new(AtomicUsize::new(0));
            let url = broken(kind, purchases.clone()).await;
            let f = Fixture::new(env, prefix, |_| {}, json!({"apiBaseUrl": url})).await;
            f.claim("line", claim_spec).await;
            Case {
                f,
                broken_purchases: Some(purchases),
            }
        })
    })
}

fn us() -> Value {
    json!({"countryCode": "US"})
}

fn table() -> Vec<(&'static str, Setup, Expect)> {
    let mut all = class_cases();
    all.extend(claim_cases());
    all
}

/// Bad input the class reports.
fn class_cases() -> Vec<(&'static str, Setup, Expect)> {
    let mut all = vec![
        (
            "claim names a class that does not exist",
            fixture_case(
                "b-noclass",
                |_| {},
                json!({}),
                json!({"countryCode": "US", "className": "nope"}),
            ),
            claim("ClassNotFound"),
        ),
        (
            "API key Secret missing",
            fixture_case(
                "b-nosecret",
                |_| {},
                json!({"apiKeySecretRef": {"namespace": "default", "name": "absent", "key": "apiKey"}}),
                us(),
            ),
            class("SecretNotFound"),
        ),
        (
            "key absent from the Secret",
            secret_case("b-nokey", json!({"other": "x"})),
            class("SecretKeyMissing"),
        ),
        (
            "key empty in the Secret",
            secret_case("b-emptykey", json!({"apiKey": "  "})),
            class("SecretKeyMissing"),
        ),
        (
            "API key Secret not labelled telephony.talkturo.ai/api-key",
            unmarked_case("b-unmarked"),
            class("SecretNotMarked"),
        ),
        (
            "wrong API token",
            secret_case("b-token", json!({"apiKey": "tk_wrong"})),
            class("Unauthorized"),
        ),
        (
            "claims wait while the class is not ready",
            secret_case("b-waits", json!({"apiKey": "tk_wrong"})),
            claim("ClassNotReady"),
        ),
    ];
    all.extend(more_class_cases());
    all
}

/// More bad input the class reports.
fn more_class_cases() -> Vec<(&'static str, Setup, Expect)> {
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    vec![
        (
            "team id not in the account",
            fixture_case("b-team", |_| {}, json!({"teamId": "team_other"}), us()),
            class("Forbidden"),
        ),
        (
            "base URL unreachable",
            fixture_case(
                "b-unreach",
                |_| {},
                json!({"apiBaseUrl": format!("http://127.0.0.1:{closed_port}")}),
                us(),
            ),
            class("Unreachable"),
        ),
        (
            "base URL is not HTTP",
            broken_case("b-nothttp", Broken::NotHttp, us()),
            class("Unreachable"),
        ),
        (
            "malformed JSON from the list",
            fixture_case("b-malformed", |_| {}, json!({}), us()),
            class("InvalidResponse"),
        ),
        (
            "a 40 MiB body",
            broken_case("b-huge", Broken::Huge, us()),
            class("InvalidResponse"),
        ),
        (
            "a body slower than the timeout",
            broken_case("b-slow", Broken::Slow, us()),
            class("Unreachable"),
        ),
    ]
}

/// Bad input the claim reports.
fn claim_cases() -> Vec<(&'static str, Setup, Expect)> {
    let mut all = vec![
        (
            "prices in odd formats (abc, 1,50, null, -1)",
            broken_case(
                "b-prices",
                Broken::OddPrices,
                json!({"countryCode": "US", "maxMonthlyPrice": "5.00"}),
            ),
            claim("OverPrice"),
        ),
        (
            "an assistant that does not exist",
            fixture_case(
                "b-assistant",
                |_| {},
                json!({}),
                json!({"countryCode": "US", "assistantId": "asst_nobody"}),
            ),
            Expect {
                on: On::Claim,
                condition: "Assigned",
                reason: "AssistantNotFound",
                purchases: 1,
            },
        ),
        (
            "an exact number the carrier does not offer",
            fixture_case(
                "b-exact",
                |_| {},
                json!({}),
                json!({"number": "+14150000000"}),
            ),
            claim("NoCandidates"),
        ),
        (
            "a capability no number has (fax)",
            fixture_case(
                "b-fax",
                |_| {},
                json!({}),
                json!({"countryCode": "US", "features": ["voice", "fax"]}),
            ),
            claim("NoCandidates"),
        ),
    ];
    all.extend(more_claim_cases());
    all
}

/// More bad input the claim reports.
fn more_claim_cases() -> Vec<(&'static str, Setup, Expect)> {
    vec![
        (
            "price caps nothing meets",
            fixture_case(
                "b-cap",
                |_| {},
                json!({}),
                json!({"countryCode": "US", "maxMonthlyPrice": "0.01"}),
            ),
            claim("OverPrice"),
        ),
        (
            "a monthly budget of zero",
            fixture_case("b-budget", |_| {}, json!({"monthlyBudget": "0"}), us()),
            claim("BudgetExceeded"),
        ),
        (
            "static binding to a PhoneNumber that does not exist",
            fixture_case(
                "b-static",
                |_| {},
                json!({}),
                json!({"phoneNumberName": "tel-14155550199"}),
            ),
            claim("PhoneNumberNotFound"),
        ),
        (
            "a plan allowing no numbers",
            fixture_case(
                "b-plan",
                |c| c.accounts[0].teams[0].max_numbers = 0,
                json!({}),
                us(),
            ),
            claim("PlanLimitReached"),
        ),
    ]
}

/// A fixture whose Secret holds `data` (as stringData) instead of the right key.
fn secret_case(prefix: &'static str, data: Value) -> Setup {
    changed_secret_case(prefix, move |s| {
        // Replace the whole data map (a JSON merge patch would keep the good key).
        s.data = None;
        s.string_data = Some(serde_json::from_value(data).unwrap());
    })
}

/// A fixture whose Secret lost its `telephony.talkturo.ai/api-key` label.
fn unmarked_case(prefix: &'static str) -> Setup {
    changed_secret_case(prefix, |s| s.metadata.labels = None)
}

/// A fixture whose Secret is changed by `change`.
fn changed_secret_case(
    prefix: &'static str,
    change: impl FnOnce(&mut Secret) + Send + 'static,
) -> Setup {
    Box::new(move |env| {
        Box::pin(async move {
            let f = Fixture::new(env, prefix, |_| {}, json!({})).await;
            let secrets: Api<Secret> = Api::namespaced(f.client.clone(), &f.ns);
            let mut s = secrets.get("talkturo").await.unwrap();
            change(&mut s);
            secrets
                .replace("talkturo", &Default::default(), &s)
                .await
                .unwrap();
            f.claim("line", us()).await;
            Case {
                f,
                broken_purchases: None,
            }
        })
    })
}

/// Waits until the expected condition is False with the expected reason; its message.
async fn wait_condition(f: &Fixture, expect: &Expect, name: &str) -> Result<String, String> {
    let started = std::time::Instant::now();
    loop {
        let found = match expect.on {
            On::Class => {
                let c = f.classes().get(&f.class).await.unwrap();
                c.status.and_then(|s| {
                    condition(&s.conditions, expect.condition)
                        .map(|(st, r, m)| (st.to_owned(), r.to_owned(), m.to_owned()))
                })
            }
            On::Claim => {
                let c = f.claims().get("line").await.unwrap();
                claim_condition(&c, expect.condition)
                    .map(|(st, r, m)| (st.to_owned(), r.to_owned(), m.to_owned()))
            }
        };
        match found {
            Some((st, r, m)) if st == "False" && r == expect.reason => return Ok(m),
            other if started.elapsed() > T => {
                return Err(format!(
                    "{name}: expected {} {}, last saw {other:?}",
                    expect.condition, expect.reason
                ));
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Waits for the Event of the expected reason.
async fn wait_event(f: &Fixture, expect: &Expect, name: &str) -> Result<(), String> {
    // The Event is on the object itself, or (for what the PhoneNumber controller decides, e.g.
    // an assignment) on the claim's PhoneNumber; it may trail the status write by a moment.
    let mut regarding = match expect.on {
        On::Class => vec![("PhoneNumberClass", f.class.clone())],
        On::Claim => vec![("PhoneNumberClaim", "line".to_owned())],
    };
    if let On::Claim = expect.on
        && let Some(pn) = f
            .claims()
            .get("line")
            .await
            .unwrap()
            .status
            .and_then(|s| s.phone_number_name)
    {
        regarding.push(("PhoneNumber", pn));
    }
    let mut evented = false;
    'poll: for _ in 0..50 {
        for (kind, obj) in &regarding {
            if f.event_reasons(kind, obj)
                .await
                .iter()
                .any(|r| r == expect.reason)
            {
                evented = true;
                break 'poll;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !evented {
        return Err(format!(
            "{name}: no {} Event on {regarding:?}",
            expect.reason
        ));
    }
    Ok(())
}

async fn run(
    name: &str,
    setup: Setup,
    expect: Expect,
    env: &'static TestEnv,
) -> Result<String, String> {
    let case = setup(env).await;
    eprintln!("bad input: {name}: set up");
    let f = &case.f;
    if name.starts_with("malformed") {
        f.sim
            .sim
            .set_faults(vec![FaultRule::on(Op::List, FaultAction::Malformed, None)]);
    }
    let message = wait_condition(f, &expect, name).await?;
    wait_event(f, &expect, name).await?;
    let (purchases, releases) = {
        let w = f.sim.sim.world();
        (w.purchases(), w.releases())
    };
    let broken = case
        .broken_purchases
        .as_ref()
        .map_or(0, |p| p.load(Ordering::SeqCst));
    if purchases != expect.purchases || releases != 0 || broken != 0 {
        return Err(format!(
            "{name}: bought {purchases} (expected {}), released {releases}, broken-server purchases {broken}",
            expect.purchases
        ));
    }
    Ok(format!(
        "| {name} | {} `{}` | {message} |",
        expect.condition, expect.reason
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_reason_and_an_event_and_nothing_is_bought() {
    let Some(env) = env() else { return };
    let cases = table();
    assert!(cases.len() >= 20);
    let results = futures::future::join_all(cases.into_iter().map(|(name, setup, expect)| {
        tokio::spawn(async move {
            let r = tokio::time::timeout(T * 2, run(name, setup, expect, env))
                .await
                .unwrap_or_else(|_| Err(format!("{name}: hung")));
            eprintln!("bad input: {name}: {r:?}");
            r
        })
    }))
    .await;
    let mut failures = Vec::new();
    println!("| bad input | outcome | message |\n|---|---|---|");
    for r in results {
        match r.unwrap() {
            Ok(row) => println!("{row}"),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
