//! One Talkturo account per PhoneNumberClass, shared by every reconcile of that class: the API
//! client, the **shared view of the account's number list** (one list call serves every
//! PhoneNumber; concurrent refreshes are coalesced into one call), a short-lived search cache,
//! and the plan-limit gate.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::channel::mpsc::UnboundedSender;
use jiff::{SignedDuration, Timestamp};
use kube::runtime::reflector::ObjectRef;
use secrecy::{ExposeSecret, SecretString};

use crate::api::v1alpha1::{PhoneNumber, phone_number_name};
use crate::talkturo::{self, AvailableNumber, Eligibility, NumberRecord, SearchFilters};

/// The account's numbers as one list call returned them.
#[derive(Debug)]
pub struct Snapshot {
    /// When the list call was sent: the snapshot shows the account as of this time or later.
    pub started_at: Timestamp,
    /// Records by E.164 number.
    pub records: BTreeMap<String, NumberRecord>,
    /// Numbers the account held before that this list (or one before it) suddenly lacks, too
    /// many at once to trust ([`suspect`]): nothing about them is decided (not Lost, not
    /// deleted, not bought) until lists over the class's sync interval confirm their absence.
    pub unconfirmed: BTreeSet<String>,
}

impl Snapshot {
    /// A snapshot that decides about every number it lacks.
    pub fn new(started_at: Timestamp, records: BTreeMap<String, NumberRecord>) -> Self {
        Self {
            started_at,
            records,
            unconfirmed: BTreeSet::new(),
        }
    }
}

/// Whether a list that lacks `dropped` of the `known` numbers the account held is suspect: it
/// drops more than max(2, 20 %) of them at once, or is empty while numbers are known. Pure.
pub fn suspect(known: usize, dropped: usize, listed: usize) -> bool {
    (listed == 0 && known > 0) || dropped > (known / 5).max(2)
}

/// A number a PhoneNumber of the class records as owned (it holds a record id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    pub number: String,
    /// When the operator's purchase of it came back, if it bought it: a list sent before that
    /// cannot show it.
    pub bought: Option<Timestamp>,
    /// Marked `Lost`: gone from the account's lists, still counted against the plan.
    pub lost: bool,
}

/// What the account is known to hold, to judge a list against (a process that just started has
/// no earlier list): the class's PhoneNumbers that hold a record id.
pub type KnownNumbers = Box<dyn Fn() -> Vec<Known> + Send + Sync>;

/// The numbers recent lists lacked.
#[derive(Default)]
struct Absences {
    /// Dropped by a suspect list, since then: not decided on until confirmed.
    pending: BTreeMap<String, Timestamp>,
    /// Taken as gone (confirmed, or dropped a few at a time): no longer part of what the account
    /// is known to hold, until a list shows them again.
    gone: BTreeSet<String>,
}

type ListResult = Result<Arc<Snapshot>, Arc<talkturo::Error>>;

/// Search results, when they were fetched, and how many of their offers this process has bought
/// since.
struct CachedSearch {
    at: Instant,
    hits: Arc<Vec<AvailableNumber>>,
    bought: usize,
}

impl CachedSearch {
    /// Whether a new search is worth a call while every offer here is taken. The carrier shows
    /// the cheapest offers it still has, so a new search brings one new offer per offer bought
    /// since this one; offers claims hold but have not bought yet come back. Searching after the
    /// first purchase brought about half a result of new offers (90 searches for a burst of
    /// 1,000 claims where 50 is the least); waiting for three quarters of them to be bought
    /// makes each search count. Offers that are never bought (a purchase refused, a claim
    /// deleted) hold no one up past the search TTL.
    fn spent(&self) -> bool {
        self.bought >= (self.hits.len() * 3).div_ceil(4).max(1)
    }
}

/// What identifies an account's configuration; a change rebuilds the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountKey {
    pub api_base_url: String,
    pub team_id: String,
    pub account_slug: String,
    /// A digest of the token, never the token.
    pub token_digest: u64,
}

impl AccountKey {
    pub fn new(
        api_base_url: &str,
        team_id: &str,
        account_slug: &str,
        token: &SecretString,
    ) -> Self {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        token.expose_secret().hash(&mut h);
        Self {
            api_base_url: api_base_url.to_owned(),
            team_id: team_id.to_owned(),
            account_slug: account_slug.to_owned(),
            token_digest: h.finish(),
        }
    }
}

/// The plan as the account last reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanState {
    /// The last eligibility a purchase reported, and when.
    pub eligibility: Option<(Eligibility, Timestamp)>,
    /// Set when a purchase was refused for the plan limit: the account's number count then, and
    /// when. No purchase is made until the count drops, the class changes, or `recheck` passes.
    pub limit_reached: Option<(u64, Timestamp)>,
}

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
    searches: Mutex<HashMap<SearchFilters, CachedSearch>>,
    /// One search in flight per set of filters; concurrent callers wait for it and share it.
    searching: Mutex<HashMap<SearchFilters, Arc<tokio::sync::Mutex<()>>>>,
    plan: Mutex<PlanState>,
    /// Serializes budget decisions of the class (check, record intent, create the PhoneNumber).
    pub budget: tokio::sync::Mutex<BTreeMap<String, Option<rust_decimal::Decimal>>>,
    /// Purchase calls this process sent, by number: the PhoneNumber object (uid) that sent it,
    /// and when. A reconcile that still sees that object without the attempt is working from a
    /// stale cache and must not decide again; another object of the same name (deleted and
    /// created again) never sent it.
    attempts: Mutex<HashMap<String, (String, Timestamp)>>,
    changed: UnboundedSender<ObjectRef<PhoneNumber>>,
    /// Assignments Talkturo accepted but whose read-back did not show them: number → (the
    /// assistant, when). Retried only after a back-off (`assign::UNVERIFIED_RETRY`).
    unverified: Mutex<HashMap<String, (String, Timestamp)>>,
    /// One change at a time per assistant: the replace-the-set PATCH reads the set first, and
    /// two reconciles doing it at once would each put back the number the other took away.
    assistants: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    absences: Mutex<Absences>,
    /// Numbers this process released, by when: their absence is expected.
    released: Mutex<HashMap<String, Timestamp>>,
    /// How long a suspect list's absences wait for confirmation (the class's sync interval).
    confirm_after: Mutex<Duration>,
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
            searches: Mutex::new(HashMap::new()),
            searching: Mutex::new(HashMap::new()),
            plan: Mutex::new(plan),
            budget: tokio::sync::Mutex::new(BTreeMap::new()),
            attempts: Mutex::new(HashMap::new()),
            changed,
            unverified: Mutex::new(HashMap::new()),
            assistants: Mutex::new(HashMap::new()),
            absences: Mutex::new(Absences::default()),
            released: Mutex::new(HashMap::new()),
            confirm_after: Mutex::new(Duration::from_secs(60)),
            known: None,
        }
    }

    /// Judges lists against `known` too (the numbers of the class's PhoneNumbers), not only
    /// against the previous list.
    pub fn with_known(mut self, known: KnownNumbers) -> Self {
        self.known = Some(known);
        self
    }

    /// How long a suspect list's absences wait for confirmation: the class's sync interval.
    pub fn set_confirm_after(&self, d: Duration) -> &Self {
        *lock(&self.confirm_after) = d;
        self
    }

    /// Which numbers a new list lacks without it being decided yet (see [`suspect`]).
    fn judge(
        &self,
        previous: Option<&Snapshot>,
        records: &BTreeMap<String, NumberRecord>,
        numbers: &[Known],
        started_at: Timestamp,
    ) -> BTreeSet<String> {
        let mut a = lock(&self.absences);
        a.gone.retain(|n| !records.contains_key(n));
        a.pending.retain(|n, _| !records.contains_key(n));
        let mut known: BTreeSet<String> = previous
            .map(|p| p.records.keys().chain(&p.unconfirmed).cloned().collect())
            .unwrap_or_default();
        known.extend(
            numbers
                .iter()
                .filter(|k| !k.lost && k.bought.is_none_or(|b| b < started_at))
                .map(|k| k.number.clone()),
        );
        let released = lock(&self.released);
        known.retain(|n| !a.gone.contains(n) && !released.contains_key(n));
        drop(released);
        let dropped: Vec<String> = known
            .iter()
            .filter(|n| !records.contains_key(*n) && !a.pending.contains_key(*n))
            .cloned()
            .collect();
        if suspect(known.len(), dropped.len() + a.pending.len(), records.len()) {
            for n in dropped {
                a.pending.insert(n, started_at);
            }
        } else {
            a.gone.extend(dropped);
        }
        let wait =
            SignedDuration::try_from(*lock(&self.confirm_after)).unwrap_or(SignedDuration::MAX);
        let confirmed: Vec<String> = a
            .pending
            .iter()
            .filter(|(_, since)| since.saturating_add(wait).is_ok_and(|t| t <= started_at))
            .map(|(n, _)| n.clone())
            .collect();
        for n in confirmed {
            a.pending.remove(&n);
            a.gone.insert(n);
        }
        a.pending.keys().cloned().collect()
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

    /// The latest snapshot, whatever its age.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        lock(&self.snapshot).clone()
    }

    /// A snapshot of the account's numbers taken no earlier than `fresher_than`.
    ///
    /// Reuses the current one when it is fresh enough; otherwise one caller lists and every
    /// concurrent caller waits for that same list (coalescing). A failed list is remembered, so
    /// callers asking for the same freshness get the same error without another call.
    pub async fn snapshot(&self, fresher_than: Timestamp) -> ListResult {
        if let Some(s) = self.fresh(fresher_than) {
            return s;
        }
        // Pacing under contention: once a caller finds another already waiting for (or making)
        // a list, lists start at least LIST_PACING apart until they have been quiet for twice
        // that. A burst of purchases (each waiting for a list sent after it, to see the number
        // active) then shares a few lists instead of making one each, while demands
        // that come one at a time (a single claim's lists) are never delayed.
        if self.waiting.fetch_add(1, Ordering::SeqCst) > 0 {
            self.paced.store(true, Ordering::SeqCst);
        }
        let _waiting = Waiting(&self.waiting);
        let _guard = self.refresh.lock().await;
        if let Some(s) = self.fresh(fresher_than) {
            return s;
        }
        let last = *lock(&self.last_list_start);
        if let Some(since) = last.map(|l| Timestamp::now().duration_since(l).unsigned_abs()) {
            if since >= 2 * LIST_PACING {
                self.paced.store(false, Ordering::SeqCst);
            } else if since < LIST_PACING && self.paced.load(Ordering::SeqCst) {
                tokio::time::sleep(LIST_PACING - since).await;
            }
        }
        let started_at = Timestamp::now();
        *lock(&self.last_list_start) = Some(started_at);
        match self.client.list(&self.key.team_id).await {
            Ok(records) => {
                let records: BTreeMap<String, NumberRecord> = records
                    .into_iter()
                    .map(|r| (r.phone_number.clone(), r))
                    .collect();
                let previous = self.current();
                let numbers = self.known.as_ref().map(|f| f()).unwrap_or_default();
                let unconfirmed = self.judge(previous.as_deref(), &records, &numbers, started_at);
                let lost = numbers
                    .iter()
                    .filter(|k| k.lost && !records.contains_key(&k.number))
                    .count();
                if !unconfirmed.is_empty() {
                    tracing::warn!(
                        team_id = self.key.team_id,
                        listed = records.len(),
                        missing = unconfirmed.len(),
                        "the account list lacks numbers it held before, too many at once; nothing is marked Lost until later lists confirm it"
                    );
                }
                let new = Arc::new(Snapshot {
                    started_at,
                    records,
                    unconfirmed,
                });
                let old = lock(&self.snapshot).replace(new.clone());
                self.notify_changes(old.as_deref(), &new);
                *lock(&self.last_error) = None;
                // Numbers not confirmed gone, and Lost ones, still count against the plan.
                let count = new.records.len() + new.unconfirmed.len() + lost;
                self.observe_count(count as u64, started_at);
                drop(old);
                crate::memory::release_free();
                Ok(new)
            }
            Err(e) => {
                let e = Arc::new(e);
                *lock(&self.last_error) = Some((started_at, e.clone()));
                Err(e)
            }
        }
    }

    /// The error of the account's latest list, when it failed (a list that succeeds clears it).
    pub fn list_failing(&self) -> Option<Arc<talkturo::Error>> {
        lock(&self.last_error).as_ref().map(|(_, e)| e.clone())
    }

    fn fresh(&self, fresher_than: Timestamp) -> Option<ListResult> {
        if let Some(s) = lock(&self.snapshot)
            .as_ref()
            .filter(|s| s.started_at >= fresher_than)
        {
            return Some(Ok(s.clone()));
        }
        lock(&self.last_error)
            .as_ref()
            .filter(|(at, _)| *at >= fresher_than)
            .map(|(_, e)| Err(e.clone()))
    }

    /// Applies a change this process just made at Talkturo (e.g. an assignment) to the shared
    /// view, so that reconciles reading the current snapshot do not redo it.
    pub fn write_through(&self, number: &str, change: impl FnOnce(&mut NumberRecord)) {
        let mut guard = lock(&self.snapshot);
        if let Some(current) = guard.as_ref() {
            let mut records = current.records.clone();
            if let Some(r) = records.get_mut(number) {
                change(r);
                *guard = Some(Arc::new(Snapshot {
                    started_at: current.started_at,
                    records,
                    unconfirmed: current.unconfirmed.clone(),
                }));
            }
        }
    }

    /// Removes a number this process just released from the shared view (later lists that lack
    /// it are not suspect for it).
    pub fn forget_record(&self, number: &str) {
        let mut released = lock(&self.released);
        released.retain(|_, t| Timestamp::now().duration_since(*t).unsigned_abs() < ATTEMPT_MEMORY);
        released.insert(number.to_owned(), Timestamp::now());
        drop(released);
        let mut guard = lock(&self.snapshot);
        if let Some(current) = guard.as_ref().filter(|c| c.records.contains_key(number)) {
            let mut records = current.records.clone();
            records.remove(number);
            *guard = Some(Arc::new(Snapshot {
                started_at: current.started_at,
                records,
                unconfirmed: current.unconfirmed.clone(),
            }));
        }
    }

    /// Wakes the PhoneNumbers whose record appeared, changed or disappeared.
    fn notify_changes(&self, old: Option<&Snapshot>, new: &Snapshot) {
        let empty = BTreeMap::new();
        let old = old.map_or(&empty, |s| &s.records);
        let changed = new
            .records
            .iter()
            .filter(|(n, r)| old.get(*n) != Some(r))
            .map(|(n, _)| n);
        let gone = old.keys().filter(|n| !new.records.contains_key(*n));
        for number in changed.chain(gone) {
            let _ = self
                .changed
                .unbounded_send(ObjectRef::new(&phone_number_name(number)));
        }
    }

    /// Search results for `filters`, reused for a few seconds so a burst of claims with the same
    /// criteria shares one search.
    pub async fn search(
        &self,
        filters: &SearchFilters,
    ) -> Result<Arc<Vec<AvailableNumber>>, talkturo::Error> {
        self.search_unless(filters, |_| false).await
    }

    /// Search results for a claim that found every cached offer taken: only purchases change
    /// what the carrier offers, so the cached results stay the answer (no call) until enough
    /// of their offers were bought for a new search to bring new ones ([`CachedSearch::spent`]).
    pub async fn search_for_more(
        &self,
        filters: &SearchFilters,
    ) -> Result<Arc<Vec<AvailableNumber>>, talkturo::Error> {
        self.search_unless(filters, CachedSearch::spent).await
    }

    async fn search_unless(
        &self,
        filters: &SearchFilters,
        stale: impl Fn(&CachedSearch) -> bool,
    ) -> Result<Arc<Vec<AvailableNumber>>, talkturo::Error> {
        let cached = || {
            lock(&self.searches)
                .get(filters)
                .filter(|c| c.at.elapsed() < SEARCH_TTL && !stale(c))
                .map(|c| c.hits.clone())
        };
        if let Some(hits) = cached() {
            return Ok(hits);
        }
        // Coalesce: whoever gets the filters' lock searches; the others then find its results.
        let gate = lock(&self.searching)
            .entry(filters.clone())
            .or_default()
            .clone();
        let _searching = gate.lock().await;
        if let Some(hits) = cached() {
            return Ok(hits);
        }
        let at = Instant::now();
        let hits = Arc::new(self.client.search(filters).await?.numbers);
        let mut searches = lock(&self.searches);
        searches.retain(|_, c| c.at.elapsed() < SEARCH_TTL);
        let fetched = CachedSearch {
            at,
            hits: hits.clone(),
            bought: 0,
        };
        searches.insert(filters.clone(), fetched);
        Ok(hits)
    }

    /// The offer of `number` in the cached search results, if a recent search showed it.
    pub fn cached_offer(&self, number: &str) -> Option<AvailableNumber> {
        lock(&self.searches)
            .values()
            .flat_map(|c| c.hits.iter())
            .find(|o| o.phone_number == number)
            .cloned()
    }

    /// Drops cached search results (after a number turned out not to be on offer).
    pub fn forget_searches(&self) {
        lock(&self.searches).clear();
    }

    /// Notes that `number` was bought: the cached searches that offered it are that much out
    /// of date.
    pub fn purchase_completed(&self, number: &str) {
        for cached in lock(&self.searches).values_mut() {
            if cached.hits.iter().any(|o| o.phone_number == number) {
                cached.bought += 1;
            }
        }
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

    /// A lower number count than when the limit was hit means room was made, if the list was
    /// started after the refusal came back (an older list may predate the numbers that filled
    /// the plan).
    fn observe_count(&self, count: u64, listed_at: Timestamp) {
        let mut p = lock(&self.plan);
        if p.limit_reached
            .is_some_and(|(at_count, since)| since <= listed_at && count < at_count)
        {
            p.limit_reached = None;
        }
    }

    /// Whether a purchase may be attempted now: not while the plan limit stands, unless
    /// `recheck` has passed since it was hit (then one purchase probes the plan again).
    pub fn purchase_blocked(&self, now: Timestamp, recheck: Duration) -> Option<(u64, Timestamp)> {
        let p = lock(&self.plan);
        p.limit_reached
            .filter(|(_, since)| now.duration_since(*since).unsigned_abs() < recheck)
    }
}

/// Every class's account.
#[derive(Default)]
pub struct Accounts {
    map: Mutex<HashMap<String, Arc<Account>>>,
}

impl Accounts {
    pub fn get(&self, class: &str) -> Option<Arc<Account>> {
        lock(&self.map).get(class).cloned()
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
        Ok(account)
    }

    pub fn remove(&self, class: &str) {
        lock(&self.map).remove(class);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        let token = SecretString::from("t");
        let client = talkturo::Client::new(talkturo::ClientConfig::new(
            "http://127.0.0.1:9",
            token.clone(),
        ))
        .unwrap();
        let (tx, _rx) = futures::channel::mpsc::unbounded();
        Account::new(
            AccountKey::new("http://127.0.0.1:9", "team", "acct", &token),
            client,
            PlanState::default(),
            tx,
        )
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    const RECHECK: Duration = Duration::from_secs(3600);

    fn counted(n: u32) -> Eligibility {
        Eligibility {
            current_count: Some(n),
            ..Eligibility::default()
        }
    }

    fn offer(number: &str) -> AvailableNumber {
        AvailableNumber {
            phone_number: number.to_owned(),
            monthly_price: None,
            setup_price: None,
            features: vec![],
        }
    }

    #[test]
    fn a_list_is_suspect_when_it_drops_more_than_a_few_or_all_known_numbers() {
        assert!(!suspect(0, 0, 0), "nothing known, nothing listed");
        assert!(suspect(1, 1, 0), "empty while a number is known");
        assert!(!suspect(1, 1, 1), "one of one gone, another listed");
        assert!(!suspect(10, 2, 8));
        assert!(suspect(10, 3, 7), "more than 2");
        assert!(!suspect(100, 20, 80));
        assert!(suspect(100, 21, 79), "more than 20 %");
    }

    fn record(number: &str) -> NumberRecord {
        serde_json::from_value(serde_json::json!({
            "id": format!("pn_{}", &number[1..]), "phone_number": number, "status": "active"
        }))
        .unwrap()
    }

    fn listing(numbers: &[&str]) -> BTreeMap<String, NumberRecord> {
        numbers
            .iter()
            .map(|n| ((*n).to_owned(), record(n)))
            .collect()
    }

    #[test]
    fn a_suspect_lists_absences_wait_one_sync_interval_for_confirmation() {
        let a = account();
        a.set_confirm_after(Duration::from_secs(60));
        let all = [
            "+14155550101",
            "+14155550102",
            "+14155550103",
            "+14155550104",
        ];
        let full = Snapshot::new(at(0), listing(&all));
        // Empty while four were listed: suspect, nothing decided.
        let empty = a.judge(Some(&full), &BTreeMap::new(), &[], at(10));
        assert_eq!(empty.len(), 4);
        let held = Snapshot {
            started_at: at(10),
            records: BTreeMap::new(),
            unconfirmed: empty,
        };
        // One comes back; the others stay undecided until a list 60 s after the first.
        let later = a.judge(Some(&held), &listing(&all[..1]), &[], at(40));
        assert_eq!(later.len(), 3);
        let held = Snapshot {
            started_at: at(40),
            records: listing(&all[..1]),
            unconfirmed: later,
        };
        let confirmed = a.judge(Some(&held), &listing(&all[..1]), &[], at(70));
        assert!(confirmed.is_empty(), "confirmed absent: decided now");
        // Gone for good: a later list lacking them is not suspect about them again.
        let after = Snapshot::new(at(70), listing(&all[..1]));
        assert!(
            a.judge(Some(&after), &listing(&all[..1]), &[], at(80))
                .is_empty()
        );
    }

    #[test]
    fn a_few_numbers_gone_or_released_by_us_are_decided_at_once() {
        let a = account();
        let all = [
            "+14155550101",
            "+14155550102",
            "+14155550103",
            "+14155550104",
        ];
        let full = Snapshot::new(at(0), listing(&all));
        assert!(
            a.judge(Some(&full), &listing(&all[..3]), &[], at(10))
                .is_empty()
        );
        // Released by this process: expected to be absent.
        a.forget_record("+14155550103");
        a.forget_record("+14155550102");
        let three = Snapshot::new(at(10), listing(&all[..3]));
        assert!(
            a.judge(Some(&three), &listing(&all[..1]), &[], at(20))
                .is_empty()
        );
    }

    #[test]
    fn a_fresh_process_judges_its_first_list_against_the_phone_numbers() {
        let known = |n: &str, bought: Option<Timestamp>, lost: bool| Known {
            number: n.to_owned(),
            bought,
            lost,
        };
        let numbers = [
            known("+14155550101", None, false),
            known("+14155550102", Some(at(-5)), false),
            known("+14155550103", Some(at(1)), false),
            known("+14155550104", Some(at(2)), false),
            known("+14155550105", Some(at(-9)), true),
        ];
        let unconfirmed = account().judge(None, &BTreeMap::new(), &numbers, at(0));
        assert_eq!(
            unconfirmed.into_iter().collect::<Vec<_>>(),
            ["+14155550101", "+14155550102"],
            "an empty first list is suspect, but not about numbers bought after it was sent, \
             nor about numbers already Lost"
        );
    }

    #[test]
    fn a_search_is_spent_once_three_quarters_of_its_offers_are_bought() {
        let cached = |offers: usize, bought: usize| CachedSearch {
            at: Instant::now(),
            hits: Arc::new(
                (0..offers)
                    .map(|i| offer(&format!("+1415555{i:04}")))
                    .collect(),
            ),
            bought,
        };
        assert!(!cached(20, 14).spent());
        assert!(cached(20, 15).spent());
        assert!(!cached(3, 2).spent());
        assert!(cached(3, 3).spent());
        assert!(cached(1, 1).spent());
        // No offers: nothing to buy from it, a new search waits for the TTL.
        assert!(!cached(0, 0).spent());
    }

    #[tokio::test]
    async fn claims_looking_for_more_offers_share_the_cached_search_until_enough_are_bought() {
        let a = account();
        let filters = SearchFilters {
            country_code: "US".into(),
            area_code: Some("415".into()),
            ..SearchFilters::default()
        };
        let hits = Arc::new(vec![
            offer("+14155550101"),
            offer("+14155550102"),
            offer("+14155550103"),
            offer("+14155550104"),
        ]);
        lock(&a.searches).insert(
            filters.clone(),
            CachedSearch {
                at: Instant::now(),
                hits: hits.clone(),
                bought: 0,
            },
        );
        a.purchase_completed("+14155550101");
        a.purchase_completed("+14155550102");
        // A number the cached results did not offer changes nothing for them.
        a.purchase_completed("+12125550101");
        let more = a.search_for_more(&filters).await.unwrap();
        assert!(
            Arc::ptr_eq(&more, &hits),
            "2 of 4 bought: the cached results, no call"
        );
        a.purchase_completed("+14155550103");
        // 3 of 4 bought: the carrier is asked again (here it is unreachable: the call fails).
        assert!(a.search_for_more(&filters).await.is_err());
        // A claim with offers to choose from keeps using the cached results meanwhile.
        assert!(Arc::ptr_eq(&a.search(&filters).await.unwrap(), &hits));
    }

    #[test]
    fn a_success_sent_before_the_refusal_does_not_lift_the_plan_limit() {
        let a = account();
        a.record_eligibility(counted(1), at(0));
        a.record_limit_reached(at(2));
        // A purchase that was in flight when the limit was hit comes back successful.
        a.record_eligibility(counted(2), at(1));
        assert_eq!(a.purchase_blocked(at(3), RECHECK), Some((1, at(2))));
        // The figures of the older success do not replace newer ones either.
        a.record_eligibility(counted(1), at(0));
        assert_eq!(
            a.plan().eligibility.map(|(e, _)| e.current_count),
            Some(Some(2))
        );
        // A purchase sent after the limit (the recheck probe) that succeeds lifts it.
        a.record_eligibility(counted(2), at(2));
        assert_eq!(a.purchase_blocked(at(3), RECHECK), None);
    }

    #[test]
    fn only_a_list_started_after_the_refusal_with_fewer_numbers_lifts_the_plan_limit() {
        let a = account();
        a.record_eligibility(counted(2), at(0));
        a.record_limit_reached(at(5));
        // A list sent before the refusal, when fewer numbers had been bought yet.
        a.observe_count(0, at(4));
        assert!(a.purchase_blocked(at(6), RECHECK).is_some());
        // A later list with as many numbers: still full.
        a.observe_count(2, at(6));
        assert!(a.purchase_blocked(at(7), RECHECK).is_some());
        // The recheck interval lets one purchase probe the plan.
        assert!(a.purchase_blocked(at(5 + 3600), RECHECK).is_none());
        // A later list with fewer numbers: room was made.
        a.observe_count(1, at(7));
        assert!(a.purchase_blocked(at(8), RECHECK).is_none());
    }

    #[test]
    fn an_attempt_makes_only_the_object_that_sent_it_look_stale() {
        let a = account();
        let sent = Timestamp::now();
        let number = "+14155550100";
        assert!(!a.unseen_attempt(number, "uid-1", None), "nothing sent");
        a.note_attempt(number, "uid-1", sent);
        assert!(
            a.unseen_attempt(number, "uid-1", None),
            "the sender's copy without the attempt is stale"
        );
        assert!(
            a.unseen_attempt(number, "uid-1", Some(sent - Duration::from_secs(5))),
            "so is one showing only an older attempt"
        );
        assert!(
            !a.unseen_attempt(number, "uid-1", Some(sent)),
            "a copy showing it is not"
        );
        assert!(
            !a.unseen_attempt(number, "uid-2", None),
            "an object of the same number created since never sent it"
        );
        a.forget_attempt(number);
        assert!(!a.unseen_attempt(number, "uid-1", None), "forgotten");
    }
}
