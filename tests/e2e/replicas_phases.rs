//! The steps of the active-active phase (see `replicas.rs`).

use super::*;

pub(in super::super) async fn phase_active_active(e: &E2e, clock: &mut Clock) {
    let accounts = switch(e, clock).await;
    let mut a = accounts;
    let all = a.classes.clone();
    let h = wait_spread(e, &all, 3, 2).await;
    clock.mark(&format!(
        "active-active: 6 classes spread 2/2/2 over 3 replicas ({h:?})"
    ));
    pod_deleted_mid_burst(e, clock, &mut a).await;
    frozen(e, clock, &mut a).await;
    scaled(e, clock, &mut a).await;
    budget_over_two_replicas(e, clock, &mut a).await;
    a.check(e).await;
    clock.mark("active-active: every purchase counted once, every number owned tracked");
}

/// The single-leader install (two replicas) upgraded to three active replicas, each admin server
/// on a port of its own: every claim keeps its number; nothing bought, released or warned about.
/// Then five more classes, each on its own simulator.
async fn switch(e: &E2e, clock: &mut Clock) -> Accounts {
    let numbers = |claims: Vec<PhoneNumberClaim>| -> BTreeMap<String, Option<String>> {
        claims
            .into_iter()
            .map(|c| {
                let key = format!(
                    "{}/{}",
                    c.metadata.namespace.unwrap(),
                    c.metadata.name.unwrap()
                );
                (key, c.status.and_then(|s| s.number))
            })
            .collect()
    };
    let all: Api<PhoneNumberClaim> = Api::all(e.client.clone());
    let before = numbers(all.list(&ListParams::default()).await.unwrap().items);
    let (purchases, releases) = (e.purchases(), e.sim.sim.world().releases());
    let since = jiff::Timestamp::now();
    let lease = LEASE_SECS.to_string();
    e.install(
        "upgrade",
        "e2e-2",
        &[
            "--set",
            "replicaCount=3,activeActive.enabled=true,adminPort=0,metrics.service.enabled=false",
            "--set",
            &format!("leaderElection.leaseDurationSeconds={lease}"),
        ],
    );
    let h = wait_spread(e, &["standard".to_owned()], 3, 1).await;
    clock.mark(&format!(
        "helm upgrade to 3 active replicas (adminPort 0, exec probes): all Ready, standard served by {}",
        h["standard"]
    ));
    // The class's lists and resyncs run on the new replicas for a while.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = numbers(all.list(&ListParams::default()).await.unwrap().items);
    assert_eq!(after, before, "every claim keeps its number");
    assert_eq!(e.purchases(), purchases, "nothing bought on the switch");
    assert_eq!(e.sim.sim.world().releases(), releases, "nothing released");
    let warned = warnings_since(e, since).await;
    assert!(warned.is_empty(), "Warnings on the switch: {warned:?}");
    clock.mark(&format!(
        "switch: {} claims kept their numbers, 0 purchases, 0 releases, 0 Warnings",
        after.len()
    ));
    Accounts::start(e).await
}

/// Claims in every class with purchases in flight; the pod of a replica deleted: its classes
/// move within the Lease duration + 5 s and every claim is Bound with one purchase.
async fn pod_deleted_mid_burst(e: &E2e, clock: &mut Clock, a: &mut Accounts) {
    let all = a.classes.clone();
    let sent: u64 = a.sims(e).iter().map(|s| s.calls(Op::Purchase)).sum();
    a.slow(e, Op::Purchase, &all);
    let names = create(e, "aa-burst", "b", &all, 3).await;
    let started = Instant::now();
    while a.sims(e).iter().map(|s| s.calls(Op::Purchase)).sum::<u64>() == sent {
        assert!(started.elapsed() < T, "no purchase was sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bound_before = bound_of(e, "aa-burst", &names).await;
    assert!(
        bound_before < names.len(),
        "the deletion must overlap the purchases"
    );
    let h = holders(e).await;
    let victim = h[&all[1]].clone();
    let its: Vec<String> = all.iter().filter(|c| h[*c] == victim).cloned().collect();
    Api::<Pod>::namespaced(e.client.clone(), NS)
        .delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    let moved = wait_moved(e, &its, &victim).await;
    clock.mark(&format!(
        "pod {victim} deleted mid-burst ({bound_before} of 18 Bound): its classes {its:?} moved in {moved:.1?}"
    ));
    assert!(
        moved <= Duration::from_secs(LEASE_SECS + 5),
        "classes moved after {moved:?}"
    );
    a.clear(e);
    wait_bound(e, "aa-burst", &names).await;
    a.bought(&all, 3);
    a.check(e).await;
    wait_spread(e, &all, 3, 2).await;
    clock.mark("18 claims Bound, one purchase each; the replacement pod took its 2 classes");
}

/// A replica frozen (SIGSTOP) past its Leases while its classes' purchases are in flight: the
/// others take them and bind what is asked meanwhile; resumed, it sends nothing to any account
/// from its Leases' expiry until it holds a class Lease again.
async fn frozen(e: &E2e, clock: &mut Clock, a: &mut Accounts) {
    let all = a.classes.clone();
    let h = holders(e).await;
    let victim = h[&all[2]].clone();
    let its: Vec<String> = all.iter().filter(|c| h[*c] == victim).cloned().collect();
    a.slow(e, Op::Purchase, &its);
    let names = create(e, "aa-freeze", "f", &its, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = operator_pid(&victim);
    // SAFETY: signalling a process of the node this test runs (as root).
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let stopped = jiff::Timestamp::now();
    let moved = wait_moved(e, &its, &victim).await;
    assert!(
        moved <= Duration::from_secs(LEASE_SECS + 5),
        "the frozen replica's classes moved after {moved:?}"
    );
    wait_bound(e, "aa-freeze", &names).await;
    a.clear(e);
    clock.mark(&format!(
        "{victim} frozen: its classes moved in {moved:.1?}, its claims Bound elsewhere"
    ));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    wait_spread(e, &all, 3, 2).await;
    let retaken = class_leases::first_acquired_by(&e.client, NS, &victim).await;
    let expired = stopped + jiff::SignedDuration::from_secs(LEASE_SECS as i64);
    for sim in a.sims(e) {
        let late: Vec<_> = sim
            .received()
            .into_iter()
            .filter(|r| {
                r.agent.contains(&format!("({victim})")) && r.at > expired && r.at < retaken
            })
            .collect();
        assert!(
            late.is_empty(),
            "{victim} called after its Leases expired: {late:?}"
        );
    }
    a.bought(&its, 2);
    a.check(e).await;
    clock.mark(&format!(
        "{victim} resumed: no call from its Leases' expiry to {retaken}, then 2 classes again"
    ));
}

/// Scaled to one replica with claims being bought (it gathers all six classes), then back to
/// three (they spread again): nothing bought twice.
async fn scaled(e: &E2e, clock: &mut Clock, a: &mut Accounts) {
    let all = a.classes.clone();
    let deployments: Api<Deployment> = Api::namespaced(e.client.clone(), NS);
    let scale = |n: u32| json!({"spec": {"replicas": n}});
    deployments
        .patch_scale(RELEASE, &PatchParams::default(), &Patch::Merge(&scale(1)))
        .await
        .unwrap();
    let names = create(e, "aa-scale", "down", &all, 1).await;
    wait_spread(e, &all, 1, all.len()).await;
    wait_bound(e, "aa-scale", &names).await;
    a.bought(&all, 1);
    clock.mark("scaled 3 → 1: one replica serves the 6 classes, new claims Bound");
    deployments
        .patch_scale(RELEASE, &PatchParams::default(), &Patch::Merge(&scale(3)))
        .await
        .unwrap();
    let names = create(e, "aa-scale", "up", &all, 1).await;
    wait_spread(e, &all, 3, 2).await;
    wait_bound(e, "aa-scale", &names).await;
    a.bought(&all, 1);
    a.check(e).await;
    clock.mark("scaled 1 → 3: 2 classes each again, new claims Bound, one purchase each");
}

/// A namespace with a $4.00 budget and six claims at once in each of two classes served by
/// different replicas, searches slowed so both decide together: what is bound stays within the
/// budget; the claims left over say BudgetExceeded (and are deleted, so purchases stay exact).
async fn budget_over_two_replicas(e: &E2e, clock: &mut Clock, a: &mut Accounts) {
    let h = holders(e).await;
    let first = a.classes[0].clone();
    let second = a
        .classes
        .iter()
        .find(|c| h[*c] != h[&first])
        .unwrap()
        .clone();
    let pair = [first, second];
    create_ns(&e.client, "aa-budget").await;
    let patch =
        json!({"metadata": {"annotations": {"telephony.talkturo.ai/monthly-budget": "4.00"}}});
    Api::<Namespace>::all(e.client.clone())
        .patch("aa-budget", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    a.slow(e, Op::Search, &pair);
    create(e, "aa-budget", "n", &pair, 6).await;
    let claims: Api<PhoneNumberClaim> = Api::namespaced(e.client.clone(), "aa-budget");
    let started = Instant::now();
    let all = loop {
        let all = claims.list(&ListParams::default()).await.unwrap().items;
        let settled = all.iter().all(|c| {
            let s = c.status.as_ref();
            s.and_then(|s| s.phase) == Some(ClaimPhase::Bound)
                || s.is_some_and(|s| s.conditions.iter().any(|c| c.reason == "BudgetExceeded"))
        });
        if settled {
            break all;
        }
        assert!(started.elapsed() < T, "the budget's claims never settled");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    a.clear(e);
    let bound: Vec<&PhoneNumberClaim> = all
        .iter()
        .filter(|c| c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound))
        .collect();
    let spent: f64 = bound
        .iter()
        .filter_map(|c| c.status.as_ref()?.monthly_price.clone())
        .map(|p| p.parse::<f64>().unwrap())
        .sum();
    for c in &pair {
        let n = bound
            .iter()
            .filter(|b| b.spec.class_name.as_deref() == Some(c.as_str()))
            .count();
        *a.bought.entry(c.clone()).or_default() += n as u64;
    }
    for c in all
        .iter()
        .filter(|c| !bound.iter().any(|b| b.metadata.name == c.metadata.name))
    {
        claims
            .delete(
                c.metadata.name.as_deref().unwrap(),
                &DeleteParams::default(),
            )
            .await
            .unwrap();
    }
    assert!(spent <= 4.0 + 1e-9, "the namespace spent ${spent} of $4.00");
    assert!((1..12).contains(&bound.len()), "{} bound", bound.len());
    clock.mark(&format!(
        "namespace budget $4.00 over {} and {} ({} and {}): {} of 12 bound, ${spent:.2}",
        pair[0],
        pair[1],
        h[&pair[0]],
        h[&pair[1]],
        bound.len()
    ));
}
