//! `kubectl-talkturo` against the real API server, the operator and the simulator: the binary
//! is run as a user would run it (KUBECONFIG, arguments), and its output and side effects
//! checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::TestEnv;
use support::operator::{Fixture, start_operator};
use talkturo_sim::Op;

const T: Duration = Duration::from_secs(40);

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

/// Runs the plugin; returns (success, stdout, stderr).
fn plugin(env: &TestEnv, args: &[&str]) -> (bool, String, String) {
    let (code, out, err) = plugin_code(env, args);
    (code == 0, out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_claim_number_and_class_with_conditions_and_events() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "plugstatus", |_| {}, json!({})).await;
    f.claim(
        "line",
        json!({"countryCode": "US", "assistantId": "asst_demo_sales"}),
    )
    .await;
    let c = f
        .wait_claim("line", T, |c| {
            support::operator::claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
        })
        .await;
    let s = c.status.unwrap();
    let (ok, out, err) = tokio::task::spawn_blocking({
        let ns = f.ns.clone();
        move || plugin(env, &["status", "line", "-n", &ns])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let number = s.number.unwrap();
    let pn = s.phone_number_name.unwrap();
    for want in [
        format!("PhoneNumberClaim {}/line  Bound  {number}", f.ns),
        "assistant: wanted asst_demo_sales, assigned asst_demo_sales".to_owned(),
        "Ready=True  Active".to_owned(),
        "event Normal Bound".to_owned(),
        format!("└─ PhoneNumber {pn}  Bound"),
        "event Normal Purchased".to_owned(),
        format!("└─ PhoneNumberClass {}", f.class),
        "Ready=True  AccountReachable".to_owned(),
    ] {
        assert!(out.contains(&want), "{want:?} missing from:\n{out}");
    }

    let (ok, _, err) = plugin(env, &["status", "nope", "-n", &f.ns]);
    assert!(!ok);
    assert!(
        err.contains("PhoneNumberClaim") && err.contains("not found"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_lists_candidates_in_order_and_buys_nothing() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "plugsearch", |_| {}, json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("claim.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: telephony.talkturo.ai/v1alpha1\nkind: PhoneNumberClaim\nmetadata:\n  name: preview\nspec:\n  className: {}\n  countryCode: US\n  areaCode: \"415\"\n",
            f.class
        ),
    )
    .unwrap();
    let before = (f.sim.sim.calls(Op::Search), f.sim.sim.calls(Op::Purchase));
    let (ok, out, err) = tokio::task::spawn_blocking({
        let file = file.clone();
        move || plugin(env, &["search", file.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("Cheapest selection"), "{out}");
    assert!(out.contains("(nothing was bought)"), "{out}");
    // Candidates come cheapest first, all in 415.
    let prices: Vec<f64> = out
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|n| n.starts_with("+1415"))
        })
        .map(|l| {
            l.split_whitespace()
                .nth(2)
                .unwrap()
                .trim_start_matches('$')
                .parse()
                .unwrap()
        })
        .collect();
    assert!(prices.len() > 1, "{out}");
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    assert_eq!(
        (f.sim.sim.calls(Op::Search), f.sim.sim.calls(Op::Purchase)),
        (before.0 + 1, before.1),
        "one search, no purchase"
    );
    assert_eq!(f.sim.sim.world().purchases(), 0);
    assert!(f.class_numbers().await.is_empty(), "no object written");

    // A claim whose caps nothing meets says so.
    std::fs::write(
        &file,
        format!(
            "apiVersion: telephony.talkturo.ai/v1alpha1\nkind: PhoneNumberClaim\nmetadata:\n  name: preview\nspec:\n  className: {}\n  countryCode: US\n  maxMonthlyPrice: \"0.01\"\n",
            f.class
        ),
    )
    .unwrap();
    let (ok, out, _) = plugin(env, &["search", file.to_str().unwrap()]);
    assert!(ok);
    assert!(out.contains("no acceptable candidate: OverPrice"), "{out}");

    let (ok, _, err) = plugin(env, &["search", "/nonexistent.yaml"]);
    assert!(!ok && err.contains("/nonexistent.yaml"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_lists_account_numbers_without_a_phone_number() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "plugorphan", |_| {}, json!({})).await;
    f.claim("line", json!({"countryCode": "US"})).await;
    let c = f.wait_bound("line", T).await;
    let managed = c.status.unwrap().number.unwrap();
    let offer = f.bought_outside("GB").await;
    let (ok, out, err) = tokio::task::spawn_blocking(move || plugin(env, &["orphans"]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    let mine: Vec<&str> = out.lines().filter(|l| l.contains(&f.class)).collect();
    assert_eq!(mine.len(), 1, "{out}");
    assert!(mine[0].starts_with(&offer), "{out}");
    assert!(
        !out.contains(&managed),
        "a managed number is no orphan:\n{out}"
    );
    assert_eq!(f.sim.sim.world().purchases(), 1);
}

/// Runs the plugin with exit code; returns (code, stdout, stderr).
fn plugin_code(env: &TestEnv, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-talkturo"))
        .args(args)
        .env("KUBECONFIG", &env.kubeconfig)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of the test kubeconfig with a second context, `tenant`: the same cluster, as user
/// `user` (impersonated), with `ns` as its namespace.
fn tenant_kubeconfig(env: &TestEnv, dir: &std::path::Path, user: &str, ns: &str) -> String {
    let text = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let mut kc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let ctx = kc["contexts"][0]["context"].clone();
    let admin = kc["users"][0]["user"].clone();
    let mut tenant_user = admin;
    tenant_user["as"] = user.into();
    kc["users"]
        .as_sequence_mut()
        .unwrap()
        .push(serde_yaml::from_str(&format!("name: {user}\nuser: {{}}")).unwrap());
    let last = kc["users"].as_sequence().unwrap().len() - 1;
    kc["users"][last]["user"] = tenant_user;
    let mut tenant_ctx = ctx;
    tenant_ctx["user"] = user.into();
    tenant_ctx["namespace"] = ns.into();
    kc["contexts"]
        .as_sequence_mut()
        .unwrap()
        .push(serde_yaml::from_str("name: tenant\ncontext: {}").unwrap());
    let last = kc["contexts"].as_sequence().unwrap().len() - 1;
    kc["contexts"][last]["context"] = tenant_ctx;
    let path = dir.join("kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&kc).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A user with only `view` in their namespace (the chart's claims-view aggregated into it) sees
/// their claim in full; what `view` does not cover (the cluster-scoped PhoneNumber, Events
/// recorded outside the namespace) becomes a one-line note, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_works_for_a_user_with_only_the_aggregated_view_role() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "plugview", |_| {}, json!({})).await;
    let admin = env.client();
    support::tenants::install_tenant_roles(&admin, "plugview").await;
    support::tenants::bind_view(&admin, &f.ns, "viewer").await;
    f.claim("line", json!({"countryCode": "US"})).await;
    let c = f.wait_bound("line", T).await;
    let st = c.status.unwrap();
    let (number, pn) = (st.number.unwrap(), st.phone_number_name.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = tenant_kubeconfig(env, dir.path(), "viewer", &f.ns);

    // `--kubeconfig`, `--context` and the context's namespace: no -n needed. RBAC may take a
    // moment to apply: retry while the claim itself is refused.
    let args = [
        "--kubeconfig",
        &kubeconfig,
        "--context",
        "tenant",
        "status",
        "line",
    ];
    let started = std::time::Instant::now();
    let (code, out, err) = loop {
        let r = plugin_code(env, &args);
        if r.0 == 0 || started.elapsed() > T {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(code, 0, "{err}{out}");
    eprintln!("status as the viewer:\n{out}");
    for want in [
        format!("PhoneNumberClaim {}/line  Bound  {number}", f.ns),
        "Ready=True".to_owned(),
        "event Normal Bound".to_owned(),
        format!("└─ PhoneNumber {pn}  (not shown: "),
        "cannot get resource \"phonenumbers\"".to_owned(),
        format!("└─ PhoneNumberClass {}", f.class),
    ] {
        assert!(out.contains(&want), "{want:?} missing from:\n{out}");
    }
    // The class is readable by everyone; its Events (recorded in `default`) are not.
    assert!(out.contains("events: not shown: "), "{out}");
    assert!(!err.contains("error"), "{err}");

    as_json_and_yaml(env, &f, &kubeconfig, &number).await;
    // Another namespace's claim: the API server's refusal, one line, exit 1.
    let (code, _, err) = plugin_code(env, &["--as", "viewer", "-n", "default", "status", "line"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: ") && err.contains("forbidden") && err.lines().count() == 1,
        "{err}"
    );
    // The namespace's claims as a list: the viewer may list them.
    let (code, out, err) = plugin_code(env, &["--as", "viewer", "-n", &f.ns, "status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("line") && l.contains(&number)),
        "{out}"
    );
    // ... but not every namespace's.
    let (code, _, err) = plugin_code(env, &["--as", "viewer", "-A", "status"]);
    assert_eq!(code, 1, "{err}");
}

/// The same as JSON and as YAML: the parts say what was shown and what was forbidden.
async fn as_json_and_yaml(env: &TestEnv, f: &Fixture, kubeconfig: &str, number: &str) {
    // The same as JSON: the parts say what was shown and what was forbidden.
    let (code, out, err) = plugin_code(
        env,
        &[
            "--kubeconfig",
            kubeconfig,
            "--context",
            "tenant",
            "-o",
            "json",
            "status",
            "line",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["claim"]["status"]["number"], json!(number), "{v}");
    assert_eq!(v["claimEvents"]["state"], json!("shown"), "{v}");
    assert_eq!(v["phoneNumber"]["state"], json!("forbidden"), "{v}");
    assert_eq!(v["class"]["state"], json!("shown"), "{v}");
    assert!(v["claim"]["metadata"].get("managedFields").is_none());

    // As YAML, and with `--as` instead of a context.
    let (code, out, err) = plugin_code(
        env,
        &[
            "--as", "viewer", "-n", &f.ns, "-o", "yaml", "status", "line",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let y: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
    assert_eq!(y["claim"]["metadata"]["name"].as_str(), Some("line"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_conventions_lists_output_formats_exit_codes_and_completion() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "plugconv", |_| {}, json!({})).await;
    f.claim("one", json!({"countryCode": "US"})).await;
    f.wait_bound("one", T).await;
    // -A lists every namespace's claims, with a NAMESPACE column.
    let (code, out, err) = plugin_code(env, &["status", "-A"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("NAMESPACE"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&f.ns) && l.contains(" one ")),
        "{out}"
    );
    let (code, out, _) = plugin_code(env, &["-n", &f.ns, "status", "-o", "json"]);
    assert_eq!(code, 0);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["metadata"]["name"], json!("one"));
    // Usage errors exit 2 (clap), like kubectl's.
    let (code, _, err) = plugin_code(env, &["status", "--bogus"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = plugin_code(env, &["-o", "xml", "status"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = plugin_code(env, &["-A", "status", "one"]);
    assert_eq!(code, 1, "{err}");
    // A wrong context is named.
    let (code, _, err) = plugin_code(env, &["--context", "nope", "status", "one"]);
    assert_eq!(code, 1);
    assert!(err.contains("nope"), "{err}");
    // Completion scripts.
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = plugin_code(env, &["completion", shell]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("kubectl-talkturo") && out.contains("status"),
            "{shell}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_crds_the_operator_lease_and_classes_and_waits() {
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::api::{Api, Patch, PatchParams, PostParams};
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "plugcheck", |_| {}, json!({})).await;
    let base = [
        "check",
        "--operator-namespace",
        &f.ns,
        "--lease-name",
        "op",
        "--class",
        &f.class,
    ];
    // No Lease yet: the operator check fails, and `--wait` waits and fails too.
    let args: Vec<&str> = base.iter().copied().chain(["--wait", "3s"]).collect();
    let started = std::time::Instant::now();
    let (code, out, _) = plugin_code(env, &args);
    assert_eq!(code, 1, "{out}");
    assert!(started.elapsed() >= Duration::from_secs(3), "waited");
    assert!(out.contains("ok   crds"), "{out}");
    assert!(
        out.contains("FAIL operator") && out.contains("no Lease"),
        "{out}"
    );
    assert!(out.contains("not ready after"), "{out}");

    // A leader renews the Lease (as the operator's lease manager does): all pass.
    let leases: Api<Lease> = Api::namespaced(f.client.clone(), &f.ns);
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(jiff::Timestamp::now());
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "op"},
        "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15, "renewTime": now},
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
    let args: Vec<&str> = base.iter().copied().chain(["--wait", "60s"]).collect();
    let (code, out, err) = plugin_code(env, &args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok   operator  pod-a leads"), "{out}");
    assert!(out.contains("ok   classes   1 Ready"), "{out}");
    let args: Vec<&str> = base.iter().copied().chain(["-o", "json"]).collect();
    let (code, out, _) = plugin_code(env, &args);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], json!(true), "{v}");

    // The holder stopped renewing: expired.
    let old = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60),
    );
    leases
        .patch(
            "op",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"renewTime": old}})),
        )
        .await
        .unwrap();
    let (code, out, _) = plugin_code(env, &base);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("expired"), "{out}");
    // A class that does not exist is named.
    let (code, out, _) = plugin_code(
        env,
        &[
            "check",
            "--operator-namespace",
            &f.ns,
            "--lease-name",
            "op",
            "--class",
            "nope",
        ],
    );
    assert_eq!(code, 1);
    assert!(out.contains("no PhoneNumberClass nope"), "{out}");
}
