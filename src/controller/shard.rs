//! Active-active replicas: this process's member Lease and the class Leases it holds. A class's
//! work (reconciles, Talkturo calls) runs only under a [`Guard`], which exists only while this
//! process holds the class's Lease with time to spare and is not handing it over; a handover
//! waits for every guard to drop before the Lease is released.
//!
//! Liveness is judged as client-go's leader election judges it, on this process's own clock: a
//! Lease is held while its record keeps changing, and expired once it has not changed for its
//! duration since this process first saw its current version (clocks of other nodes never
//! matter).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;

use super::decide::shard::{self, LeaseView, Step};
use super::io::lease::{self as io, CLASS_ANNOTATION};

pub mod caching;
mod stop;

use caching::Caching;

/// How this process takes part.
#[derive(Clone, Debug)]
pub struct ShardConfig {
    /// This replica's identity (the pod's name).
    pub identity: String,
    /// The namespace of the Leases (the operator's).
    pub namespace: String,
    /// Lease names start with it (`<prefix>-member-<identity>`, `<prefix>-class-<class>`).
    pub prefix: String,
    /// How long a Lease holds after its last renewal; renewed every third of it.
    pub duration: Duration,
    /// A class's Talkturo calls stop this long before its Lease would expire unrenewed.
    pub margin: Duration,
}

/// How long a handover waits for a class's work in flight, renewing the Lease meanwhile; then
/// the Lease is left to expire (and the work's spending calls stop at its margin).
const HANDOVER_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Held {
    valid_until: Instant,
    /// Handing over since then: no new work; the Lease goes once nothing is in flight.
    draining: Option<Instant>,
    in_flight: usize,
}

impl Held {
    /// Held with `margin` to spare at `now`: calls may be sent.
    fn valid(&self, now: Instant, margin: Duration) -> bool {
        self.valid_until > now + margin
    }

    /// Valid and not being handed over: new work may start.
    fn serves(&self, now: Instant, margin: Duration) -> bool {
        self.draining.is_none() && self.valid(now, margin)
    }
}

/// What one round changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Classes taken this round: their objects are to be reconciled.
    pub acquired: Vec<String>,
    /// Classes given up (handed over, taken by another, or gone).
    pub released: Vec<String>,
}

/// This process's share of the classes.
pub struct Shards {
    config: ShardConfig,
    api: Api<Lease>,
    held: Mutex<BTreeMap<String, Held>>,
    /// Per Lease name: its resourceVersion and when this process first saw it.
    seen: Mutex<HashMap<String, (String, Instant)>>,
    /// What the caches of claims and PhoneNumbers hold.
    caching: Caching,
}

/// The right to do a class's work, until dropped.
pub struct Guard {
    shards: Arc<Shards>,
    class: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(h) = self.shards.lock().get_mut(&self.class) {
            h.in_flight = h.in_flight.saturating_sub(1);
        }
    }
}

impl Guard {
    /// Whether a spending call (purchase, release, assignment) may be sent now: the Lease is
    /// still held with the margin to spare.
    pub fn may_spend(&self) -> bool {
        self.shards.may_call(&self.class)
    }

    /// [`Guard::may_spend`] as a check the class's work can carry (see `controller::fence`).
    pub fn check(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let (shards, class) = (self.shards.clone(), self.class.clone());
        move || shards.may_call(&class)
    }
}

impl Shards {
    pub fn new(client: kube::Client, config: ShardConfig) -> Arc<Self> {
        let api = Api::namespaced(client, &config.namespace);
        Arc::new(Self {
            config,
            api,
            held: Mutex::new(BTreeMap::new()),
            seen: Mutex::new(HashMap::new()),
            caching: Caching::default(),
        })
    }

    /// How this process takes part (its identity, the Leases' namespace and prefix).
    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    /// What the caches of claims and PhoneNumbers hold.
    pub fn caching(&self) -> &Caching {
        &self.caching
    }

    /// Every class whose Lease this process holds, those being handed over included (their
    /// objects stay cached until their work is done).
    pub fn held(&self) -> BTreeSet<String> {
        self.lock().keys().cloned().collect()
    }

    /// Whether this process holds `class`'s Lease (serving it or not at this instant).
    pub fn holds(&self, class: &str) -> bool {
        self.lock().contains_key(class)
    }

    /// How often [`Shards::round`] should run: a third of the Leases' duration.
    pub fn period(&self) -> Duration {
        self.config.duration / 3
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a call for `class` may be sent to Talkturo now: its Lease is held with the
    /// margin to spare (a class being handed over keeps it until its work is done).
    pub fn may_call(&self, class: &str) -> bool {
        let now = Instant::now();
        self.lock()
            .get(class)
            .is_some_and(|h| h.valid(now, self.config.margin))
    }

    /// A guard for `class`'s work, if this process serves it now.
    pub fn serve(self: &Arc<Self>, class: &str) -> Option<Guard> {
        let now = Instant::now();
        let mut held = self.lock();
        let h = held.get_mut(class)?;
        if !h.serves(now, self.config.margin) {
            return None;
        }
        h.in_flight += 1;
        Some(Guard {
            shards: self.clone(),
            class: class.to_owned(),
        })
    }

    /// The classes this process serves now.
    pub fn serving(&self) -> Vec<String> {
        let now = Instant::now();
        self.lock()
            .iter()
            .filter(|(_, h)| h.serves(now, self.config.margin))
            .map(|(c, _)| c.clone())
            .collect()
    }

    fn member_name(&self) -> String {
        format!("{}-member-{}", self.config.prefix, self.config.identity)
    }

    /// Until the single leader Lease (named by the prefix, as with leader election) is free:
    /// released, or unrenewed for its duration. Replicas moving to active-active must not act
    /// beside a leader of the earlier version that still runs.
    pub async fn wait_for_leader(&self) -> Result<(), kube::Error> {
        let name = self.config.prefix.as_str();
        loop {
            let Some(lease) = self.api.get_opt(name).await? else {
                return Ok(());
            };
            if self
                .observe(name, &lease)
                .live_holder(jiff::Timestamp::now())
                .is_none()
            {
                return Ok(());
            }
            tracing::info!(
                lease = name,
                "waiting for the single leader's Lease to be free"
            );
            tokio::time::sleep(self.period()).await;
        }
    }

    /// What a Lease says, its renewal time read on this process's clock (see the module docs).
    fn observe(&self, name: &str, lease: &Lease) -> LeaseView {
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let first = match seen.get(name) {
            Some((v, at)) if *v == rv => *at,
            _ => {
                seen.insert(name.to_owned(), (rv, Instant::now()));
                Instant::now()
            }
        };
        let mut view = io::view(lease);
        let age = jiff::SignedDuration::try_from(first.elapsed()).unwrap_or_default();
        view.renewed = view
            .renewed
            .map(|_| jiff::Timestamp::now().checked_sub(age).unwrap_or_default());
        view
    }

    /// One round: renew this member, read who is alive, and take, renew, hand over or let go
    /// of each class Lease. `classes`: the PhoneNumberClasses that exist.
    pub async fn round(&self, classes: &[String]) -> Result<Round, kube::Error> {
        let members = io::list(&self.api, "member").await?;
        let me = self.member_name();
        let renewed = io::hold(
            &self.api,
            &me,
            &self.config.identity,
            members.get(&me),
            ("member", None),
            self.config.duration,
        )
        .await?;
        let now = jiff::Timestamp::now();
        let mut views: Vec<LeaseView> = members
            .iter()
            .filter(|(name, _)| **name != me)
            .map(|(name, l)| self.observe(name, l))
            .collect();
        if renewed.is_some() {
            views.push(LeaseView {
                holder: Some(self.config.identity.clone()),
                renewed: Some(now),
                duration_secs: i64::try_from(self.config.duration.as_secs()).unwrap_or(i64::MAX),
            });
        }
        let live = shard::live_members(&views, now);
        let placed = shard::placement(classes, &live);
        let leases: BTreeMap<String, (String, Lease)> = io::list(&self.api, "class")
            .await?
            .into_iter()
            .filter_map(|(name, l)| {
                let class = l
                    .metadata
                    .annotations
                    .as_ref()?
                    .get(CLASS_ANNOTATION)?
                    .clone();
                Some((class, (name, l)))
            })
            .collect();
        let mut all: BTreeSet<String> = classes.iter().cloned().collect();
        all.extend(self.lock().keys().cloned());
        let mut round = Round::default();
        for class in all {
            let lease = leases.get(&class);
            let view = lease.map(|(name, l)| self.observe(name, l));
            let step = shard::step(
                &self.config.identity,
                placed.get(&class).map(String::as_str),
                view.as_ref(),
                now,
            );
            self.act(&class, step, lease, &mut round).await?;
        }
        Ok(round)
    }

    async fn act(
        &self,
        class: &str,
        step: Step,
        lease: Option<&(String, Lease)>,
        round: &mut Round,
    ) -> Result<(), kube::Error> {
        let name = lease.map_or_else(
            || io::class_lease_name(&self.config.prefix, class),
            |(n, _)| n.clone(),
        );
        match step {
            Step::Acquire | Step::Renew => {
                let got = self.hold_class(class, &name, lease).await?;
                self.record(class, got, step == Step::Acquire, round);
                // Placed here again before a handover finished (the replica it was going to
                // left): the handover is off, and the class is served here again.
                let resumed = self.lock().get_mut(class).and_then(|h| h.draining.take());
                if resumed.is_some() {
                    round.acquired.push(class.to_owned());
                }
            }
            Step::HandOver => {
                let busy_since = {
                    let mut held = self.lock();
                    held.get_mut(class).and_then(|h| {
                        let since = *h.draining.get_or_insert_with(Instant::now);
                        (h.in_flight > 0).then_some(since)
                    })
                };
                match busy_since {
                    Some(since) if since.elapsed() < HANDOVER_PATIENCE => {
                        // Work in flight keeps the Lease (renewed) until it is done.
                        let got = self.hold_class(class, &name, lease).await?;
                        self.record(class, got, false, round);
                    }
                    Some(_) => {}
                    None => {
                        let current = lease.map(|(_, l)| l);
                        io::release(&self.api, &name, &self.config.identity, current).await?;
                        self.lock().remove(class);
                        round.released.push(class.to_owned());
                    }
                }
            }
            Step::Leave => {
                if self.lock().remove(class).is_some() {
                    round.released.push(class.to_owned());
                }
            }
        }
        Ok(())
    }

    /// Takes or renews `class`'s Lease `name` (as last read: `lease`).
    async fn hold_class(
        &self,
        class: &str,
        name: &str,
        lease: Option<&(String, Lease)>,
    ) -> Result<Option<Instant>, kube::Error> {
        let current = lease.map(|(_, l)| l);
        let labels = ("class", Some(class));
        io::hold(
            &self.api,
            name,
            &self.config.identity,
            current,
            labels,
            self.config.duration,
        )
        .await
    }

    fn record(&self, class: &str, got: Option<Instant>, acquiring: bool, round: &mut Round) {
        let mut held = self.lock();
        match got {
            Some(valid_until) => {
                let h = held.entry(class.to_owned()).or_insert(Held {
                    valid_until,
                    draining: None,
                    in_flight: 0,
                });
                h.valid_until = valid_until;
                if acquiring {
                    round.acquired.push(class.to_owned());
                }
            }
            None => {
                if held.remove(class).is_some() {
                    round.released.push(class.to_owned());
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "shard/tests.rs"]
mod tests;
