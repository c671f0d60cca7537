//! The number's class and its account: found, waited for (a start builds the account in the
//! class's first reconcile), or why not yet.

use std::sync::Arc;

use jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClass, PhoneNumberStatus};
use crate::controller::Context;
use crate::controller::account::Account;
use crate::controller::decide::conditions;
use crate::controller::decide::number as decide;
use crate::controller::decide::number_status::not_synced;
use crate::controller::decide::requeue;

type NotYet = (Option<Box<PhoneNumberStatus>>, Action);

/// The number's class and its account, or why not yet.
pub(super) async fn class_and_account(
    ctx: &Context,
    pn: &PhoneNumber,
    now: Timestamp,
) -> Result<(Arc<PhoneNumberClass>, Arc<Account>), NotYet> {
    let Some(class) = ctx.classes.get(&ObjectRef::new(&pn.spec.class_name)) else {
        let why = format!("PhoneNumberClass {} does not exist", pn.spec.class_name);
        let status = not_synced(pn, reasons::CLASS_NOT_FOUND, why, now);
        return Err((
            Some(Box::new(status)),
            Action::requeue(requeue::NUMBER_CLASS_MISSING),
        ));
    };
    if let Some(account) = ctx.accounts.get(&pn.spec.class_name) {
        return Ok((class, account));
    }
    let class_conditions = class.status.as_ref().map_or(&[][..], |s| &s.conditions);
    if class.status.is_none() || conditions::is_true(class_conditions, types::READY) {
        // This process has not built the class's account yet (it just started): one class
        // reconcile away, so wait for it. Nothing has changed for the number, so nothing is
        // written either way.
        return match ctx
            .accounts
            .wait_for(&pn.spec.class_name, requeue::ACCOUNT_WAIT)
            .await
        {
            Some(account) => Ok((class, account)),
            None => Err((None, Action::requeue(requeue::CACHE_CATCH_UP))),
        };
    }
    let ready = conditions::find(class_conditions, types::READY);
    let why = ready.map_or_else(
        || "the class has not been reconciled yet".to_owned(),
        |c| format!("class {} is not ready: {}", pn.spec.class_name, c.message),
    );
    // The class's own reason (its Secret is missing, the key is refused, ...), not a claim that
    // the class does not exist.
    let reason = ready.map_or(reasons::CLASS_NOT_READY, |c| {
        decide::class_reason(&c.reason)
    });
    let status = not_synced(pn, reason, why, now);
    Err((
        Some(Box::new(status)),
        Action::requeue(requeue::NUMBER_CLASS_NOT_READY),
    ))
}
