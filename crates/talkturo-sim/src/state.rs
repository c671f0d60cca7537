//! The simulated accounts: who owns which number, in what status, assigned to which assistant.
//! Pure bookkeeping: every method takes `now` and returns a result or an [`ApiError`]; the HTTP
//! layer owns transport, faults and counters.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::Serialize;

use super::config::{RecordCase, SimConfig, TeamConfig};
use super::inventory::Inventory;

mod assistants;
mod buy;
mod campaigns;
mod json;
mod seed;

pub use campaigns::{
    CAMPAIGN_PAGE_DEFAULT, CAMPAIGN_PAGE_MAX, Campaign, CampaignFilter, CampaignStatus, NewCampaign,
};
pub use json::RecordJson;

/// Talkturo's status of a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberStatus {
    Purchasing,
    Active,
    Suspended,
    Error,
}

/// One number owned by a team.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Record {
    pub id: String,
    pub phone_number: String,
    pub team_id: String,
    pub provider: String,
    pub provider_id: String,
    pub status: NumberStatus,
    pub is_trial: bool,
    pub trial_expires_at: Option<Timestamp>,
    pub assistant_id: Option<String>,
    pub created_at: Timestamp,
    pub purchased_by_email: String,
    pub purchased_by_name: String,
    pub monthly_price: Decimal,
    pub setup_price: Decimal,
    pub features: Vec<String>,
    pub connection_id: Option<String>,
    /// When a `purchasing` number turns `active`.
    #[serde(skip)]
    pub active_at: Timestamp,
}

/// An error answer: HTTP status, short machine code, human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

type Result<T> = std::result::Result<T, ApiError>;

/// The plan figures returned with a purchase.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Eligibility {
    pub current_count: u32,
    pub max_allowed: u32,
    pub has_subscription: bool,
    pub plan_name: String,
}

struct Team {
    account: String,
    config: TeamConfig,
}

struct Assistant {
    account: String,
    name: String,
}

/// Every account of the simulator.
pub struct World {
    config: SimConfig,
    inventory: Inventory,
    tokens: BTreeMap<String, String>,
    teams: BTreeMap<String, Team>,
    assistants: BTreeMap<String, Assistant>,
    records: BTreeMap<String, Record>,
    campaigns: BTreeMap<String, Campaign>,
    /// The records' ids by number (a record's number never changes).
    by_number: HashMap<String, String>,
    /// Numbers the carrier no longer offers (released numbers never come back, or an admin
    /// withdrew them).
    withdrawn: BTreeSet<String>,
    next_id: u64,
    clock_offset: SignedDuration,
    purchases: u64,
    releases: u64,
    /// Numbers bought in place of the one asked for (the `mismatchedPurchase` fault).
    substitutes: BTreeSet<String>,
}

impl World {
    pub fn new(config: SimConfig) -> Self {
        let mut tokens = BTreeMap::new();
        let mut teams = BTreeMap::new();
        let mut assistants = BTreeMap::new();
        for a in &config.accounts {
            for t in &a.tokens {
                tokens.insert(t.clone(), a.slug.clone());
            }
            for t in &a.teams {
                teams.insert(
                    t.id.clone(),
                    Team {
                        account: a.slug.clone(),
                        config: t.clone(),
                    },
                );
            }
            for s in &a.assistants {
                assistants.insert(
                    s.id.clone(),
                    Assistant {
                        account: a.slug.clone(),
                        name: s.name.clone(),
                    },
                );
            }
        }
        Self {
            inventory: Inventory::new(config.seed, config.pool_size),
            config,
            tokens,
            teams,
            assistants,
            records: BTreeMap::new(),
            campaigns: BTreeMap::new(),
            by_number: HashMap::new(),
            withdrawn: BTreeSet::new(),
            next_id: 1,
            clock_offset: SignedDuration::ZERO,
            purchases: 0,
            releases: 0,
            substitutes: BTreeSet::new(),
        }
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub fn config_mut(&mut self) -> &mut SimConfig {
        &mut self.config
    }

    /// The simulator's clock: wall time plus what the admin API advanced it by.
    pub fn now(&self) -> Timestamp {
        Timestamp::now()
            .saturating_add(self.clock_offset)
            .unwrap_or(Timestamp::MAX)
    }

    pub fn advance(&mut self, by: SignedDuration) {
        self.clock_offset += by;
    }

    /// Numbers actually bought (purchases that took effect), whatever the responses said.
    pub fn purchases(&self) -> u64 {
        self.purchases
    }

    /// Numbers released through the API so far.
    pub fn releases(&self) -> u64 {
        self.releases
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    pub fn authenticate(&self, token: &str) -> Option<String> {
        self.tokens.get(token).cloned()
    }

    /// Applies what time does: `purchasing` numbers turn `active`; expired trial numbers become
    /// `suspended` and unassigned (never silently deleted).
    pub fn tick(&mut self, now: Timestamp) {
        for r in self.records.values_mut() {
            if r.status == NumberStatus::Purchasing && now >= r.active_at {
                r.status = NumberStatus::Active;
            }
            if r.is_trial
                && r.trial_expires_at.is_some_and(|t| now >= t)
                && r.status != NumberStatus::Suspended
            {
                r.status = NumberStatus::Suspended;
                r.assistant_id = None;
            }
        }
    }

    fn team_of(&self, account: &str, team_id: &str) -> Result<&Team> {
        match self.teams.get(team_id) {
            Some(t) if t.account == account => Ok(t),
            Some(_) => Err(ApiError::new(
                403,
                "forbidden",
                format!("team {team_id} belongs to another account"),
            )),
            None => Err(ApiError::new(
                403,
                "forbidden",
                format!("team {team_id} is not part of this account"),
            )),
        }
    }

    fn owned(&self, number: &str) -> Option<&Record> {
        self.records.get(self.by_number.get(number)?)
    }

    /// Adds (or replaces) a record, keeping the index by number.
    fn insert_record(&mut self, record: Record) {
        self.by_number
            .insert(record.phone_number.clone(), record.id.clone());
        self.records.insert(record.id.clone(), record);
    }

    fn remove_record(&mut self, id: &str) -> Option<Record> {
        let r = self.records.remove(id)?;
        self.by_number.remove(&r.phone_number);
        Some(r)
    }

    /// `GET /api/phone-numbers/purchase?teamId=`: one page and the total count.
    pub fn list(
        &self,
        account: &str,
        team_id: &str,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<(Vec<&Record>, usize, usize)> {
        self.team_of(account, team_id)?;
        let limit = limit.unwrap_or(50).min(self.config.list_limit_cap);
        let team = || self.records.values().filter(|r| r.team_id == team_id);
        Ok((
            team().skip(offset).take(limit).collect(),
            team().count(),
            limit,
        ))
    }

    /// `DELETE /api/phone-numbers/{id}` (only when enabled). A released number never returns
    /// to the inventory.
    pub fn release(&mut self, account: &str, id: &str) -> Result<()> {
        if !self.config.release_enabled {
            return Err(ApiError::new(404, "not_found", "Not Found"));
        }
        let r = self.records.get(id).ok_or_else(|| {
            ApiError::new(
                404,
                "phone_number_not_found",
                format!("phone number {id} not found"),
            )
        })?;
        self.team_of(account, &r.team_id)?;
        self.in_use(&r.phone_number)?;
        if let Some(r) = self.remove_record(id) {
            self.withdrawn.insert(r.phone_number);
            self.releases += 1;
        }
        Ok(())
    }

    // ---- admin (test-only) operations ----

    /// Sets a number's status (suspend, resume, error); `None` if the account has no such number.
    pub fn set_status(&mut self, number: &str, status: NumberStatus) -> Option<()> {
        let id = self.by_number.get(number)?;
        let r = self.records.get_mut(id)?;
        r.status = status;
        if status == NumberStatus::Suspended && r.is_trial {
            r.assistant_id = None;
        }
        Some(())
    }

    /// Removes a number from its account without a release call (drift, as seen from outside).
    pub fn vanish(&mut self, number: &str) -> Option<Record> {
        let id = self.owned(number)?.id.clone();
        self.remove_record(&id)
    }

    /// A number other than `number` still on offer in its pool: what a purchase that goes to
    /// the wrong number buys (the `mismatchedPurchase` fault).
    pub fn substitute(&self, number: &str) -> Option<String> {
        self.inventory
            .pool_of(number)?
            .into_iter()
            .map(|o| o.phone_number)
            .find(|n| n != number && self.available(n))
    }

    /// Notes that `number` was bought in place of another (the operator never chose it).
    pub fn note_substitute(&mut self, number: &str) {
        self.substitutes.insert(number.to_owned());
    }

    /// Numbers bought in place of the one asked for, so far.
    pub fn substitutes(&self) -> &BTreeSet<String> {
        &self.substitutes
    }

    /// Stops the carrier from offering a number (purchase then answers 404).
    pub fn withdraw(&mut self, number: &str) {
        self.withdrawn.insert(number.to_owned());
    }

    /// Puts a number in a team without the purchase API, as if bought in the dashboard.
    pub fn import(
        &mut self,
        team_id: &str,
        number: &str,
        assistant: Option<String>,
        now: Timestamp,
    ) -> Result<Record> {
        let account = self
            .teams
            .get(team_id)
            .map(|t| t.account.clone())
            .ok_or_else(|| {
                ApiError::new(404, "team_not_found", format!("team {team_id} not found"))
            })?;
        let (mut record, _) = self.purchase(&account, number, team_id, None, now)?;
        self.purchases -= 1;
        record.status = NumberStatus::Active;
        record.purchased_by_name = "Dashboard".into();
        record.assistant_id = assistant;
        self.insert_record(record.clone());
        Ok(record)
    }

    pub fn team_mut(&mut self, id: &str) -> Option<&mut TeamConfig> {
        self.teams.get_mut(id).map(|t| &mut t.config)
    }

    pub fn add_assistant(&mut self, account: &str, id: &str, name: &str) {
        self.assistants.insert(
            id.to_owned(),
            Assistant {
                account: account.to_owned(),
                name: name.to_owned(),
            },
        );
    }

    /// A number record as the API serves it, in the configured casing.
    pub fn record_json<'a>(&'a self, r: &'a Record) -> RecordJson<'a> {
        RecordJson {
            record: r,
            assistant_name: r
                .assistant_id
                .as_deref()
                .and_then(|a| self.assistant_name(a)),
            case: self.config.record_case,
        }
    }
}

/// `^\+[1-9]\d{6,14}$`.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests;
