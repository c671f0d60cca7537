//! Wire types of the Talkturo API, separate from the CRD types, decoded leniently: keys in
//! camelCase or snake_case, prices as strings or numbers, unknown fields ignored, unknown
//! statuses kept as text. A record that lacks what the operator relies on (`id`,
//! `phone_number`) fails the whole answer: a list with a hole in it could make an owned number
//! look absent, which is how numbers get bought twice.

use std::str::FromStr;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

mod campaign;
pub use campaign::{Campaign, CampaignPage};

/// Rewrites every object key to snake_case (`phoneNumber` → `phone_number`), recursively, so
/// the structs below need only one spelling.
pub fn normalize_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| (snake_case(&k), normalize_keys(v)))
            .collect(),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize_keys).collect()),
        other => other,
    }
}

fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The highest price, monthly or setup, taken as an answer: a number does not cost
/// $100,000. A higher one is an invalid answer (a unit mix-up, a hostile proxy), never a price
/// to add up: sums of sane prices cannot overflow.
pub const MAX_SANE_PRICE: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);

/// A price: a decimal string (`"1.00"`, `"$1.00"`) or a JSON number (`1.5`); `None` when
/// absent or unreadable ("contact sales"): an unknown price, which no price cap or budget
/// accepts and which is never chosen over a priced offer; a negative one is unknown too. A price
/// above [`MAX_SANE_PRICE`] (or out of any range) fails the whole answer. Money is never a
/// float: numbers are read from their decimal text.
fn lenient_money<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    // Text that reads as a number but not as a Decimal (`1e30`) is out of any range: absurd.
    let numeric = |text: &str| -> Result<Option<Decimal>, D::Error> {
        match Decimal::from_str(text).or_else(|_| Decimal::from_scientific(text)) {
            Ok(p) => Ok(Some(p)),
            Err(_) if text.parse::<f64>().is_ok_and(f64::is_finite) => Err(
                serde::de::Error::custom(format!("a price of {} is out of range", cut(text, 40))),
            ),
            Err(_) => Ok(None),
        }
    };
    let price = match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => numeric(s.trim().trim_start_matches('$'))?,
        Some(Value::Number(n)) => numeric(&n.to_string())?,
        _ => None,
    };
    match price {
        // Nonsense, but no figure to add up: an unknown price, like "contact sales".
        Some(p) if p.is_sign_negative() && !p.is_zero() => Ok(None),
        Some(p) if p > MAX_SANE_PRICE => Err(serde::de::Error::custom(format!(
            "a price of {p} is above the sane bound of {MAX_SANE_PRICE}"
        ))),
        other => Ok(other),
    }
}

/// `^\+[1-9]\d{6,14}$`: an E.164 number as the contract writes them (§4.24).
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// An opaque record or assistant id as the operator stores and sends it back: 1 to 128
/// printable ASCII characters, no spaces (it ends up in URL paths, labels of Events, status).
pub fn is_valid_id(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Checks what the operator relies on in a record: an E.164 number, a usable id, and a usable
/// assistant id when one is named. `Err` says what is wrong, for an `InvalidResponse`.
pub fn check_record(r: &NumberRecord) -> Result<(), String> {
    if !is_e164(&r.phone_number) {
        return Err(format!(
            "record {:?} has a number that is not E.164: {:?}",
            cut(&r.id, 40),
            cut(&r.phone_number, 40)
        ));
    }
    if !is_valid_id(&r.id) {
        return Err(format!(
            "the record of {} has an unusable id {:?}",
            r.phone_number,
            cut(&r.id, 40)
        ));
    }
    if let Some(a) = r.assistant_id.as_deref().filter(|a| !is_valid_id(a)) {
        return Err(format!(
            "the record of {} names an unusable assistant id {:?}",
            r.phone_number,
            cut(a, 40)
        ));
    }
    Ok(())
}

/// Checks a set of records (a list, an assistant's numbers): every record valid, and each
/// number under one id and each id for one number.
pub fn check_records<'a>(
    records: impl IntoIterator<Item = &'a NumberRecord>,
) -> Result<(), String> {
    let mut by_number: std::collections::HashMap<&str, &str> = Default::default();
    let mut by_id: std::collections::HashMap<&str, &str> = Default::default();
    for r in records {
        check_record(r)?;
        if let Some(other) = by_number.insert(&r.phone_number, &r.id) {
            return Err(format!(
                "{} is listed twice, under ids {other} and {}",
                r.phone_number, r.id
            ));
        }
        if let Some(other) = by_id.insert(&r.id, &r.phone_number) {
            return Err(format!(
                "id {} is listed twice, for {other} and {}",
                r.id, r.phone_number
            ));
        }
    }
    Ok(())
}

/// At most `max` characters of `s`, with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// An ISO-8601 timestamp, or `None` when absent, null or unreadable.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    })
}

/// A boolean, also from `"true"`/`"false"` or 0/1; absent is `false`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    })
}

/// An optional string that may also arrive as a number or be empty.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A number that can be bought, as search returns it (and as `kubectl talkturo search -o json`
/// prints it).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct AvailableNumber {
    pub phone_number: String,
    #[serde(default, deserialize_with = "lenient_money")]
    pub monthly_price: Option<Decimal>,
    #[serde(default, deserialize_with = "lenient_money")]
    pub setup_price: Option<Decimal>,
    #[serde(default)]
    pub features: Vec<String>,
}

/// Search results.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SearchResult {
    #[serde(default)]
    pub numbers: Vec<AvailableNumber>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub provider: Option<String>,
    /// The number of items in `numbers`, as the service counted them.
    #[serde(default)]
    pub count: Option<u64>,
}

impl SearchResult {
    /// Checks the answer: every offer an E.164 number, each offered once, and `count` (when
    /// sent) the number of offers.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for o in &self.numbers {
            if !is_e164(&o.phone_number) {
                return Err(format!(
                    "an offer's number is not E.164: {:?}",
                    cut(&o.phone_number, 40)
                ));
            }
            if !seen.insert(o.phone_number.as_str()) {
                return Err(format!("{} is offered twice", o.phone_number));
            }
        }
        match self.count {
            Some(c) if c != self.numbers.len() as u64 => Err(format!(
                "count says {c} offers, the answer holds {}",
                self.numbers.len()
            )),
            _ => Ok(()),
        }
    }
}

/// Talkturo's status of an owned number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberStatus {
    Purchasing,
    Active,
    Suspended,
    Error,
    /// A status this client does not know; treated as not usable.
    Other(String),
}

impl NumberStatus {
    pub fn as_str(&self) -> &str {
        match self {
            NumberStatus::Purchasing => "purchasing",
            NumberStatus::Active => "active",
            NumberStatus::Suspended => "suspended",
            NumberStatus::Error => "error",
            NumberStatus::Other(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for NumberStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?
            .unwrap_or_default()
            .to_ascii_lowercase();
        Ok(match s.as_str() {
            "purchasing" | "pending" | "provisioning" => NumberStatus::Purchasing,
            "active" => NumberStatus::Active,
            "suspended" => NumberStatus::Suspended,
            "error" | "failed" => NumberStatus::Error,
            _ => NumberStatus::Other(s),
        })
    }
}

/// A number owned by a team, as purchase, list and the assistant endpoints return it. Each field
/// also takes its camelCase spelling, so a list page decodes straight from the body (without
/// `normalize_keys`, which costs as much again for a list of 10,000 records).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct NumberRecord {
    pub id: String,
    #[serde(alias = "phoneNumber")]
    pub phone_number: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub provider: Option<String>,
    #[serde(alias = "providerId", default, deserialize_with = "lenient_string")]
    pub provider_id: Option<String>,
    #[serde(default = "unknown_status")]
    pub status: NumberStatus,
    #[serde(alias = "isTrial", default, deserialize_with = "lenient_bool")]
    pub is_trial: bool,
    #[serde(alias = "trialExpiresAt", default, deserialize_with = "lenient_time")]
    pub trial_expires_at: Option<Timestamp>,
    #[serde(alias = "assistantId", default, deserialize_with = "lenient_string")]
    pub assistant_id: Option<String>,
    #[serde(alias = "assistantName", default, deserialize_with = "lenient_string")]
    pub assistant_name: Option<String>,
    #[serde(
        alias = "purchasedByEmail",
        default,
        deserialize_with = "lenient_string"
    )]
    pub purchased_by_email: Option<String>,
    #[serde(
        alias = "purchasedByName",
        default,
        deserialize_with = "lenient_string"
    )]
    pub purchased_by_name: Option<String>,
    #[serde(alias = "createdAt", default, deserialize_with = "lenient_time")]
    pub created_at: Option<Timestamp>,
    #[serde(alias = "teamId", default, deserialize_with = "lenient_string")]
    pub team_id: Option<String>,
}

fn unknown_status() -> NumberStatus {
    NumberStatus::Other(String::new())
}

/// The plan figures a purchase reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Eligibility {
    #[serde(default)]
    pub current_count: Option<u32>,
    #[serde(default)]
    pub max_allowed: Option<u32>,
    #[serde(default)]
    pub has_subscription: Option<bool>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub plan_name: Option<String>,
}

/// A successful purchase.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Purchase {
    #[serde(alias = "number", alias = "record")]
    pub phone_number: NumberRecord,
    #[serde(default)]
    pub eligibility: Option<Eligibility>,
}

/// One page of the account's number list.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ListPage {
    #[serde(
        default,
        alias = "phone_numbers",
        alias = "phoneNumbers",
        alias = "data"
    )]
    pub numbers: Vec<NumberRecord>,
    #[serde(default)]
    pub count: Option<u64>,
}

/// The numbers assigned to an assistant.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AssistantNumbers {
    #[serde(default, alias = "phone_numbers", alias = "data")]
    pub numbers: Vec<NumberRecord>,
}

/// The human-readable message of an error body, whatever its shape.
pub fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        ["message", "error", "detail", "msg"]
            .iter()
            .find_map(|k| match v.get(k) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(o)) => {
                    o.get("message").and_then(Value::as_str).map(str::to_owned)
                }
                _ => None,
            })
    });
    from_json.unwrap_or_else(|| {
        let text: String = body.chars().take(200).collect();
        if text.trim().is_empty() {
            "(empty body)".to_owned()
        } else {
            text
        }
    })
}

#[cfg(test)]
mod tests;
