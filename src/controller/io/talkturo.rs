//! The Talkturo calls that change the account: the purchase, the assignment (with its read-back)
//! and the release. Each returns what came back; the reconciles decide what it means.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::controller::account::Account;
use crate::controller::decide::{assign, time::time_ceil};
use crate::talkturo::{self, NumberRecord};

/// A purchase call's answer and when it came back.
pub struct Sent {
    pub result: Result<talkturo::Purchase, talkturo::Error>,
    /// When the call came back, as recorded: the client may have retried it (after a 429's
    /// Retry-After), and what a later list must show is judged from when the purchase can last
    /// have taken effect.
    pub returned: Timestamp,
    /// The attempt's time as the status records it (rounded up to the second).
    pub at: Time,
}

/// Buys `number` for the PhoneNumber object `uid` (with the class's `connectionId`, if any).
/// The attempt is noted in memory first, so a reconcile that still sees this object without it
/// waits for the watch instead of deciding on a stale copy.
pub async fn purchase(
    account: &Account,
    (number, connection_id): (&str, Option<&str>),
    uid: &str,
    now: Timestamp,
) -> Sent {
    let sent = time_ceil(now);
    account.note_attempt(number, uid, sent.0);
    let in_flight = account.purchase_sent(number);
    let result = account
        .client
        .purchase_via(number, &account.key.team_id, connection_id)
        .await;
    in_flight.answered(&result);
    let returned = Timestamp::now();
    let at = time_ceil(returned).max(sent);
    Sent {
        result,
        returned,
        at,
    }
}

/// Gives the number `id` to `to` (the replace-the-set call with that one id) and reads the
/// assistant's numbers back: the record showing `id` on `to`, if the read-back has it.
pub async fn assign(
    account: &Account,
    to: &str,
    id: &str,
) -> Result<Result<Option<NumberRecord>, talkturo::Error>, talkturo::Error> {
    let _changing = account.changing_assistant(to).await;
    if let Err(e) = account
        .client
        .assign(to, &account.key.account_slug, &[id.to_owned()])
        .await
    {
        return Ok(Err(e));
    }
    // Verified by reading the assistant's numbers back (the API's semantics are not documented).
    let held = account.client.assistant_numbers(to).await?;
    Ok(Ok(held.into_iter().find(|r| {
        r.id == id && r.assistant_id.as_deref() == Some(to)
    })))
}

/// Takes `id` out of `assistant`'s set (the replace-the-set call is the only unassign), keeping
/// every other number it holds.
pub async fn unassign(account: &Account, assistant: &str, id: &str) -> Result<(), talkturo::Error> {
    let _changing = account.changing_assistant(assistant).await;
    let held = match account.client.assistant_numbers(assistant).await {
        Ok(h) => h,
        // The other assistant is gone: nothing holds the number there any more.
        Err(e) if e.status() == Some(404) => return Ok(()),
        Err(e) => return Err(e),
    };
    let listed = account.current();
    let others: Vec<&NumberRecord> = listed.iter().flat_map(|s| s.records.values()).collect();
    match assign::keep_without(&held, &others, assistant, id) {
        // Not there (any more): nothing to take away, and no PATCH that could touch the others.
        None => Ok(()),
        Some(keep) => account.client.set_assistant_numbers(assistant, &keep).await,
    }
}

/// Releases the record `id`; the account's view forgets the number once Talkturo says so.
pub async fn release(account: &Account, number: &str, id: &str) -> Result<(), talkturo::Error> {
    {
        let _releasing = account.releasing().await;
        account.client.release(id).await?;
    }
    account.forget_record(number);
    Ok(())
}
