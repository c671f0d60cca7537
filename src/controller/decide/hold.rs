//! When the account suddenly looks different: the class's account identity, how its lists are
//! judged (`snapshot::judge`), and what the class says while numbers are held.
//!
//! Mass disappearance is far more likely the observer's fault (a provider bug, a proxy answering
//! for another team, a class re-pointed at another account) than the world's, so a list that
//! lacks many numbers at once, or any after the account changed, changes nothing until the
//! absence has lasted `spec.lostConfirmation` or an admin confirms it.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use super::conditions::Desired;
use super::snapshot::{DEFAULT_WINDOW, Held, HoldPolicy, Snapshot};
use super::time::{now_time, parse_duration};
use crate::api::CONFIRM_LOST_ANNOTATION;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{AccountHold, AccountIdentity, PhoneNumberClass};

/// A hold never confirms itself sooner than this many sync intervals.
pub const MIN_WINDOW_INTERVALS: u32 = 3;

/// How many held numbers the status and the message name.
const EXAMPLES: usize = 3;

/// `sha256:` and the first 16 hex digits of the key's SHA-256: enough to tell keys apart, never
/// enough to use one.
pub fn key_fingerprint(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A URL fit for a status or a message: without user information, query or fragment.
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => "(an unreadable URL)".to_owned(),
    }
}

/// The account the class reaches now, with the key it sends (`fingerprint`: [`key_fingerprint`]).
pub fn identity(class: &PhoneNumberClass, fingerprint: String) -> AccountIdentity {
    AccountIdentity {
        api_base_url: display_url(&class.spec.api_base_url),
        team_id: class.spec.team_id.clone(),
        account_slug: class.spec.account_slug.clone(),
        key_fingerprint: fingerprint,
    }
}

/// How long a held absence lasts: `spec.lostConfirmation`, at least 3 sync intervals.
pub fn window(class: &PhoneNumberClass, sync: Duration) -> Duration {
    parse_duration(&class.spec.lost_confirmation, DEFAULT_WINDOW)
        .max(sync.saturating_mul(MIN_WINDOW_INTERVALS))
}

/// How the class's lists are judged, given the account it reaches now (`current`).
pub fn policy(class: &PhoneNumberClass, current: &AccountIdentity, sync: Duration) -> HoldPolicy {
    let status = class.status.as_ref();
    HoldPolicy {
        window: window(class, sync),
        since: status.and_then(|s| s.hold.as_ref()).map(|h| h.since.0),
        changed: status
            .and_then(|s| s.account_identity.as_ref())
            .is_some_and(|recorded| recorded != current),
        confirmed: class
            .annotations()
            .get(CONFIRM_LOST_ANNOTATION)
            .and_then(|v| v.trim().parse::<Timestamp>().ok()),
    }
}

/// The identity to record: the current one once a list agrees with the class's numbers (no
/// hold); the recorded one while the new account is held, or while nothing could be listed.
pub fn recorded_identity(
    class: &PhoneNumberClass,
    listed: Option<&Snapshot>,
    current: Option<&AccountIdentity>,
) -> Option<AccountIdentity> {
    let recorded = class
        .status
        .as_ref()
        .and_then(|s| s.account_identity.clone());
    match (listed, current) {
        (Some(s), Some(c)) if s.hold.is_none() => Some(c.clone()),
        _ => recorded,
    }
}

/// `status.hold`, for a list that holds numbers.
pub fn status(snapshot: &Snapshot) -> Option<AccountHold> {
    let held = snapshot.hold?;
    let since = now_time(held.since);
    Some(AccountHold {
        reason: reason(&held).to_owned(),
        confirm_with: since.0.to_string(),
        since,
        missing: i32::try_from(snapshot.unconfirmed.len()).unwrap_or(i32::MAX),
        examples: snapshot
            .unconfirmed
            .iter()
            .take(EXAMPLES)
            .cloned()
            .collect(),
        confirm_after: now_time(held.confirm_after),
    })
}

/// The reason of a hold.
pub fn reason(held: &Held) -> &'static str {
    if held.changed {
        reasons::ACCOUNT_CHANGED
    } else {
        reasons::SUSPECT_LIST
    }
}

/// `Ready=False` while numbers are held: how many, which, until when, and how to confirm.
/// `recorded` is the account the numbers are known in (for `AccountChanged`).
pub fn ready(
    class: &PhoneNumberClass,
    hold: &AccountHold,
    recorded: Option<&AccountIdentity>,
) -> Desired {
    let more = if hold.missing as usize > hold.examples.len() {
        ", …"
    } else {
        ""
    };
    let what = match recorded {
        Some(r) if hold.reason == reasons::ACCOUNT_CHANGED => changed_what(class, r),
        _ => "the account's list suddenly lacks".to_owned(),
    };
    let message = format!(
        "{what} {} this class holds ({}{more}) since {}: too many at once, or every one it tracks, to believe. Nothing about them changes (not Lost, released, bought again or taken out of monthlyCost) and nothing is bought for the class until {}, if lists still lack them, or until an admin confirms with: kubectl annotate pnclass {} {CONFIRM_LOST_ANNOTATION}={}",
        numbers(usize::try_from(hold.missing).unwrap_or_default()),
        hold.examples.join(", "),
        hold.since.0,
        hold.confirm_after.0,
        class.name_any(),
        hold.confirm_with,
    );
    Desired::new(types::READY, false, reason_const(&hold.reason), message)
}

/// "1 number", "3 numbers".
pub fn numbers(n: usize) -> String {
    if n == 1 {
        "1 number".to_owned()
    } else {
        format!("{n} numbers")
    }
}

/// What changed about the account, for `AccountChanged`.
fn changed_what(class: &PhoneNumberClass, recorded: &AccountIdentity) -> String {
    let now = display_url(&class.spec.api_base_url);
    if now != recorded.api_base_url {
        format!(
            "apiBaseUrl changed from {} to {now}, and the account there lacks",
            recorded.api_base_url
        )
    } else {
        format!(
            "the API key changed (was {}), and the account it reaches lacks",
            recorded.key_fingerprint
        )
    }
}

fn reason_const(reason: &str) -> &'static str {
    if reason == reasons::ACCOUNT_CHANGED {
        reasons::ACCOUNT_CHANGED
    } else {
        reasons::SUSPECT_LIST
    }
}

#[cfg(test)]
mod tests;
