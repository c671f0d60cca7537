//! Field types shared by the three kinds, and the schema fragments (patterns) they carry.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// E.164: a `+`, a non-zero country digit, 7 to 15 digits in all.
pub const E164_PATTERN: &str = r"^\+[1-9][0-9]{6,14}$";
/// A USD amount as a decimal string with at most two decimals: `"2"`, `"2.00"`, `"0.75"`.
pub const MONEY_PATTERN: &str = r"^(0|[1-9][0-9]{0,6})(\.[0-9]{1,2})?$";
/// A Go-style duration (`30s`, `5m`, `24h`, `1h30m`), as Kubernetes writes them.
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";

/// Where a number goes when its claim is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ReclaimPolicy {
    /// Keep the number (phase `Released`); an admin clears `claimRef` to make it bindable again.
    #[default]
    Retain,
    /// Release the number at Talkturo. It may never come back.
    Release,
}

/// The kind of number.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum NumberType {
    /// A geographic number.
    #[default]
    #[serde(rename = "local")]
    Local,
    /// A toll-free number (800, 888, 877, ...).
    #[serde(rename = "toll-free")]
    TollFree,
}

impl NumberType {
    /// The value the Talkturo API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::Local => "local",
            NumberType::TollFree => "toll-free",
        }
    }
}

/// Reference to the key of a Secret in a namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SecretKeyRef {
    /// Namespace of the Secret.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret's data whose value is the Talkturo API token.
    #[serde(default = "default_secret_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

fn default_secret_key() -> String {
    "apiKey".to_owned()
}

/// Reference to the PhoneNumberClaim a PhoneNumber is bound to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ClaimRef {
    /// Namespace of the claim.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Name of the claim.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// UID of the claim; a claim re-created with the same name is a different claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// The ISO country of an E.164 number, for the calling codes Talkturo serves (`+1` is read as
/// `US`; a claim's `countryCode` says `CA` when it is Canadian).
pub fn country_of(e164: &str) -> Option<&'static str> {
    const CODES: &[(&str, &str)] = &[
        ("+1", "US"),
        ("+44", "GB"),
        ("+49", "DE"),
        ("+33", "FR"),
        ("+61", "AU"),
    ];
    CODES
        .iter()
        .find(|(prefix, _)| e164.starts_with(prefix))
        .map(|(_, iso)| *iso)
}
