//! PhoneNumberClass reconciler: resolves the API key, builds the class's shared account, reads
//! the account list once per `syncInterval` (which feeds every PhoneNumber of the class), and
//! reports readiness, plan and budget state, totals and unmanaged numbers.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use rust_decimal::Decimal;
use secrecy::SecretString;

use super::account::{Account, AccountKey, PlanState, Snapshot};
use super::conditions::{self, Desired};
use super::{CLASS_LABEL, Context, Error, now_time, parse_duration};
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{
    AccountStatus, ClassTotals, ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberClass,
    PhoneNumberClassStatus, PhoneNumberSpec, ReclaimPolicy, phone_number_name,
};
use crate::talkturo::{self, ClientConfig};

const MANAGED: &[&str] = &[
    types::READY,
    types::PLAN_LIMIT_REACHED,
    types::BUDGET_EXCEEDED,
    types::SUSPECT_LIST,
];

/// Why the class cannot reach its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    pub reason: &'static str,
    pub message: String,
}

pub async fn reconcile(class: Arc<PhoneNumberClass>, ctx: Arc<Context>) -> Result<Action, Error> {
    let now = Timestamp::now();
    let name = class.name_any();
    let sync = parse_duration(&class.spec.sync_interval, Duration::from_secs(60));
    let account = match insecure_url(&class.spec) {
        Some(nr) => Err(nr),
        None => fetch_token(&ctx.client, &class).await,
    };
    let account = match account {
        Ok(token) => build_account(&ctx, &class, token).map_err(|e| NotReady {
            reason: reasons::INVALID_SPEC,
            message: e.to_string(),
        }),
        Err(nr) => Err(nr),
    };
    let listed = match &account {
        Ok(a) => a
            .set_confirm_after(sync)
            .snapshot(
                now.saturating_sub(SignedDuration::try_from(sync).unwrap_or_default())
                    .unwrap_or(now),
            )
            .await
            .map_err(|e| not_ready(&e)),
        Err(nr) => {
            ctx.accounts.remove(&name);
            Err(nr.clone())
        }
    };
    let plan = account.as_ref().map(|a| a.plan()).unwrap_or_default();
    let all = ctx.numbers.state();
    let known: BTreeSet<String> = all.iter().map(|n| n.name_any()).collect();
    if class.spec.import_unmanaged
        && let Ok(snapshot) = &listed
    {
        import_unmanaged(&ctx, &class, snapshot, &known).await?;
    }
    let numbers: Vec<Arc<PhoneNumber>> = all
        .into_iter()
        .filter(|n| n.spec.class_name == name)
        .collect();
    let status = desired_status(
        &class,
        listed.as_deref().map_err(Clone::clone),
        &plan,
        &numbers,
        &known,
        now,
    );

    let was_ready = class
        .status
        .as_ref()
        .is_some_and(|s| conditions::is_true(&s.conditions, types::READY));
    let ready = conditions::is_true(&status.conditions, types::READY);
    if was_ready != ready || class.status.is_none() {
        let c = conditions::find(&status.conditions, types::READY);
        let (reason, message) = c.map_or(
            (reasons::ACCOUNT_REACHABLE.to_owned(), String::new()),
            |c| (c.reason.clone(), c.message.clone()),
        );
        ctx.event(
            class.as_ref(),
            if ready {
                EventType::Normal
            } else {
                EventType::Warning
            },
            &reason,
            "Sync",
            message,
        )
        .await;
    }
    ctx.metrics.observe_class(
        &name,
        &super::figures::of(
            &class,
            &status,
            &numbers,
            listed.as_deref().ok(),
            now,
            ctx.config.outcome_alert_after,
        ),
    );
    if class.status.as_ref() != Some(&status) {
        ctx.apply_status(
            Api::all(ctx.client.clone()),
            class.as_ref(),
            &status,
            None,
            "writing PhoneNumberClass status",
        )
        .await?;
    }
    Ok(Action::requeue(sync))
}

/// `importUnmanaged`: an `ObserveOnly` PhoneNumber for every account number no PhoneNumber
/// represents. Creating `tel-<digits>` is atomic, so racing a claim that creates the same object
/// for a purchase is harmless (one of the two creates fails with AlreadyExists). ObserveOnly
/// numbers are never assigned, moved or released by the operator.
async fn import_unmanaged(
    ctx: &Context,
    class: &PhoneNumberClass,
    snapshot: &Snapshot,
    known: &BTreeSet<String>,
) -> Result<(), Error> {
    let api: Api<PhoneNumber> = Api::all(ctx.client.clone());
    for record in snapshot.records.values() {
        let name = phone_number_name(&record.phone_number);
        if known.contains(&name) {
            continue;
        }
        let pn = PhoneNumber {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(CLASS_LABEL.to_owned(), class.name_any())].into()),
                ..Default::default()
            },
            spec: PhoneNumberSpec {
                number: record.phone_number.clone(),
                class_name: class.name_any(),
                claim_ref: None,
                assistant_id: None,
                reclaim_policy: ReclaimPolicy::Retain,
                management_policy: ManagementPolicy::ObserveOnly,
            },
            status: None,
        };
        match api.create(&PostParams::default(), &pn).await {
            Ok(_) => {
                tracing::info!(
                    number = record.phone_number,
                    class = class.name_any(),
                    "imported"
                );
                ctx.event(
                    class,
                    EventType::Normal,
                    "Imported",
                    "Import",
                    format!(
                        "imported {} (record {}) as PhoneNumber {name}, ObserveOnly: never released \
                         or reassigned by the operator",
                        record.phone_number, record.id
                    ),
                )
                .await;
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(Error::kube("importing an unmanaged number")(e)),
        }
    }
    Ok(())
}

/// Why the class's `apiBaseUrl` may not be used, if it would send the key in clear text to a host
/// other than a loopback address without `allowInsecureHTTP` (the schema refuses it too; this
/// covers CRDs installed without that rule). Pure.
pub fn insecure_url(spec: &crate::api::v1alpha1::PhoneNumberClassSpec) -> Option<NotReady> {
    let url = reqwest::Url::parse(&spec.api_base_url).ok()?;
    let loopback = match url.host()? {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    (url.scheme() == "http" && !loopback && !spec.allow_insecure_http).then(|| NotReady {
        reason: reasons::INSECURE_URL,
        message: format!(
            "apiBaseUrl {} is plain http:// to {}: the API key would travel in clear text; use https://, or set allowInsecureHTTP: true for a trusted network",
            spec.api_base_url,
            url.host_str().unwrap_or_default()
        ),
    })
}

/// The API token from the class's Secret.
pub async fn fetch_token(
    client: &kube::Client,
    class: &PhoneNumberClass,
) -> Result<SecretString, NotReady> {
    let r = &class.spec.api_key_secret_ref;
    let api: Api<Secret> = Api::namespaced(client.clone(), &r.namespace);
    let secret = match api.get_opt(&r.name).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(NotReady {
                reason: reasons::SECRET_NOT_FOUND,
                message: format!("Secret {}/{} does not exist", r.namespace, r.name),
            });
        }
        Err(kube::Error::Api(s)) if s.code == 403 => {
            return Err(NotReady {
                reason: reasons::FORBIDDEN,
                message: format!(
                    "the operator may not read Secret {}/{}: {}",
                    r.namespace, r.name, s.message
                ),
            });
        }
        Err(e) => {
            return Err(NotReady {
                reason: reasons::UNREACHABLE,
                message: format!("reading Secret {}/{}: {e}", r.namespace, r.name),
            });
        }
    };
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned());
    match value {
        Some(v) if !v.is_empty() => Ok(SecretString::from(v)),
        Some(_) => Err(NotReady {
            reason: reasons::SECRET_KEY_MISSING,
            message: format!(
                "key {:?} of Secret {}/{} is empty",
                r.key, r.namespace, r.name
            ),
        }),
        None => Err(NotReady {
            reason: reasons::SECRET_KEY_MISSING,
            message: format!("Secret {}/{} has no key {:?}", r.namespace, r.name, r.key),
        }),
    }
}

fn build_account(
    ctx: &Context,
    class: &PhoneNumberClass,
    token: SecretString,
) -> Result<Arc<Account>, talkturo::Error> {
    let s = &class.spec;
    let key = AccountKey::new(&s.api_base_url, &s.team_id, &s.account_slug, &token);
    ctx.accounts.upsert(&class.name_any(), key.clone(), || {
        let mut cfg = ClientConfig::new(s.api_base_url.clone(), token);
        cfg.timeout = ctx.config.talkturo_timeout;
        cfg.max_list_records = ctx.config.max_list_records;
        cfg.max_list_time = ctx.config.max_list_time;
        let client = talkturo::Client::new(cfg)?.with_metrics(ctx.metrics.talkturo.clone());
        let numbers = ctx.numbers.clone();
        let class_name = class.name_any();
        // What the class's PhoneNumbers say the account holds: a list is judged against it
        // too, so that a process that just started does not take an empty list for the truth.
        let known: super::account::KnownNumbers = Box::new(move || {
            numbers
                .state()
                .iter()
                .filter(|n| n.spec.class_name == class_name)
                .filter_map(|n| {
                    let s = n.status.as_ref()?;
                    s.id.as_ref()?;
                    Some(super::account::Known {
                        number: n.spec.number.clone(),
                        bought: s
                            .purchase
                            .as_ref()
                            .and_then(|p| p.last_attempt_time.as_ref())
                            .map(|t| t.0),
                        lost: s.phase == Some(NumberPhase::Lost),
                    })
                })
                .collect()
        });
        Ok(Account::new(
            key,
            client,
            persisted_plan(class),
            ctx.number_changed.clone(),
        )
        .with_known(known))
    })
}

/// The plan-limit state a previous incarnation recorded in the class's status, so a restart does
/// not probe the limit with another purchase.
fn persisted_plan(class: &PhoneNumberClass) -> PlanState {
    let Some(st) = class.status.as_ref() else {
        return PlanState::default();
    };
    let limit = conditions::find(&st.conditions, types::PLAN_LIMIT_REACHED)
        .filter(|c| c.status == "True")
        .map(|c| {
            let count = st
                .account
                .as_ref()
                .and_then(|a| a.numbers_at_limit.or(a.number_count))
                .unwrap_or(0)
                .max(0) as u64;
            (count, c.last_transition_time.0)
        });
    PlanState {
        eligibility: None,
        limit_reached: limit,
    }
}

/// The reason and message for a failed list.
pub fn not_ready(e: &talkturo::Error) -> NotReady {
    let reason = match (e.status(), e) {
        (Some(401), _) => reasons::UNAUTHORIZED,
        (Some(403), _) => reasons::FORBIDDEN,
        (_, talkturo::Error::InvalidResponse { .. } | talkturo::Error::Redirect { .. }) => {
            reasons::INVALID_RESPONSE
        }
        (_, talkturo::Error::InvalidRequest { .. }) => reasons::INVALID_SPEC,
        (Some(s), _) if s < 500 && s != 429 && s != 408 => reasons::INVALID_RESPONSE,
        _ => reasons::UNREACHABLE,
    };
    NotReady {
        reason,
        message: e.to_string(),
    }
}

/// The class's status, from what was observed. Pure.
pub fn desired_status(
    class: &PhoneNumberClass,
    listed: Result<&Snapshot, NotReady>,
    plan: &PlanState,
    numbers: &[Arc<PhoneNumber>],
    known: &BTreeSet<String>,
    now: Timestamp,
) -> PhoneNumberClassStatus {
    let prev = class.status.clone().unwrap_or_default();
    let generation = class.metadata.generation;
    let mut desired = Vec::new();
    match &listed {
        Ok(s) => desired.push(Desired::new(
            types::READY,
            true,
            reasons::ACCOUNT_REACHABLE,
            format!(
                "team {} lists {} numbers",
                class.spec.team_id,
                s.records.len()
            ),
        )),
        Err(nr) => desired.push(Desired::new(
            types::READY,
            false,
            nr.reason,
            nr.message.clone(),
        )),
    }
    let totals = totals(numbers);
    match (
        &listed,
        conditions::find(&prev.conditions, types::SUSPECT_LIST),
    ) {
        (Ok(s), _) if !s.unconfirmed.is_empty() => {
            let some: Vec<&str> = s.unconfirmed.iter().take(3).map(String::as_str).collect();
            desired.push(Desired::new(
                types::SUSPECT_LIST,
                true,
                reasons::NUMBERS_MISSING,
                format!(
                    "the account list lacks {} numbers it held before ({}{}), too many at once to trust; they are not marked Lost, released or bought again until lists over {} confirm it",
                    s.unconfirmed.len(),
                    some.join(", "),
                    if s.unconfirmed.len() > some.len() { ", …" } else { "" },
                    class.spec.sync_interval
                ),
            ));
        }
        (Ok(_), _) => desired.push(Desired::new(
            types::SUSPECT_LIST,
            false,
            reasons::LIST_CONSISTENT,
            "the account list is consistent with the numbers held before",
        )),
        // No list: what was said last stands.
        (Err(_), Some(c)) => desired.push(Desired::new(
            types::SUSPECT_LIST,
            c.status == "True",
            if c.status == "True" {
                reasons::NUMBERS_MISSING
            } else {
                reasons::LIST_CONSISTENT
            },
            c.message.clone(),
        )),
        (Err(_), None) => {}
    }
    match plan.limit_reached {
        Some((count, _)) => desired.push(Desired::new(types::PLAN_LIMIT_REACHED, true, reasons::PLAN_LIMIT_REACHED, format!("Talkturo refused a purchase for the plan limit with {count} numbers in the account; no purchase is made until a number is released or the plan changes"))),
        None => desired.push(Desired::new(types::PLAN_LIMIT_REACHED, false, reasons::WITHIN_PLAN_LIMIT, "purchases are within the plan")),
    }
    if let Some(budget) = class
        .spec
        .monthly_budget
        .as_deref()
        .and_then(|b| Decimal::from_str(b).ok())
    {
        // What the budget gate counts: Lost numbers and purchases in flight too.
        let spent = super::claim::committed_cost(numbers, &class.name_any());
        let exceeded = spent.total().is_none_or(|cost| cost >= budget);
        let msg = match spent.total() {
            Some(cost) => format!("numbers cost ${cost:.2}/month of a ${budget} budget"),
            None => format!(
                "numbers cost ${spent}/month; with prices unknown, nothing more is bought within the ${budget} budget"
            ),
        };
        desired.push(Desired::new(
            types::BUDGET_EXCEEDED,
            exceeded,
            if exceeded {
                reasons::BUDGET_EXCEEDED
            } else {
                reasons::WITHIN_BUDGET
            },
            msg,
        ));
    }
    let account = match &plan.eligibility {
        Some((e, at)) => Some(AccountStatus {
            plan_name: e.plan_name.clone(),
            subscribed: e.has_subscription,
            number_count: e.current_count.map(|c| c as i32),
            number_limit: e.max_allowed.map(|c| c as i32),
            numbers_at_limit: None,
            observed_at: Some(now_time(*at)),
        }),
        None => prev.account.clone(),
    };
    // The count the limit was hit at, so that a restart reports the limit in the same words.
    let at_limit = plan
        .limit_reached
        .map(|(count, _)| i32::try_from(count).unwrap_or(i32::MAX));
    let account = match (account, at_limit) {
        (None, None) => None,
        (a, n) => Some(AccountStatus {
            numbers_at_limit: n,
            ..a.unwrap_or_default()
        }),
    };
    let unmanaged = listed.ok().map(|s| {
        s.records
            .keys()
            .filter(|n| !known.contains(&phone_number_name(n)))
            .count() as i32
    });
    PhoneNumberClassStatus {
        observed_generation: generation,
        conditions: conditions::merge(
            &prev.conditions,
            &desired,
            MANAGED,
            generation,
            &now_time(now),
        ),
        account,
        totals: Some(totals),
        unmanaged_numbers: unmanaged.or(prev.unmanaged_numbers),
    }
}

/// Counts and monthly cost of the class's owned numbers.
pub fn totals(numbers: &[Arc<PhoneNumber>]) -> ClassTotals {
    let mut t = ClassTotals {
        monthly_cost: "0.00".into(),
        ..Default::default()
    };
    for n in numbers {
        let Some(st) = n
            .status
            .as_ref()
            .filter(|s| s.id.is_some() && s.phase != Some(NumberPhase::Lost))
        else {
            continue;
        };
        t.numbers += 1;
        match st.phase {
            Some(NumberPhase::Bound) => t.bound += 1,
            Some(NumberPhase::Available) => t.available += 1,
            _ => {}
        }
        if st.is_trial == Some(true) {
            t.trial += 1;
        }
    }
    t.monthly_cost = super::figures::spend(numbers).to_string();
    t
}

/// The classes to reconcile when a PhoneNumber changes.
pub fn for_number(pn: &PhoneNumber) -> Option<ObjectRef<PhoneNumberClass>> {
    Some(ObjectRef::new(&pn.spec.class_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::PhoneNumberClassSpec;

    fn spec(url: &str, allow: bool) -> PhoneNumberClassSpec {
        let mut s: PhoneNumberClassSpec = serde_json::from_value(serde_json::json!({
            "apiBaseUrl": url, "teamId": "t", "accountSlug": "a",
            "apiKeySecretRef": {"namespace": "n", "name": "s"}
        }))
        .unwrap_or_else(|e| unreachable!("{e}"));
        s.allow_insecure_http = allow;
        s
    }

    #[test]
    fn a_restart_reports_the_plan_limit_with_the_count_it_was_hit_at() {
        let class: PhoneNumberClass = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "c"},
            "spec": {"apiBaseUrl": "http://127.0.0.1:1", "teamId": "t", "accountSlug": "a",
                     "apiKeySecretRef": {"namespace": "n", "name": "s"}},
            "status": {
                "conditions": [{"type": "PlanLimitReached", "status": "True",
                    "reason": "PlanLimitReached", "message": "m",
                    "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                // The last successful purchase reported 19; the refusal came at 20.
                "account": {"numberCount": 19, "numbersAtLimit": 20},
            },
        }))
        .unwrap_or_else(|e| unreachable!("{e}"));
        let plan = persisted_plan(&class);
        assert_eq!(plan.limit_reached.map(|(n, _)| n), Some(20));
        // And the status written from that plan keeps the count.
        let now = Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::MIN);
        let st = desired_status(
            &class,
            Err(NotReady {
                reason: reasons::UNREACHABLE,
                message: "x".into(),
            }),
            &plan,
            &[],
            &BTreeSet::new(),
            now,
        );
        assert_eq!(st.account.and_then(|a| a.numbers_at_limit), Some(20));
    }

    #[test]
    fn the_key_travels_in_clear_text_only_to_loopback_or_when_allowed() {
        for ok in [
            "https://app.talkturo.com",
            "http://127.0.0.1:8081",
            "http://localhost",
            "http://[::1]:9000/x",
        ] {
            assert_eq!(insecure_url(&spec(ok, false)), None, "{ok}");
        }
        let nr = insecure_url(&spec("http://app.talkturo.com", false));
        assert_eq!(nr.map(|n| n.reason), Some(reasons::INSECURE_URL));
        assert_eq!(insecure_url(&spec("http://proxy.internal", true)), None);
        assert!(insecure_url(&spec("http://127.0.0.1.evil.example", false)).is_some());
    }
}
