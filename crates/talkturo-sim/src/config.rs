//! Simulator configuration: accounts, tokens, teams, plans and assistants, plus behaviour knobs.
//! Read from a YAML/JSON file (`--config`) or built from flags for a single account.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything the simulator is started with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimConfig {
    /// Seed of the inventory: the same seed always offers the same numbers at the same prices.
    pub seed: u64,
    /// Accounts, each with its tokens, teams and assistants.
    pub accounts: Vec<AccountConfig>,
    /// Delay between a purchase and the number turning `active`, in milliseconds.
    pub activation_delay_ms: u64,
    /// Lifetime of a trial number, in seconds (the published rule is 5 days).
    pub trial_duration_secs: u64,
    /// Most results a search returns, whatever `limit` asks for.
    pub search_limit_cap: usize,
    /// Most records a list page returns, whatever `limit` asks for.
    pub list_limit_cap: usize,
    /// Numbers in each inventory pool (one pool per prefix and number type).
    pub pool_size: usize,
    /// Serve `DELETE /api/phone-numbers/{id}` (not in the published docs; off by default).
    pub release_enabled: bool,
    /// Field casing of number records in responses.
    pub record_case: RecordCase,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            accounts: vec![AccountConfig::default()],
            activation_delay_ms: 2_000,
            trial_duration_secs: 5 * 24 * 3600,
            search_limit_cap: 20,
            list_limit_cap: 10_000,
            pool_size: 40,
            release_enabled: false,
            record_case: RecordCase::Snake,
        }
    }
}

impl SimConfig {
    /// Parses a YAML (or JSON) configuration; absent knobs take their defaults.
    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    /// The activation delay as a duration.
    pub fn activation_delay(&self) -> Duration {
        Duration::from_millis(self.activation_delay_ms)
    }
}

/// One Talkturo account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountConfig {
    /// Workspace slug (`accountSlug`).
    pub slug: String,
    /// Account id as it appears on assistants (`acct_...`).
    pub account_id: String,
    /// Bearer tokens that authenticate as this account.
    pub tokens: Vec<String>,
    /// Teams of the account; numbers are owned by a team.
    pub teams: Vec<TeamConfig>,
    /// Assistants that exist in the account.
    #[serde(default)]
    pub assistants: Vec<AssistantConfig>,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            slug: "demo".into(),
            account_id: "acct_demo".into(),
            tokens: vec!["tk_demo_token".into()],
            teams: vec![TeamConfig::default()],
            assistants: vec![
                AssistantConfig {
                    id: "asst_demo_sales".into(),
                    name: "Sales Agent".into(),
                },
                AssistantConfig {
                    id: "asst_demo_support".into(),
                    name: "Support Agent".into(),
                },
            ],
        }
    }
}

/// One team and its plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamConfig {
    /// Team id (`team_...`).
    pub id: String,
    /// The plan's name, reported in purchase eligibility.
    #[serde(default = "default_plan_name")]
    pub plan_name: String,
    /// Whether the team has a paid subscription. Without one it gets one trial number.
    #[serde(default = "default_true")]
    pub subscribed: bool,
    /// Most numbers the plan allows (ignored without a subscription: then it is 1).
    #[serde(default = "default_max_numbers")]
    pub max_numbers: u32,
}

impl Default for TeamConfig {
    fn default() -> Self {
        Self {
            id: "team_demo".into(),
            plan_name: default_plan_name(),
            subscribed: true,
            max_numbers: default_max_numbers(),
        }
    }
}

impl TeamConfig {
    /// The effective number limit: the plan's, or one trial number without a subscription.
    pub fn limit(&self) -> u32 {
        if self.subscribed { self.max_numbers } else { 1 }
    }
}

fn default_plan_name() -> String {
    "Growth".into()
}
fn default_true() -> bool {
    true
}
fn default_max_numbers() -> u32 {
    100
}

/// An assistant that exists in an account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssistantConfig {
    /// Assistant id (`asst_...`).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// Field casing of number records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RecordCase {
    /// `phone_number`, `is_trial`, ... (what the docs' examples show).
    #[default]
    Snake,
    /// `phoneNumber`, `isTrial`, ...
    Camel,
}
