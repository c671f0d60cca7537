//! When a reconcile looks at an object again, by name. Watches bring most changes sooner; these
//! are the waits for what no watch announces (time passing, Talkturo changing) and the fallbacks
//! for a watch that lags.

use std::time::Duration;

/// No timer: a settled object (a bound claim, an active or `Lost` number) is looked at again only
/// when something announces a change: its own object, its PhoneNumber or claim, its class's
/// spec, its namespace's policies, or the account's list showing its record changed, gone or
/// back. A timer per object is scheduler state (~0.5 KiB with its key) and a reconcile per
/// interval for each of 100,000 objects; exact deadlines (a trial's expiry) still set one.
pub const NO_TIMER: Duration = Duration::MAX;
/// A workload looked at again by a replica that does not roll workloads (another holds the
/// router's Lease), in case it takes the router over.
pub const ROLLOUT_ELSEWHERE: Duration = Duration::from_secs(30);
/// After a write whose result a watch brings back: the fallback if it does not.
pub const AFTER_WRITE: Duration = Duration::from_secs(30);
/// A claim waiting on something only a person changes (a class, a PhoneNumber, a tenancy rule, a
/// budget, a price cap, a taken number).
pub const WAITING: Duration = Duration::from_secs(60);
/// How long after its creation a claim may wait on a transient condition without reporting it.
pub const QUIET_WAIT: Duration = Duration::from_secs(30);
/// A claim whose class is Ready but whose account this process has not built yet (it just
/// started, or took over): one class reconcile away.
pub const ACCOUNT_BUILDING: Duration = Duration::from_secs(1);
/// Longest a PhoneNumber's reconcile waits for its class's account to be built (a start's
/// first class reconcile) before it looks again later.
pub const ACCOUNT_WAIT: Duration = Duration::from_secs(5);
/// A claim whose class is not Ready.
pub const CLASS_NOT_READY: Duration = Duration::from_secs(30);
/// A claim whose spec cannot be searched for (fixed only by editing it, which wakes it).
pub const INVALID_SPEC: Duration = Duration::from_secs(300);
/// A claim whose search failed.
pub const SEARCH_FAILED: Duration = Duration::from_secs(30);
/// A claim whose every offer is held by purchases in flight, which end within seconds.
pub const OFFERS_IN_FLIGHT: Duration = Duration::from_secs(1);
/// A claim whose next step follows at once (a dropped candidate, a replaced trial number).
pub const NEXT_STEP: Duration = Duration::from_secs(1);
/// A PhoneNumber whose class does not exist.
pub const NUMBER_CLASS_MISSING: Duration = Duration::from_secs(30);
/// A PhoneNumber whose class is not Ready.
pub const NUMBER_CLASS_NOT_READY: Duration = Duration::from_secs(5);
/// A PhoneNumber whose class's account this process has not built yet, or whose cached copy
/// lacks a purchase this process just sent: the watch catches up within moments.
pub const CACHE_CATCH_UP: Duration = Duration::from_millis(500);
/// The shortest wait for a list of a given freshness.
pub const MIN_WAIT: Duration = Duration::from_millis(100);
/// A PhoneNumber whose purchase Talkturo refused (its claim deletes it and tries another).
pub const REFUSED: Duration = Duration::from_secs(300);
/// After a release Talkturo refused, the next try.
pub const RELEASE_RETRY: Duration = Duration::from_secs(3600);
/// After an assignment Talkturo accepted but did not show, the next try.
pub const ASSIGNMENT_UNVERIFIED: Duration = Duration::from_secs(600);
/// A settled number is looked at again after this many sync intervals (the class's list wakes it
/// sooner when its record changes).
pub const SETTLED_INTERVALS: u32 = 5;
/// A class's `syncInterval` when unreadable.
pub const DEFAULT_SYNC: Duration = Duration::from_secs(60);
/// A class's trial `warnBefore` when unreadable.
pub const DEFAULT_WARN_BEFORE: Duration = Duration::from_secs(24 * 3600);
/// A wake at a trial's instant is this much past it, so that the reconcile sees the new stage.
pub const PAST_THE_INSTANT: Duration = Duration::from_millis(50);
/// After a write conflict (a stale cache): at once.
pub const ON_CONFLICT: Duration = Duration::from_millis(200);
/// After another Kubernetes error.
pub const ON_KUBE_ERROR: Duration = Duration::from_secs(5);
/// After a Talkturo error.
pub const ON_TALKTURO_ERROR: Duration = Duration::from_secs(10);
/// After finding an object without a field the API server always sets.
pub const ON_INVALID_OBJECT: Duration = Duration::from_secs(300);
