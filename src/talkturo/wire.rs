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

/// A price: a decimal string (`"1.00"`, `"$1.00"`) or a JSON number (`1.5`); `None` when
/// absent, unreadable or negative — an unknown price, which no price cap accepts. Money is
/// never a float: numbers are read from their decimal text.
fn lenient_money<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let price = match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Decimal::from_str(s.trim().trim_start_matches('$')).ok(),
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok(),
        _ => None,
    };
    Ok(price.filter(|p| !p.is_sign_negative()))
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

/// A number that can be bought, as search returns it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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
mod tests {
    use super::*;
    use serde_json::json;

    fn decode<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(normalize_keys(v)).unwrap()
    }

    #[test]
    fn records_decode_from_snake_and_camel_case_alike() {
        let snake = json!({"id": "pn_1", "phone_number": "+14155550101", "status": "active", "is_trial": true,
            "trial_expires_at": "2026-12-01T00:00:00Z", "assistant_id": "asst_1", "extra": {"x": 1}});
        let camel = json!({"id": "pn_1", "phoneNumber": "+14155550101", "status": "ACTIVE", "isTrial": "true",
            "trialExpiresAt": "2026-12-01T00:00:00Z", "assistantId": "asst_1"});
        let a: NumberRecord = decode(snake);
        let b: NumberRecord = decode(camel);
        assert_eq!(a, b);
        assert_eq!(a.status, NumberStatus::Active);
        assert!(a.is_trial);
    }

    #[test]
    fn prices_are_read_exactly_from_strings_and_numbers() {
        let n: AvailableNumber =
            decode(json!({"phoneNumber": "+1", "monthlyPrice": 1.1, "setupPrice": "$0.75"}));
        assert_eq!(n.monthly_price, Some(Decimal::new(110, 2)));
        assert_eq!(n.setup_price, Some(Decimal::new(75, 2)));
        for odd in [
            json!("free"),
            json!("1,50"),
            json!("-1"),
            json!(-0.5),
            json!("NaN"),
            json!({}),
        ] {
            let n: AvailableNumber = decode(json!({"phoneNumber": "+1", "monthlyPrice": odd}));
            assert_eq!(n.monthly_price, None, "{odd}");
        }
    }

    #[test]
    fn a_record_without_an_id_fails_the_whole_list() {
        let r = serde_json::from_value::<ListPage>(normalize_keys(
            json!({"numbers": [{"phone_number": "+1"}]}),
        ));
        assert!(r.is_err());
    }

    #[test]
    fn unknown_statuses_and_null_fields_are_tolerated() {
        let r: NumberRecord = decode(
            json!({"id": "pn_1", "phone_number": "+1", "status": "porting", "trial_expires_at": null, "assistant_id": null}),
        );
        assert_eq!(r.status, NumberStatus::Other("porting".into()));
        assert_eq!(r.trial_expires_at, None);
    }

    #[test]
    fn error_messages_are_found_in_any_body_shape() {
        assert_eq!(
            error_message(r#"{"success":false,"message":"plan limit"}"#),
            "plan limit"
        );
        assert_eq!(error_message(r#"{"error":"Unauthorized"}"#), "Unauthorized");
        assert_eq!(error_message(r#"{"error":{"message":"nope"}}"#), "nope");
        assert_eq!(
            error_message("<html>Bad Gateway</html>"),
            "<html>Bad Gateway</html>"
        );
        assert_eq!(error_message(""), "(empty body)");
    }
}
