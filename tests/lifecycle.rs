//! What happens after a number is bought: assignment to assistants (assign, move, unassign,
//! out-of-band change corrected, unknown assistant), checked at the simulator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use serde_json::json;
use support::TestEnv;
use support::operator::{Fixture, assigned_to, claim_condition, start_operator};
use talkturo_operator::api::v1alpha1::PhoneNumberClaim;

const T: Duration = Duration::from_secs(40);
const SALES: &str = "asst_demo_sales";
const SUPPORT: &str = "asst_demo_support";

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assistant_is_assigned_moved_and_unassigned_as_the_claim_says() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "assign", |_| {}, json!({})).await;
    f.claim("line", json!({"countryCode": "US", "assistantId": SALES}))
        .await;
    let c = f.wait_claim("line", T, assigned_to(Some(SALES))).await;
    let id = c.status.unwrap().number_id.unwrap();
    assert_eq!(f.held(SALES).await, std::slice::from_ref(&id));

    f.set_assistant("line", Some(SUPPORT)).await;
    f.wait_claim("line", T, assigned_to(Some(SUPPORT))).await;
    assert_eq!(
        (f.held(SALES).await, f.held(SUPPORT).await),
        (vec![], vec![id.clone()]),
        "moved"
    );

    f.set_assistant("line", None).await;
    f.wait_claim("line", T, assigned_to(None)).await;
    assert!(
        f.held(SALES).await.is_empty() && f.held(SUPPORT).await.is_empty(),
        "unassigned"
    );
    let pn = c_number(&f, "line").await;
    let reasons = f.event_reasons("PhoneNumber", &pn).await;
    assert!(
        reasons.contains(&"Assigned".to_owned()) && reasons.contains(&"Unassigned".to_owned()),
        "{reasons:?}"
    );
}

async fn c_number(f: &Fixture, claim: &str) -> String {
    f.claims()
        .get(claim)
        .await
        .unwrap()
        .status
        .unwrap()
        .phone_number_name
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_changed_outside_the_operator_is_corrected_with_a_warning() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "drift", |_| {}, json!({})).await;
    f.claim("line", json!({"countryCode": "GB", "assistantId": SALES}))
        .await;
    let c = f.wait_claim("line", T, assigned_to(Some(SALES))).await;
    let id = c.status.unwrap().number_id.unwrap();
    // Someone moves it in the dashboard: one step, under the simulator's lock, so the operator
    // never sees (and corrects) a half-done move.
    {
        let mut world = f.sim.sim.world();
        world.set_assistant_numbers("demo", SALES, &[]).unwrap();
        world
            .assign("demo", SUPPORT, "demo", std::slice::from_ref(&id))
            .unwrap();
    }
    let pn = c_number(&f, "line").await;
    let started = std::time::Instant::now();
    while !f
        .event_reasons("PhoneNumber", &pn)
        .await
        .contains(&"AssignmentDrift".to_owned())
    {
        assert!(started.elapsed() < T, "the drift was not noticed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    f.wait_claim("line", T, assigned_to(Some(SALES))).await;
    assert_eq!(
        (f.held(SALES).await, f.held(SUPPORT).await),
        (vec![id], vec![]),
        "moved back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assistant_that_does_not_exist_is_a_reason_not_an_error_storm() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "noasst", |_| {}, json!({})).await;
    f.claim(
        "line",
        json!({"countryCode": "US", "assistantId": "asst_missing"}),
    )
    .await;
    let c = f
        .wait_claim("line", T, |c| {
            claim_condition(c, "Assigned").is_some_and(|r| r.1 == "AssistantNotFound")
        })
        .await;
    assert_eq!(
        claim_condition(&c, "Ready").map(|r| (r.0, r.1)),
        Some(("False", "AssistantNotFound"))
    );
    assert_eq!(
        c.status.unwrap().phase,
        Some(talkturo_operator::api::v1alpha1::ClaimPhase::Bound),
        "the number is still bound"
    );
    let pn = c_number(&f, "line").await;
    assert!(
        f.event_reasons("PhoneNumber", &pn)
            .await
            .contains(&"AssistantNotFound".to_owned())
    );
    let before = f.sim.sim.calls(talkturo_sim::Op::Assign);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let retries = f.sim.sim.calls(talkturo_sim::Op::Assign) - before;
    assert!(
        retries <= 2,
        "{retries} assign calls in 8 s for an assistant that does not exist"
    );
    // Fixing the claim assigns it.
    f.set_assistant("line", Some(SALES)).await;
    f.wait_claim("line", T, assigned_to(Some(SALES))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_deployments_configmap_holds_the_bound_number() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "configmap", |_| {}, json!({})).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/deployment-with-number.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let mut obj: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
        match obj["kind"].as_str().unwrap() {
            "PhoneNumberClaim" => {
                obj["spec"]["className"] = json!(f.class);
                let claim: PhoneNumberClaim = serde_json::from_value(obj).unwrap();
                f.claims()
                    .create(&Default::default(), &claim)
                    .await
                    .unwrap();
            }
            "Deployment" => {
                let d: k8s_openapi::api::apps::v1::Deployment =
                    serde_json::from_value(obj).unwrap();
                kube::Api::namespaced(f.client.clone(), &f.ns)
                    .create(&Default::default(), &d)
                    .await
                    .unwrap();
            }
            other => panic!("unexpected {other} in the example"),
        }
    }
    let c = f
        .wait_claim("reception-line", T, assigned_to(Some(SUPPORT)))
        .await;
    let st = c.status.unwrap();
    assert_eq!(st.config_map_name.as_deref(), Some("reception-phone"));
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(f.client.clone(), &f.ns);
    let cm = cms.get("reception-phone").await.unwrap();
    let data = cm.data.clone().unwrap();
    assert_eq!(data.get("PHONE_NUMBER"), st.number.as_ref());
    assert_eq!(data.get("PHONE_NUMBER_ID"), st.number_id.as_ref());
    assert_eq!(
        data.get("PHONE_NUMBER_COUNTRY").map(String::as_str),
        Some("US")
    );
    let owner = &cm.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("PhoneNumberClaim", "reception-line", Some(true))
    );
    // The Deployment reads exactly that ConfigMap.
    let d: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(f.client.clone(), &f.ns);
    let spec = d
        .get("reception")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let from = spec.containers[0].env_from.clone().unwrap();
    assert_eq!(
        from[0].config_map_ref.as_ref().map(|r| r.name.as_str()),
        Some("reception-phone")
    );
    // Labelled for rollouts: its pod template carries the hash of the numbers it reads.
    support::operator::wait(&d, "reception", T, |d| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .is_some_and(|a| a.contains_key("telephony.talkturo.ai/numbers-hash"))
    })
    .await;
    assert!(
        f.event_reasons("Deployment", "reception")
            .await
            .contains(&"NumberRolledOut".to_owned())
    );
}

fn owned_at_sim(f: &Fixture, number: &str) -> bool {
    f.sim
        .sim
        .world()
        .records()
        .any(|r| r.phone_number == number)
}

async fn bound(f: &Fixture, claim: &str, spec: serde_json::Value) -> (String, String) {
    f.claim(claim, spec).await;
    let c = f
        .wait_claim(claim, T, |c| {
            claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
        })
        .await;
    let st = c.status.unwrap();
    (st.number.unwrap(), st.phone_number_name.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_keeps_the_number_unassigned_and_rebindable_once_claim_ref_is_cleared() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "retain", |_| {}, json!({"reclaimPolicy": "Retain"})).await;
    let (number, pn) = bound(
        &f,
        "line",
        json!({"countryCode": "US", "assistantId": SALES}),
    )
    .await;
    f.claims()
        .delete("line", &Default::default())
        .await
        .unwrap();
    f.wait_number(&pn, T, |n| {
        n.status.as_ref().and_then(|s| s.phase)
            == Some(talkturo_operator::api::v1alpha1::NumberPhase::Released)
            && n.status
                .as_ref()
                .is_some_and(|s| s.assigned_assistant_id.is_none())
    })
    .await;
    assert!(
        f.held(SALES).await.is_empty(),
        "unassigned when its claim went"
    );
    assert!(owned_at_sim(&f, &number), "Retain keeps the number");
    assert_eq!(f.sim.sim.calls(talkturo_sim::Op::Release), 0);
    // An admin makes it bindable again; a new claim binds it statically.
    f.numbers()
        .patch(
            &pn,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"claimRef": null}})),
        )
        .await
        .unwrap();
    let (again, _) = bound(&f, "again", json!({"phoneNumberName": pn})).await;
    assert_eq!(again, number);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_releases_the_number_at_talkturo_and_removes_the_phone_number() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "release",
        |c| c.release_enabled = true,
        json!({"reclaimPolicy": "Release"}),
    )
    .await;
    let (number, pn) = bound(
        &f,
        "line",
        json!({"countryCode": "US", "assistantId": SALES}),
    )
    .await;
    f.claims()
        .delete("line", &Default::default())
        .await
        .unwrap();
    f.wait_number_gone(&pn, T).await;
    assert!(!owned_at_sim(&f, &number), "released at Talkturo");
    assert_eq!(f.sim.sim.calls(talkturo_sim::Op::Release), 1);
    assert!(
        f.event_reasons("PhoneNumber", &pn)
            .await
            .contains(&"Released".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_the_api_does_not_support_keeps_the_number_with_release_failed() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "relfail",
        |c| c.release_enabled = false,
        json!({"reclaimPolicy": "Release"}),
    )
    .await;
    let (number, pn) = bound(&f, "line", json!({"countryCode": "GB"})).await;
    f.claims()
        .delete("line", &Default::default())
        .await
        .unwrap();
    let n = f
        .wait_number(&pn, T, |n| {
            n.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "ReleaseFailed" && c.status == "True")
            })
        })
        .await;
    assert_eq!(
        n.status.unwrap().phase,
        Some(talkturo_operator::api::v1alpha1::NumberPhase::Released)
    );
    assert!(owned_at_sim(&f, &number), "the number is kept");
    assert!(
        f.event_reasons("PhoneNumber", &pn)
            .await
            .contains(&"ReleaseFailed".to_owned())
    );
    let calls = f.sim.sim.calls(talkturo_sim::Op::Release);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        f.sim.sim.calls(talkturo_sim::Op::Release),
        calls,
        "a refused release is not retried in a loop"
    );
}

/// Deletes the fixture's only PhoneNumber as soon as its purchase was sent, and waits for it to go.
async fn delete_during_purchase(f: &Fixture) -> String {
    let started = std::time::Instant::now();
    while f.sim.sim.calls(talkturo_sim::Op::Purchase) == 0 {
        assert!(started.elapsed() < T, "no purchase was sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let name = f.class_numbers().await.remove(0).metadata.name.unwrap();
    f.numbers()
        .delete(&name, &Default::default())
        .await
        .unwrap();
    f.wait_number_gone(&name, T).await;
    // The claim is told, and does not quietly buy another number (or re-create this one).
    let claim = f
        .wait_claim("line", T, |c| {
            c.status.as_ref().is_some_and(|s| {
                s.phase == Some(talkturo_operator::api::v1alpha1::ClaimPhase::Lost)
            })
        })
        .await;
    let (_, reason, message) = claim_condition(&claim, "Ready").unwrap();
    assert_eq!(reason, "PhoneNumberDeleted", "{message}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(f.class_numbers().await.is_empty(), "nothing was re-created");
    assert!(
        f.event_reasons("PhoneNumberClaim", "line")
            .await
            .contains(&"PhoneNumberDeleted".to_owned())
    );
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_number_deleted_while_purchasing_waits_for_the_outcome() {
    let Some(env) = env() else { return };
    let purchase_fault = |action| {
        vec![talkturo_sim::FaultRule::on(
            talkturo_sim::Op::Purchase,
            action,
            Some(1),
        )]
    };

    // The purchase took effect but its answer never came: the number is adopted from the list,
    // then retained (reclaimPolicy Retain) — not forgotten, not bought twice.
    let f = Fixture::new(env, "delbuy", |_| {}, json!({})).await;
    f.sim
        .sim
        .set_faults(purchase_fault(talkturo_sim::FaultAction::LostResponse {
            mode: talkturo_sim::LostMode::Hang,
        }));
    f.claim("line", json!({"countryCode": "US"})).await;
    let name = delete_during_purchase(&f).await;
    let reasons = f.event_reasons("PhoneNumber", &name).await;
    for r in ["PurchaseUnsettled", "Adopted", "NumberKept"] {
        assert!(reasons.contains(&r.to_owned()), "{r} missing: {reasons:?}");
    }
    assert_eq!(f.sim.sim.world().purchases(), 1);
    assert_eq!(f.sim.sim.calls(talkturo_sim::Op::Purchase), 1);

    // The purchase failed before taking effect (a 500): two lists without the number settle it;
    // only then does the object go, with nothing bought.
    let g = Fixture::new(env, "delnobuy", |_| {}, json!({})).await;
    g.sim
        .sim
        .set_faults(purchase_fault(talkturo_sim::FaultAction::Status {
            status: 500,
            retry_after_secs: None,
        }));
    g.claim("line", json!({"countryCode": "US"})).await;
    let name = delete_during_purchase(&g).await;
    let reasons = g.event_reasons("PhoneNumber", &name).await;
    assert!(
        reasons.contains(&"PurchaseUnsettled".to_owned())
            && !reasons.contains(&"NumberKept".to_owned()),
        "{reasons:?}"
    );
    assert_eq!(g.sim.sim.world().purchases(), 0, "nothing was bought");
    assert!(
        g.sim.sim.calls(talkturo_sim::Op::List) >= 3,
        "settled by lists, not assumed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_numbers_are_observe_only_and_never_released() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "import",
        |c| c.release_enabled = true,
        json!({"reclaimPolicy": "Release", "importUnmanaged": true}),
    )
    .await;
    // Bought outside the operator (e.g. in the dashboard).
    let number = f.bought_outside("US").await;
    let name = talkturo_operator::api::v1alpha1::phone_number_name(&number);
    let imported = f
        .wait_number(&name, T, |n| {
            n.status.as_ref().is_some_and(|s| s.id.is_some())
        })
        .await;
    assert_eq!(
        imported.spec.management_policy,
        talkturo_operator::api::v1alpha1::ManagementPolicy::ObserveOnly
    );
    assert!(imported.spec.claim_ref.is_none());
    assert!(
        f.event_reasons("PhoneNumberClass", &f.class)
            .await
            .contains(&"Imported".to_owned())
    );
    f.wait_class(T, |c| {
        c.status.as_ref().and_then(|s| s.unmanaged_numbers) == Some(0)
    })
    .await;

    // An admin pre-binds it to a claim (an imported number binds no other way), which binds it
    // statically; deleting the claim and then the object releases nothing.
    f.numbers()
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"claimRef": {"namespace": f.ns, "name": "line"}}})),
        )
        .await
        .unwrap();
    bound(&f, "line", json!({"phoneNumberName": name})).await;
    f.claims()
        .delete("line", &Default::default())
        .await
        .unwrap();
    f.wait_number(&name, T, |n| {
        n.status.as_ref().and_then(|s| s.phase)
            == Some(talkturo_operator::api::v1alpha1::NumberPhase::Released)
    })
    .await;
    f.numbers()
        .delete(&name, &Default::default())
        .await
        .unwrap();
    // Gone, or imported afresh (it is still unmanaged in the account): a new object either way.
    let started = std::time::Instant::now();
    while let Some(n) = f.numbers().get_opt(&name).await.unwrap() {
        if n.metadata.uid != imported.metadata.uid {
            break;
        }
        assert!(started.elapsed() < T, "{name} was not deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        owned_at_sim(&f, &number),
        "an ObserveOnly number stays at Talkturo"
    );
    assert_eq!(f.sim.sim.calls(talkturo_sim::Op::Release), 0);
}
