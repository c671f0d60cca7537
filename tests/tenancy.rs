//! Tenants are untrusted: through a claim, an app team gets a number and, if it asks, a ConfigMap
//! the operator creates for it — never write access to objects it could not write itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ResourceQuota};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::TestEnv;
use support::operator::{Fixture, claim_condition, start_operator};
use support::tenants::{client_as, install_tenant_roles};
use talkturo_operator::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

const T: Duration = Duration::from_secs(60);

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

fn config_map_says(reason: &'static str) -> impl Fn(&PhoneNumberClaim) -> bool {
    move |c| claim_condition(c, "ConfigMap").is_some_and(|r| r.1 == reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_never_takes_over_a_config_map_it_did_not_create() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "cm-takeover", |_| {}, json!({})).await;
    let api: Api<ConfigMap> = Api::namespaced(f.client.clone(), &f.ns);
    // An app's own ConfigMap, and one a Helm release (another controller) owns.
    let app: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "app-config", "labels": {"app": "web"}},
        "data": {"DATABASE_URL": "postgres://db"}
    }))
    .unwrap();
    let app = api.create(&PostParams::default(), &app).await.unwrap();
    let owned: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "helm-owned", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
            "name": "web", "uid": "0b5c9e0e-0000-4000-8000-000000000001", "controller": true}]},
        "data": {"K": "v"}
    }))
    .unwrap();
    let owned = api.create(&PostParams::default(), &owned).await.unwrap();

    f.claim(
        "a",
        json!({"countryCode": "US", "configMapName": "app-config"}),
    )
    .await;
    f.claim(
        "h",
        json!({"countryCode": "US", "configMapName": "helm-owned"}),
    )
    .await;
    let a = f
        .wait_claim("a", T, config_map_says("ConfigMapConflict"))
        .await;
    let message = claim_condition(&a, "ConfigMap").unwrap().2.to_owned();
    assert!(message.contains("not created by the operator"), "{message}");
    assert_eq!(
        a.status.as_ref().unwrap().phase,
        Some(talkturo_operator::api::v1alpha1::ClaimPhase::Bound),
        "the number is bound all the same"
    );
    f.wait_claim("h", T, config_map_says("ConfigMapConflict"))
        .await;
    assert_eq!(
        f.event_reasons("PhoneNumberClaim", "a")
            .await
            .iter()
            .filter(|r| *r == "ConfigMapConflict")
            .count(),
        1,
        "one Warning"
    );

    // Left untouched, and no loop of attempts once the claims are settled.
    for c in ["a", "h"] {
        f.wait_claim(c, T, |c| {
            claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
        })
        .await;
    }
    let versions = (
        f.claims().get("a").await.unwrap().metadata.resource_version,
        f.claims().get("h").await.unwrap().metadata.resource_version,
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    unwritten(&api, &[&app, &owned]).await;
    assert_eq!(
        (
            f.claims().get("a").await.unwrap().metadata.resource_version,
            f.claims().get("h").await.unwrap().metadata.resource_version,
        ),
        versions,
        "no status rewrites"
    );

    deleting_claims_leaves_the_config_maps(&f, &api, &[&app, &owned]).await;
}

/// Deleting the claims leaves the ConfigMaps they named as they were.
async fn deleting_claims_leaves_the_config_maps(
    f: &Fixture,
    api: &Api<ConfigMap>,
    untouched: &[&ConfigMap],
) {
    // Deleting the claims leaves the ConfigMaps they named as they were.
    for c in ["a", "h"] {
        f.claims().delete(c, &Default::default()).await.unwrap();
    }
    let started = std::time::Instant::now();
    while !f
        .claims()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty()
    {
        assert!(started.elapsed() < T, "the claims were not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    unwritten(api, untouched).await;
}

/// Asserts that no one wrote to these ConfigMaps since they were read (same resourceVersion).
async fn unwritten(api: &Api<ConfigMap>, before: &[&ConfigMap]) {
    for b in before {
        let now = api.get(b.metadata.name.as_deref().unwrap()).await.unwrap();
        assert_eq!(now.metadata.resource_version, b.metadata.resource_version);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_claims_naming_one_config_map_do_not_overwrite_each_other() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "cm-shared", |_| {}, json!({})).await;
    let api: Api<ConfigMap> = Api::namespaced(f.client.clone(), &f.ns);
    f.claim(
        "first",
        json!({"countryCode": "US", "configMapName": "phone"}),
    )
    .await;
    let first = f
        .wait_claim("first", T, config_map_says("ConfigMapWritten"))
        .await;
    let number = first.status.unwrap().number.unwrap();
    f.claim(
        "second",
        json!({"countryCode": "US", "configMapName": "phone"}),
    )
    .await;
    let second = f
        .wait_claim("second", T, config_map_says("ConfigMapConflict"))
        .await;
    let message = claim_condition(&second, "ConfigMap").unwrap().2.to_owned();
    assert!(
        message.contains("holds the number of claim first"),
        "{message}"
    );
    let cm = api.get("phone").await.unwrap();
    assert_eq!(cm.data.unwrap()["PHONE_NUMBER"], number);
    let owners = cm.metadata.owner_references.unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].name, "first");
    assert_eq!(second.status.unwrap().config_map_name, None);
}

/// Binds `user` in `ns` to the chart's `claims-edit` role (what `edit` aggregates).
async fn bind_tenant(client: &kube::Client, ns: &str, user: &str, release: &str) {
    let role = format!("{release}-talkturo-operator-claims-edit");
    support::tenants::bind(client, ns, user, &role).await;
}

/// A tenant's claim, created with the tenant's own rights (retried while RBAC settles).
async fn tenant_claim(tenant: &kube::Client, ns: &str, name: &str, spec: Value) {
    let obj: PhoneNumberClaim =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    let api: Api<PhoneNumberClaim> = Api::namespaced(tenant.clone(), ns);
    let started = std::time::Instant::now();
    loop {
        match api.create(&PostParams::default(), &obj).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 403 && started.elapsed() < T => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

fn ready_says(reason: &'static str) -> impl Fn(&PhoneNumberClaim) -> bool {
    move |c| claim_condition(c, "Ready").is_some_and(|r| r.1 == reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_get_nothing_through_a_claim_that_their_rbac_denies() {
    let Some(env) = env() else { return };
    // Tenant A's namespace may use the class, with one assistant and a budget; tenant B's may not,
    // and has an open class of its own.
    let a = Fixture::new(
        env,
        "tenant-a",
        |_| {},
        json!({"assistantPolicy": "NamespaceAllowList"}),
    )
    .await;
    let b = Fixture::new(env, "tenant-b", |_| {}, json!({})).await;
    let admin = env.client();
    let key = format!("tenancy-test/{}", a.ns);
    a.patch_class(json!({"allowedNamespaces": {"matchLabels": {key.clone(): "on"}}}))
        .await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .patch(
            &a.ns,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {
                "labels": {key: "on"},
                "annotations": {"telephony.talkturo.ai/allowed-assistants": "asst_demo_sales"}
            }})),
        )
        .await
        .unwrap();
    let release = format!("r{}", &a.ns[a.ns.len() - 6..]);
    install_tenant_roles(&admin, &release).await;
    bind_tenant(&admin, &a.ns, "tenant-a", &release).await;
    bind_tenant(&admin, &b.ns, "tenant-b", &release).await;
    let (ta, tb) = (client_as(env, "tenant-a"), client_as(env, "tenant-b"));

    // A ConfigMap of tenant A's app, which tenant A may not even read.
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &a.ns);
    let victim: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "app-config"}, "data": {"SECRET_URL": "https://x"}}),
    )
    .unwrap();
    let victim = cms.create(&PostParams::default(), &victim).await.unwrap();
    let denied = Api::<ConfigMap>::namespaced(ta.clone(), &a.ns)
        .get("app-config")
        .await;
    assert!(matches!(denied, Err(kube::Error::Api(s)) if s.code == 403));

    let a1 = tenant_a_claims(&a, &ta, &cms, &victim).await;
    let class = a.class.clone();
    tenant_a_budget(&a, &namespaces, &ta, &class).await;
    tenant_b_is_refused(&a1, &b, &tb, &class).await;
    imported_binds_when_pre_bound(&b, &tb).await;
    nothing_of_a_in_b(&a, &b, tb.clone(), &admin).await;
    taken_off_the_class(&a, &namespaces).await;
}

/// Tenant A: a number on an allowed assistant; a disallowed assistant; a foreign ConfigMap. Returns claim a1.
async fn tenant_a_claims(
    a: &Fixture,
    ta: &kube::Client,
    cms: &Api<ConfigMap>,
    victim: &ConfigMap,
) -> PhoneNumberClaim {
    // Tenant A: a number on an allowed assistant; a disallowed assistant; a foreign ConfigMap.
    let class = a.class.clone();
    tenant_claim(
        ta,
        &a.ns,
        "a1",
        json!({"className": class, "countryCode": "US", "assistantId": "asst_demo_sales"}),
    )
    .await;
    tenant_claim(
        ta,
        &a.ns,
        "a2",
        json!({"className": class, "countryCode": "US", "assistantId": "asst_demo_support"}),
    )
    .await;
    tenant_claim(
        ta,
        &a.ns,
        "a3",
        json!({"className": class, "countryCode": "US", "configMapName": "app-config"}),
    )
    .await;
    let a1 = a
        .wait_claim("a1", T, |c| {
            claim_condition(c, "Assigned").is_some_and(|r| r.0 == "True")
        })
        .await;
    let a2 = a
        .wait_claim("a2", T, |c| {
            claim_condition(c, "Assigned").is_some_and(|r| r.1 == "AssistantNotAllowed")
        })
        .await;
    a.wait_claim("a3", T, config_map_says("ConfigMapConflict"))
        .await;
    let a2_id = a2.status.unwrap().number_id;
    assert!(
        a.held("asst_demo_support").await.is_empty(),
        "a2's number stays unassigned"
    );
    assert!(
        !a.held("asst_demo_sales")
            .await
            .contains(a2_id.as_ref().unwrap())
    );
    let untouched = cms.get("app-config").await.unwrap();
    assert_eq!(
        untouched.metadata.resource_version,
        victim.metadata.resource_version
    );
    a1
}

/// The platform team takes A off the class: A's numbers are reported, never released.
async fn taken_off_the_class(a: &Fixture, namespaces: &Api<Namespace>) {
    let key = format!("tenancy-test/{}", a.ns);
    namespaces
        .patch(
            &a.ns,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {key: "off"}}})),
        )
        .await
        .unwrap();
    let a1 = a
        .wait_claim("a1", T, |c| {
            claim_condition(c, "ClassAllowed").is_some_and(|r| r.1 == "ClassNotAllowed")
        })
        .await;
    assert_eq!(
        a1.status.unwrap().phase,
        Some(talkturo_operator::api::v1alpha1::ClaimPhase::Bound)
    );
    assert_eq!(a.sim.sim.world().releases(), 0);
}

/// Nothing of A's in B's view: its claims' statuses and Events.
async fn nothing_of_a_in_b(a: &Fixture, b: &Fixture, tb: kube::Client, admin: &kube::Client) {
    let theirs = Api::<PhoneNumberClaim>::namespaced(tb.clone(), &b.ns)
        .list(&Default::default())
        .await
        .unwrap();
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(admin.clone(), &b.ns)
        .list(&Default::default())
        .await
        .unwrap();
    let seen = format!(
        "{:?}{:?}",
        theirs.items.iter().map(|c| &c.status).collect::<Vec<_>>(),
        events.items.iter().map(|e| &e.note).collect::<Vec<_>>()
    );
    // (Class names are cluster-wide and readable by all; the fixtures' happen to contain A's
    // namespace, so only namespace and claim references count.)
    for leak in [format!("namespace {}", a.ns), format!("{}/", a.ns)] {
        assert!(
            !seen.contains(&leak),
            "B's claims or Events name {leak}:\n{seen}"
        );
    }
    assert!(
        !seen.contains("\"a1\"") && !seen.contains("claim a1"),
        "{seen}"
    );
    assert!(
        Api::<PhoneNumberClaim>::namespaced(tb, &a.ns)
            .list(&Default::default())
            .await
            .is_err()
    );
    assert_eq!(b.sim.sim.world().purchases(), 0, "B bought nothing");
}

/// An imported company number binds only when an admin pre-binds it.
async fn imported_binds_when_pre_bound(b: &Fixture, tb: &kube::Client) {
    let company = b.bought_outside("US").await;
    let name = talkturo_operator::api::v1alpha1::phone_number_name(&company);
    let pn: PhoneNumber = serde_json::from_value(json!({"metadata": {"name": name},
        "spec": {"number": company, "className": b.class, "managementPolicy": "ObserveOnly"}}))
    .unwrap();
    b.numbers()
        .create(&PostParams::default(), &pn)
        .await
        .unwrap();
    tenant_claim(tb, &b.ns, "b4", json!({"phoneNumberName": name})).await;
    b.wait_claim("b4", T, ready_says("PhoneNumberUnavailable"))
        .await;
    b.numbers()
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"claimRef": {"namespace": b.ns, "name": "b5"}}})),
        )
        .await
        .unwrap();
    tenant_claim(tb, &b.ns, "b5", json!({"phoneNumberName": name})).await;
    b.wait_bound("b5", T).await;
}

/// Tenant B: A's class is not for it; A's number is not its to bind, and B learns no names.
async fn tenant_b_is_refused(a1: &PhoneNumberClaim, b: &Fixture, tb: &kube::Client, class: &str) {
    tenant_claim(
        tb,
        &b.ns,
        "b1",
        json!({"className": class, "countryCode": "US"}),
    )
    .await;
    b.wait_claim("b1", T, ready_says("ClassNotAllowed")).await;
    let a1_st = a1.status.clone().unwrap();
    tenant_claim(
        tb,
        &b.ns,
        "b2",
        json!({"phoneNumberName": a1_st.phone_number_name.clone().unwrap()}),
    )
    .await;
    b.wait_claim("b2", T, ready_says("ClassNotAllowed")).await;
    tenant_claim(
        tb,
        &b.ns,
        "b3",
        json!({"className": b.class, "number": a1_st.number.clone().unwrap()}),
    )
    .await;
    let b3 = b.wait_claim("b3", T, ready_says("NumberTaken")).await;
    let message = claim_condition(&b3, "Ready").unwrap().2.to_owned();
    assert!(
        message.contains("a claim in another namespace"),
        "{message}"
    );
}

/// Tenant A's budget: what it holds now; one more is refused.
async fn tenant_a_budget(a: &Fixture, namespaces: &Api<Namespace>, ta: &kube::Client, class: &str) {
    let held = a.class_numbers().await;
    let mut total = rust_decimal::Decimal::ZERO;
    for n in &held {
        total += n
            .status
            .as_ref()
            .and_then(|s| s.monthly_price.as_deref())
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap();
    }
    namespaces
        .patch(
            &a.ns,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": {"telephony.talkturo.ai/monthly-budget": total.to_string()}}})),
        )
        .await
        .unwrap();
    let purchases = a.sim.sim.world().purchases();
    tenant_claim(
        ta,
        &a.ns,
        "a4",
        json!({"className": class, "countryCode": "US"}),
    )
    .await;
    let a4 = a.wait_claim("a4", T, ready_says("BudgetExceeded")).await;
    assert!(
        claim_condition(&a4, "Ready")
            .unwrap()
            .2
            .contains(&format!("namespace {}", a.ns))
    );
    assert_eq!(a.sim.sim.world().purchases(), purchases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_quota_caps_how_many_claims_a_namespace_may_create() {
    let Some(env) = env() else { return };
    let (client, ns) = env.namespace("quota").await;
    let resource = "count/phonenumberclaims.telephony.talkturo.ai";
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), &ns);
    let quota: ResourceQuota = serde_json::from_value(
        json!({"metadata": {"name": "phone-lines"}, "spec": {"hard": {resource: "1"}}}),
    )
    .unwrap();
    quotas.create(&PostParams::default(), &quota).await.unwrap();
    // The test control plane runs no kube-controller-manager: its quota controller would fill
    // the status in; done here as it would.
    quotas
        .patch_status(
            "phone-lines",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"hard": {resource: "1"}, "used": {resource: "0"}}})),
        )
        .await
        .unwrap();
    let claims: Api<PhoneNumberClaim> = Api::namespaced(client, &ns);
    let claim = |name: &str| -> PhoneNumberClaim {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"className": "none", "countryCode": "US"}}),
        )
        .unwrap()
    };
    claims
        .create(&PostParams::default(), &claim("first"))
        .await
        .unwrap();
    let second = claims
        .create(&PostParams::default(), &claim("second"))
        .await;
    match second {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 403);
            assert!(s.message.contains("exceeded quota"), "{}", s.message);
        }
        other => panic!("the quota did not refuse the second claim: {other:?}"),
    }
}

/// The default class honours `allowedNamespaces` like a named one: a claim that names no class,
/// from a namespace the default class does not accept, gets `ClassNotAllowed` and buys nothing;
/// once the platform team labels the namespace, the same claim binds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_class_accepts_only_the_namespaces_it_allows() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "tenant-default", |_| {}, json!({})).await;
    let key = format!("tenancy-test/{}", f.ns);
    f.patch_class(json!({"allowedNamespaces": {"matchLabels": {key.clone(): "on"}}}))
        .await;
    // The only default class in this test binary (every other test names its class).
    Api::<PhoneNumberClass>::all(env.client())
        .patch(
            &f.class,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": {
                talkturo_operator::api::DEFAULT_CLASS_ANNOTATION: "true"
            }}})),
        )
        .await
        .unwrap();
    let obj: PhoneNumberClaim = serde_json::from_value(
        json!({"metadata": {"name": "line"}, "spec": {"countryCode": "US"}}),
    )
    .unwrap();
    f.claims()
        .create(&PostParams::default(), &obj)
        .await
        .unwrap();
    let refused = f.wait_claim("line", T, ready_says("ClassNotAllowed")).await;
    let message = claim_condition(&refused, "Ready").unwrap().2.to_owned();
    assert!(
        message.contains(&f.class) && message.contains(&format!("namespace {}", f.ns)),
        "{message}"
    );
    assert_eq!(f.sim.sim.world().purchases(), 0, "nothing bought");
    Api::<Namespace>::all(env.client())
        .patch(
            &f.ns,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {key: "on"}}})),
        )
        .await
        .unwrap();
    f.wait_bound("line", T).await;
    assert_eq!(f.sim.sim.world().purchases(), 1);
}
