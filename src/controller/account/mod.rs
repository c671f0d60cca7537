//! One Talkturo account per PhoneNumberClass, shared by every reconcile of that class: the API
//! client, the **shared view of the account's number list** (one list call serves every
//! PhoneNumber; concurrent refreshes are coalesced into one call), a short-lived search cache,
//! and the plan-limit gate.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use secrecy::{ExposeSecret, SecretString};

pub use super::decide::snapshot::{
    Absences, Held, HoldPolicy, Known, PlanState, Snapshot, suspect,
};
use crate::api::v1alpha1::PhoneNumber;
use crate::talkturo::{self, Eligibility, SearchFilters};

/// What the account is known to hold, to judge a list against (a process that just started has
/// no earlier list): the class's PhoneNumbers that hold a record id.
pub type KnownNumbers = Box<dyn Fn() -> Vec<Known> + Send + Sync>;

type ListResult = Result<Arc<Snapshot>, Arc<talkturo::Error>>;

/// What identifies an account's configuration; a change rebuilds the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountKey {
    pub api_base_url: String,
    pub team_id: String,
    pub account_slug: String,
    /// The key's fingerprint (`decide::hold::key_fingerprint`), never the key: the same one the
    /// class's `status.accountIdentity` records.
    pub key_fingerprint: String,
}

impl AccountKey {
    pub fn new(
        api_base_url: &str,
        team_id: &str,
        account_slug: &str,
        token: &SecretString,
    ) -> Self {
        Self {
            api_base_url: api_base_url.to_owned(),
            team_id: team_id.to_owned(),
            account_slug: account_slug.to_owned(),
            key_fingerprint: super::decide::hold::key_fingerprint(token.expose_secret()),
        }
    }
}

mod buying;
mod campaigns;
mod list;
pub use buying::PurchaseInFlight;
mod search;
#[cfg(test)]
mod tests;

use search::CachedSearch;

/// One Talkturo account.
pub struct Account {
    pub key: AccountKey,
    pub client: talkturo::Client,
    snapshot: Mutex<Option<Arc<Snapshot>>>,
    last_error: Mutex<Option<(Timestamp, Arc<talkturo::Error>)>>,
    /// When the last list call started, for pacing.
    last_list_start: Mutex<Option<Timestamp>>,
    /// Callers waiting for (or making) a list.
    waiting: AtomicUsize,
    /// Lists are contended: they are paced until they have been quiet for a while.
    paced: AtomicBool,
    refresh: tokio::sync::Mutex<()>,
    /// Releases hold it shared; a list holds it alone while it pages (a record removed while a
    /// list pages makes it skip another).
    releases: tokio::sync::RwLock<()>,
    /// What this process is buying: a list tolerates the count growing by it (`buying`).
    buying: Mutex<buying::Buying>,
    searches: Mutex<HashMap<SearchFilters, CachedSearch>>,
    /// One search in flight per set of filters; concurrent callers wait for it and share it.
    searching: Mutex<HashMap<SearchFilters, Arc<tokio::sync::Mutex<()>>>>,
    plan: Mutex<PlanState>,
    /// Serializes budget decisions of the class (check, record intent, create the PhoneNumber).
    pub budget: Arc<tokio::sync::Mutex<BTreeMap<String, Option<rust_decimal::Decimal>>>>,
    /// Purchase calls this process sent, by number: the PhoneNumber object (uid) that sent it,
    /// and when. A reconcile that still sees that object without the attempt is working from a
    /// stale cache and must not decide again; another object of the same name (deleted and
    /// created again) never sent it.
    attempts: Mutex<HashMap<String, (String, Timestamp)>>,
    changed: UnboundedSender<ObjectRef<PhoneNumber>>,
    /// Assignments Talkturo accepted but whose read-back did not show them: number → (the
    /// assistant, when). Retried only after a back-off (`assign::UNVERIFIED_RETRY`).
    unverified: Mutex<HashMap<String, (String, Timestamp)>>,
    /// The campaign guard: live campaigns read when a release or a move is due (`campaigns`).
    campaigns: campaigns::Campaigns,
    /// One change at a time per assistant: the replace-the-set PATCH reads the set first, and
    /// two reconciles doing it at once would each put back the number the other took away.
    assistants: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    absences: Mutex<Absences>,
    /// Numbers this process released, by when: their absence is expected.
    released: Mutex<HashMap<String, Timestamp>>,
    /// How the class's lists are judged: the hold's window, a hold recorded before, a changed
    /// account, an admin's confirmation (set by the class reconcile).
    hold_policy: Mutex<HoldPolicy>,
    known: Option<KnownNumbers>,
}

/// How long a purchase attempt is remembered in memory (the watch delivers it well before).
const ATTEMPT_MEMORY: Duration = Duration::from_secs(600);

/// Counts a caller in `Account::waiting` while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Least time between the starts of two list calls of one account while lists are contended.
/// (400 ms was measured too: 72 instead of ~100 lists in a burst of 1,000, but purchases held
/// their offers longer, claims searched 367 times instead of ~95 and bound 38/s instead of 48, with
/// the search rule of then: search again after any purchase.)
const LIST_PACING: Duration = Duration::from_millis(250);

/// How long search results are reused before asking the carrier again.
const SEARCH_TTL: Duration = Duration::from_secs(10);

impl Account {
    pub fn new(
        key: AccountKey,
        client: talkturo::Client,
        plan: PlanState,
        changed: UnboundedSender<ObjectRef<PhoneNumber>>,
    ) -> Self {
        Self {
            key,
            client,
            snapshot: Mutex::new(None),
            last_error: Mutex::new(None),
            last_list_start: Mutex::new(None),
            waiting: AtomicUsize::new(0),
            paced: AtomicBool::new(false),
            refresh: tokio::sync::Mutex::new(()),
            releases: tokio::sync::RwLock::new(()),
            buying: Mutex::new(buying::Buying::default()),
            searches: Mutex::new(HashMap::new()),
            searching: Mutex::new(HashMap::new()),
            plan: Mutex::new(plan),
            budget: Arc::new(tokio::sync::Mutex::new(BTreeMap::new())),
            attempts: Mutex::new(HashMap::new()),
            changed,
            unverified: Mutex::new(HashMap::new()),
            campaigns: campaigns::Campaigns::default(),
            assistants: Mutex::new(HashMap::new()),
            absences: Mutex::new(Absences::default()),
            released: Mutex::new(HashMap::new()),
            hold_policy: Mutex::new(HoldPolicy::default()),
            known: None,
        }
    }

    /// Judges lists against `known` too (the numbers of the class's PhoneNumbers), not only
    /// against the previous list.
    pub fn with_known(mut self, known: KnownNumbers) -> Self {
        self.known = Some(known);
        self
    }

    /// How the class's lists are judged from now on (see `decide::snapshot::judge`).
    pub fn set_hold_policy(&self, policy: HoldPolicy) -> &Self {
        *lock(&self.hold_policy) = policy;
        self
    }

    /// Held while changing `assistant`'s numbers (read the set, write it, read it back).
    pub async fn changing_assistant(&self, assistant: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let gate = lock(&self.assistants)
            .entry(assistant.to_owned())
            .or_default()
            .clone();
        gate.lock_owned().await
    }

    /// Notes that assigning `number` to `assistant` was accepted but not shown at `at`.
    pub fn assignment_unverified(&self, number: &str, assistant: &str, at: Timestamp) {
        lock(&self.unverified).insert(number.to_owned(), (assistant.to_owned(), at));
    }

    /// When assigning `number` to `assistant` was last accepted but not shown, if it was.
    pub fn assignment_unverified_since(&self, number: &str, assistant: &str) -> Option<Timestamp> {
        lock(&self.unverified)
            .get(number)
            .filter(|(a, _)| a == assistant)
            .map(|(_, at)| *at)
    }

    /// Forgets a failed read-back once an assignment of `number` is verified.
    pub fn assignment_verified(&self, number: &str) {
        lock(&self.unverified).remove(number);
    }

    /// Remembers that the PhoneNumber object `uid` is sending a purchase of `number` at `at`
    /// (as recorded in its status).
    pub fn note_attempt(&self, number: &str, uid: &str, at: Timestamp) {
        let mut a = lock(&self.attempts);
        a.retain(|_, (_, t)| Timestamp::now().duration_since(*t).unsigned_abs() < ATTEMPT_MEMORY);
        a.insert(number.to_owned(), (uid.to_owned(), at));
    }

    /// Forgets an attempt that surely did not take effect.
    pub fn forget_attempt(&self, number: &str) {
        lock(&self.attempts).remove(number);
    }

    /// Whether the object `uid` sent a purchase of `number` more recent than it shows (`seen`:
    /// its `lastAttemptTime`), i.e. this copy of it is stale.
    pub fn unseen_attempt(&self, number: &str, uid: &str, seen: Option<Timestamp>) -> bool {
        lock(&self.attempts).get(number).is_some_and(|(by, at)| {
            by == uid
                && Timestamp::now().duration_since(*at).unsigned_abs() < ATTEMPT_MEMORY
                && seen.is_none_or(|s| s < *at)
        })
    }

    pub fn plan(&self) -> PlanState {
        lock(&self.plan).clone()
    }

    /// Records the figures a successful purchase sent at `sent` reported. The success lifts the
    /// limit only if it was sent after the limit was hit: a purchase that was already in flight
    /// when another was refused says nothing about room made since.
    pub fn record_eligibility(&self, e: Eligibility, sent: Timestamp) {
        let mut p = lock(&self.plan);
        if p.eligibility.as_ref().is_none_or(|(_, at)| *at <= sent) {
            p.eligibility = Some((e, sent));
        }
        if p.limit_reached.is_some_and(|(_, since)| since <= sent) {
            p.limit_reached = None;
        }
    }

    /// Records a purchase refused for the plan limit; `at` is when the refusal came back.
    pub fn record_limit_reached(&self, at: Timestamp) {
        let listed = self.current().map_or(0, |s| s.records.len() as u64);
        let mut p = lock(&self.plan);
        let count = p
            .eligibility
            .as_ref()
            .and_then(|(e, _)| e.current_count)
            .map_or(listed, |c| listed.max(u64::from(c)));
        p.limit_reached = Some((count, at));
    }

    /// Whether a purchase may be attempted now: not while the plan limit stands, unless
    /// `recheck` has passed since it was hit (then one purchase probes the plan again).
    pub fn purchase_blocked(&self, now: Timestamp, recheck: Duration) -> Option<(u64, Timestamp)> {
        let p = lock(&self.plan);
        p.limit_reached
            .filter(|(_, since)| now.duration_since(*since).unsigned_abs() < recheck)
    }
}

/// `check`'s answer once it has one, looking again each time `told` is notified, for up to
/// `bound` (then its last answer).
pub async fn wait_until<T>(
    told: &tokio::sync::Notify,
    bound: Duration,
    check: impl Fn() -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        // Registered before the check: a notification between the two is not missed.
        let notified = told.notified();
        if let Some(t) = check() {
            return Some(t);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return check();
        }
    }
}

/// Every class's account.
#[derive(Default)]
pub struct Accounts {
    map: Mutex<HashMap<String, Arc<Account>>>,
    /// Told whenever an account is built.
    built: tokio::sync::Notify,
}

impl Accounts {
    pub fn get(&self, class: &str) -> Option<Arc<Account>> {
        lock(&self.map).get(class).cloned()
    }

    /// The class's account, waiting up to `bound` for it to be built (a process that just
    /// started builds it in the class's first reconcile, a second or two away; each of the
    /// class's PhoneNumbers polling for it instead would be 100,000 reconciles every half
    /// second at 100,000 numbers).
    pub async fn wait_for(&self, class: &str, bound: Duration) -> Option<Arc<Account>> {
        wait_until(&self.built, bound, || self.get(class)).await
    }

    /// The class's account, rebuilt when its configuration changed.
    pub fn upsert(
        &self,
        class: &str,
        key: AccountKey,
        build: impl FnOnce() -> Result<Account, talkturo::Error>,
    ) -> Result<Arc<Account>, talkturo::Error> {
        let mut map = lock(&self.map);
        if let Some(a) = map.get(class).filter(|a| a.key == key) {
            return Ok(a.clone());
        }
        let account = Arc::new(build()?);
        map.insert(class.to_owned(), account.clone());
        drop(map);
        self.built.notify_waiters();
        Ok(account)
    }

    pub fn remove(&self, class: &str) {
        lock(&self.map).remove(class);
    }
}
