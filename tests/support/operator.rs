//! Running the operator against the test control plane, and fixtures for its tests: a
//! simulator, an API-key Secret and a class of the test's own, claims, and waiting on
//! conditions (never on sleeps).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use talkturo_operator::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};
use talkturo_operator::controller::run::LeaderElection;
use talkturo_operator::controller::{self, Config, RunOptions};
use talkturo_sim::{SimConfig, SimServer};

use super::TestEnv;

/// Controller timings short enough for tests.
pub fn test_config() -> Config {
    Config {
        fast_sync: Duration::from_millis(500),
        purchase_grace: Duration::from_millis(500),
        retry_base: Duration::from_secs(1),
        retry_max: Duration::from_secs(5),
        talkturo_timeout: Duration::from_secs(2),
        ..Config::default()
    }
}

/// Starts the operator once for this test binary, in-process, on a runtime of its own.
pub fn start_operator(env: &'static TestEnv) {
    static STARTED: OnceLock<tokio::sync::oneshot::Sender<()>> = OnceLock::new();
    STARTED.get_or_init(|| run_in_process(env.config(), None));
}

/// Runs the operator in-process with `config` (e.g. impersonating a ServiceAccount), on a
/// runtime of its own, until the returned sender is dropped.
pub fn run_in_process(
    config: kube::Config,
    leader_election: Option<LeaderElection>,
) -> tokio::sync::oneshot::Sender<()> {
    run_in_process_with(config, leader_election, test_config())
}

/// [`run_in_process`] with the controllers' configuration `operator`.
pub fn run_in_process_with(
    config: kube::Config,
    leader_election: Option<LeaderElection>,
    operator: Config,
) -> tokio::sync::oneshot::Sender<()> {
    run_in_process_opts(
        config,
        RunOptions {
            config: operator,
            admin_addr: None,
            admin_addr_file: None,
            leader_election,
            reporter: "talkturo-operator".into(),
            sharding: None,
        },
    )
}

/// The operator in-process with `opts`, on a runtime of its own, until the returned sender is
/// dropped.
pub fn run_in_process_opts(
    config: kube::Config,
    opts: RunOptions,
) -> tokio::sync::oneshot::Sender<()> {
    // The operator's logs, e.g. TEST_LOG=talkturo_operator=debug (off unless asked for).
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let client = kube::Client::try_from(config).unwrap();
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = controller::run(client, opts, shutdown).await {
                eprintln!("operator stopped: {e}");
            }
        });
    });
    stop
}

/// A test's own world: a namespace, a simulator, and a class pointing at it.
pub struct Fixture {
    pub client: kube::Client,
    pub ns: String,
    pub sim: SimServer,
    pub class: String,
    /// For the clean-up in `drop`, which must not use `client`: its connection task runs on the
    /// test's runtime, whose threads may all be blocked in drops at that moment.
    config: kube::Config,
}

impl Fixture {
    /// A fixture with the simulator configured by `sim` and the class spec patched by
    /// `class_spec` (merged over a default spec with `syncInterval: 5s`).
    pub async fn new(
        env: &TestEnv,
        prefix: &str,
        sim: impl FnOnce(&mut SimConfig),
        class_spec: Value,
    ) -> Self {
        let (client, ns) = env.namespace(prefix).await;
        // Numbers are cluster-wide objects (tel-<digits>): give every test its own inventory.
        let seed = ns
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        let mut c = SimConfig {
            activation_delay_ms: 200,
            seed,
            ..SimConfig::default()
        };
        sim(&mut c);
        let sim = SimServer::start(c).await.unwrap();
        let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "talkturo", "namespace": ns, "labels": {"telephony.talkturo.ai/api-key": "true"}}, "stringData": {"apiKey": "tk_demo_token"}})).unwrap();
        Api::<Secret>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
        let class = format!("c-{ns}");
        let mut spec = json!({
            "apiBaseUrl": sim.base_url(), "teamId": "team_demo", "accountSlug": "demo",
            "apiKeySecretRef": {"namespace": ns, "name": "talkturo", "key": "apiKey"},
            "syncInterval": "5s",
        });
        if let (Some(s), Value::Object(p)) = (spec.as_object_mut(), class_spec) {
            s.extend(p);
        }
        let obj: PhoneNumberClass =
            serde_json::from_value(json!({"metadata": {"name": class}, "spec": spec})).unwrap();
        Api::<PhoneNumberClass>::all(client.clone())
            .create(&PostParams::default(), &obj)
            .await
            .unwrap();
        Self {
            client,
            ns,
            sim,
            class,
            config: env.config(),
        }
    }

    /// A Talkturo client of this fixture's simulator, as the operator's account sees it.
    pub fn talkturo(&self) -> talkturo_operator::talkturo::Client {
        talkturo_operator::talkturo::Client::new(talkturo_operator::talkturo::ClientConfig::new(
            self.sim.base_url(),
            secrecy::SecretString::from("tk_demo_token"),
        ))
        .unwrap()
    }

    /// The number ids an assistant holds at the simulator.
    pub async fn held(&self, assistant: &str) -> Vec<String> {
        self.talkturo()
            .assistant_numbers(assistant)
            .await
            .unwrap()
            .into_iter()
            // The GET lists unassigned active numbers too; the assistant holds those with its id.
            .filter(|r| r.assistant_id.as_deref() == Some(assistant))
            .map(|r| r.id)
            .collect()
    }

    /// The first number Talkturo offers in `country`.
    pub async fn first_offer(&self, country: &str) -> String {
        self.talkturo()
            .search(&talkturo_operator::talkturo::SearchFilters {
                country_code: country.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .numbers
            .remove(0)
            .phone_number
    }

    /// Creates an admin's PhoneNumber for `number` in the fixture's class (managed, no claim);
    /// returns its name.
    pub async fn create_number(&self, number: &str) -> String {
        let name = talkturo_operator::api::v1alpha1::phone_number_name(number);
        let pn: PhoneNumber = serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"number": number, "className": self.class}}),
        )
        .unwrap();
        self.numbers()
            .create(&PostParams::default(), &pn)
            .await
            .unwrap();
        name
    }

    /// The first offer in `country`, bought outside the operator (as in the dashboard).
    pub async fn bought_outside(&self, country: &str) -> String {
        let number = self.first_offer(country).await;
        self.sim
            .sim
            .world()
            .import("team_demo", &number, None, jiff::Timestamp::now())
            .unwrap();
        number
    }

    /// Waits until the claim is `Bound`.
    pub async fn wait_bound(&self, name: &str, timeout: Duration) -> PhoneNumberClaim {
        self.wait_claim(name, timeout, |c| {
            c.status.as_ref().is_some_and(|s| {
                s.phase == Some(talkturo_operator::api::v1alpha1::ClaimPhase::Bound)
            })
        })
        .await
    }

    pub fn claims(&self) -> Api<PhoneNumberClaim> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn numbers(&self) -> Api<PhoneNumber> {
        Api::all(self.client.clone())
    }

    pub fn classes(&self) -> Api<PhoneNumberClass> {
        Api::all(self.client.clone())
    }

    /// Creates a claim of this fixture's class with `spec` (className added unless given).
    pub async fn claim(&self, name: &str, mut spec: Value) -> PhoneNumberClaim {
        if spec.get("className").is_none() {
            spec["className"] = json!(self.class);
        }
        let obj: PhoneNumberClaim =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
        self.claims()
            .create(&PostParams::default(), &obj)
            .await
            .unwrap()
    }

    /// Waits until the claim satisfies `pred`; panics with its last state after `timeout`.
    pub async fn wait_claim(
        &self,
        name: &str,
        timeout: Duration,
        pred: impl Fn(&PhoneNumberClaim) -> bool,
    ) -> PhoneNumberClaim {
        wait(&self.claims(), name, timeout, pred).await
    }

    pub async fn wait_number(
        &self,
        name: &str,
        timeout: Duration,
        pred: impl Fn(&PhoneNumber) -> bool,
    ) -> PhoneNumber {
        wait(&self.numbers(), name, timeout, pred).await
    }

    /// Waits until the PhoneNumber `name` no longer exists.
    pub async fn wait_number_gone(&self, name: &str, timeout: Duration) {
        let started = Instant::now();
        while self.numbers().get_opt(name).await.unwrap().is_some() {
            assert!(
                started.elapsed() < timeout,
                "PhoneNumber {name} still exists after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_class(
        &self,
        timeout: Duration,
        pred: impl Fn(&PhoneNumberClass) -> bool,
    ) -> PhoneNumberClass {
        wait(&self.classes(), &self.class, timeout, pred).await
    }

    /// PhoneNumbers of this fixture's class.
    pub async fn class_numbers(&self) -> Vec<PhoneNumber> {
        let lp =
            ListParams::default().labels(&format!("telephony.talkturo.ai/class={}", self.class));
        self.numbers().list(&lp).await.unwrap().items
    }

    /// Reasons of the Events about an object (any namespace), newest last.
    pub async fn event_reasons(&self, kind: &str, name: &str) -> Vec<String> {
        self.events(kind, name)
            .await
            .into_iter()
            .map(|(_, reason, _)| reason)
            .collect()
    }

    /// The Events about an object (cluster-scoped, or in this fixture's namespace) as (type,
    /// reason, note), newest last.
    pub async fn events(&self, kind: &str, name: &str) -> Vec<(String, String, String)> {
        let api: Api<k8s_openapi::api::events::v1::Event> = Api::all(self.client.clone());
        let mut evs: Vec<_> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().is_some_and(|r| {
                    r.kind.as_deref() == Some(kind)
                        && r.name.as_deref() == Some(name)
                        && r.namespace.as_ref().is_none_or(|ns| *ns == self.ns)
                })
            })
            .collect();
        evs.sort_by_key(|e| e.metadata.creation_timestamp.clone().map(|t| t.0));
        evs.into_iter()
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Sets (or, with `None`, clears) a claim's `assistantId`.
    pub async fn set_assistant(&self, claim: &str, assistant: Option<&str>) {
        self.claims()
            .patch(
                claim,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"assistantId": assistant}})),
            )
            .await
            .unwrap();
    }

    /// The class's `monthlyCost` once it counts `numbers` owned numbers.
    pub async fn monthly_cost(&self, numbers: i32) -> String {
        let class = self
            .wait_class(Duration::from_secs(60), |c| {
                c.status
                    .as_ref()
                    .and_then(|s| s.totals.as_ref())
                    .is_some_and(|t| t.numbers == numbers)
            })
            .await;
        class
            .status
            .and_then(|s| s.totals)
            .map(|t| t.monthly_cost)
            .unwrap_or_default()
    }

    /// Patches the class spec.
    pub async fn patch_class(&self, spec: Value) {
        self.classes()
            .patch(
                &self.class,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": spec})),
            )
            .await
            .unwrap();
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Classes are cluster-scoped: remove this test's so the shared operator stops syncing it.
        let (config, class) = (self.config.clone(), self.class.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let Ok(client) = kube::Client::try_from(config) else {
                    return;
                };
                let _ = Api::<PhoneNumberClass>::all(client)
                    .delete(&class, &Default::default())
                    .await;
            });
        })
        .join();
    }
}

/// Polls `name` until `pred` holds.
pub async fn wait<K>(api: &Api<K>, name: &str, timeout: Duration, pred: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < timeout {
        if let Ok(Some(obj)) = api.get_opt(name).await {
            if pred(&obj) {
                return obj;
            }
            last = Some(obj);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} did not reach the expected state within {timeout:?}; last seen:\n{last:#?}");
}

/// The status, reason and message of a condition.
pub fn condition<'a>(
    conds: &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> Option<(&'a str, &'a str, &'a str)> {
    conds
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.as_str(), c.reason.as_str(), c.message.as_str()))
}

/// A claim's condition.
pub fn claim_condition<'a>(
    c: &'a PhoneNumberClaim,
    type_: &str,
) -> Option<(&'a str, &'a str, &'a str)> {
    condition(c.status.as_ref().map_or(&[][..], |s| &s.conditions), type_)
}

/// A claim `Ready` with its number on `assistant` (observed, with `Assigned` True), or on none
/// (no `Assigned` condition) when `None`.
pub fn assigned_to(assistant: Option<&'static str>) -> impl Fn(&PhoneNumberClaim) -> bool {
    move |c| {
        let ready = claim_condition(c, "Ready").is_some_and(|r| r.0 == "True");
        let observed = c.status.as_ref().and_then(|s| s.assistant_id.as_deref()) == assistant;
        let condition = match assistant {
            Some(_) => claim_condition(c, "Assigned").is_some_and(|r| r.0 == "True"),
            None => claim_condition(c, "Assigned").is_none(),
        };
        ready && observed && condition
    }
}
