//! The simulated accounts: who owns which number, in what status, assigned to which assistant.
//! Pure bookkeeping: every method takes `now` and returns a result or an [`ApiError`]; the HTTP
//! layer owns transport, faults and counters.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::Serialize;

use super::config::{RecordCase, SimConfig, TeamConfig};
use super::inventory::{Inventory, Kind, Offer};

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
#[derive(Clone, Debug, Serialize)]
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
        self.records.values().find(|r| r.phone_number == number)
    }

    /// `POST /api/phone-numbers/search`.
    pub fn search(
        &self,
        country: &str,
        area_code: Option<&str>,
        number_type: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Offer>> {
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ApiError::new(
                400,
                "invalid_country",
                format!("countryCode must be ISO 3166-1 alpha-2, got {country:?}"),
            ));
        }
        let kind = match number_type {
            None => Kind::Local,
            Some(t) => Kind::parse(t).ok_or_else(|| {
                ApiError::new(
                    400,
                    "invalid_number_type",
                    format!("numberType must be local or toll-free, got {t:?}"),
                )
            })?,
        };
        if let Some(a) = area_code
            && (a.len() != 3 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ApiError::new(
                400,
                "invalid_area_code",
                format!("areaCode must be 3 digits, got {a:?}"),
            ));
        }
        // areaCode is only meaningful for US and CA; elsewhere it is ignored.
        let area_code = area_code.filter(|_| matches!(country, "US" | "CA"));
        let limit = limit.unwrap_or(20).min(self.config.search_limit_cap);
        Ok(self
            .inventory
            .search(country, area_code, kind)
            .into_iter()
            .filter(|o| self.available(&o.phone_number))
            .take(limit)
            .collect())
    }

    /// Every local number still on offer for a US area code, uncapped (test and benchmark
    /// view; the API's search is capped).
    pub fn offered_in(&self, area_code: &str) -> Vec<String> {
        self.inventory
            .search("US", Some(area_code), Kind::Local)
            .into_iter()
            .filter(|o| self.available(&o.phone_number))
            .map(|o| o.phone_number)
            .collect()
    }

    fn available(&self, number: &str) -> bool {
        !self.withdrawn.contains(number) && self.owned(number).is_none()
    }

    /// `POST /api/phone-numbers/purchase`.
    pub fn purchase(
        &mut self,
        account: &str,
        number: &str,
        team_id: &str,
        connection_id: Option<String>,
        now: Timestamp,
    ) -> Result<(Record, Eligibility)> {
        if !is_e164(number) {
            return Err(ApiError::new(
                400,
                "invalid_phone_number",
                format!("phoneNumber must be E.164, got {number:?}"),
            ));
        }
        let team = self.team_of(account, team_id)?;
        let (plan, limit) = (team.config.clone(), team.config.limit());
        if let Some(r) = self.owned(number) {
            return Err(if r.team_id == team_id {
                ApiError::new(
                    409,
                    "already_owned",
                    format!("{number} already exists in this team"),
                )
            } else {
                ApiError::new(
                    410,
                    "number_unavailable",
                    format!("{number} is no longer available"),
                )
            });
        }
        let offer = match self.inventory.offer(number) {
            Some(o) if !self.withdrawn.contains(number) => o,
            _ => {
                return Err(ApiError::new(
                    404,
                    "number_not_found",
                    format!("{number} is not available for purchase"),
                ));
            }
        };
        let count = self.team_count(team_id);
        if count >= limit {
            let why = if plan.subscribed {
                format!("plan {} allows {limit} numbers", plan.plan_name)
            } else {
                "a free account gets one trial number".to_owned()
            };
            return Err(ApiError::new(
                403,
                "plan_limit_reached",
                format!("plan limit reached: {why}"),
            ));
        }
        // Multiplying by an odd constant is a bijection on u64: distinct, opaque-looking ids.
        let id = format!(
            "pn_{:016x}",
            self.next_id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        self.next_id += 1;
        let is_trial = !plan.subscribed;
        let record = Record {
            id: id.clone(),
            phone_number: number.to_owned(),
            team_id: team_id.to_owned(),
            provider: "telnyx".into(),
            provider_id: format!("tx_{}", number.trim_start_matches('+')),
            status: NumberStatus::Purchasing,
            is_trial,
            trial_expires_at: is_trial.then(|| {
                now.saturating_add(SignedDuration::from_secs(
                    self.config.trial_duration_secs as i64,
                ))
                .unwrap_or(Timestamp::MAX)
            }),
            assistant_id: None,
            created_at: now,
            purchased_by_email: format!("api@{account}.example"),
            purchased_by_name: "API".into(),
            monthly_price: offer.monthly_price,
            setup_price: offer.setup_price,
            features: offer.features,
            connection_id,
            active_at: now
                .saturating_add(self.config.activation_delay())
                .unwrap_or(Timestamp::MAX),
        };
        self.records.insert(id, record.clone());
        self.purchases += 1;
        let eligibility = Eligibility {
            current_count: count + 1,
            max_allowed: limit,
            has_subscription: plan.subscribed,
            plan_name: plan.plan_name,
        };
        Ok((record, eligibility))
    }

    fn team_count(&self, team_id: &str) -> u32 {
        self.records
            .values()
            .filter(|r| r.team_id == team_id)
            .count() as u32
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

    fn assistant(&self, account: &str, id: &str) -> Result<&Assistant> {
        match self.assistants.get(id) {
            Some(a) if a.account == account => Ok(a),
            Some(_) => Err(ApiError::new(
                403,
                "forbidden",
                format!("assistant {id} belongs to another account"),
            )),
            None => Err(ApiError::new(
                404,
                "assistant_not_found",
                format!("assistant {id} not found"),
            )),
        }
    }

    pub fn assistant_name(&self, id: &str) -> Option<&str> {
        self.assistants.get(id).map(|a| a.name.as_str())
    }

    /// Checks that `ids` may be held by `assistant`: known, in the account, active, and not held
    /// by another assistant.
    fn check_assignable(&self, account: &str, assistant: &str, ids: &[String]) -> Result<()> {
        for id in ids {
            let r = self.records.get(id).ok_or_else(|| {
                ApiError::new(
                    400,
                    "unknown_phone_number",
                    format!("phone number {id} not found"),
                )
            })?;
            if self.teams.get(&r.team_id).map(|t| t.account.as_str()) != Some(account) {
                return Err(ApiError::new(
                    403,
                    "forbidden",
                    format!("phone number {id} belongs to another account"),
                ));
            }
            match &r.assistant_id {
                Some(other) if other != assistant => {
                    return Err(ApiError::new(
                        409,
                        "assigned_elsewhere",
                        format!("phone number {id} is assigned to assistant {other}"),
                    ));
                }
                Some(_) => {}
                None if r.status != NumberStatus::Active => {
                    return Err(ApiError::new(
                        400,
                        "not_active",
                        format!(
                            "phone number {id} is {:?}, only active numbers can be assigned",
                            r.status
                        )
                        .to_lowercase(),
                    ));
                }
                None => {}
            }
        }
        Ok(())
    }

    /// `POST /api/assistants/{id}/telephony/assign-phone-numbers` (adds to the set).
    pub fn assign(
        &mut self,
        account: &str,
        assistant: &str,
        slug: &str,
        ids: &[String],
    ) -> Result<()> {
        if slug != account {
            return Err(ApiError::new(
                403,
                "forbidden",
                format!("accountSlug {slug} is not this token's account"),
            ));
        }
        self.assistant(account, assistant)?;
        self.check_assignable(account, assistant, ids)?;
        for id in ids {
            if let Some(r) = self.records.get_mut(id) {
                r.assistant_id = Some(assistant.to_owned());
            }
        }
        Ok(())
    }

    /// `GET /api/assistants/{id}/telephony/phone-numbers`: every number of the account that is
    /// `active` and either unassigned or on this assistant (contract §2.6 and §6). The
    /// assistant's own set is the records whose `assistant_id` is this assistant; a client that
    /// takes the whole answer for it assigns every unassigned number.
    pub fn assistant_numbers(&self, account: &str, assistant: &str) -> Result<Vec<Record>> {
        self.assistant(account, assistant)?;
        Ok(self
            .records
            .values()
            .filter(|r| {
                self.teams
                    .get(&r.team_id)
                    .is_some_and(|t| t.account == account)
            })
            .filter(|r| r.status == NumberStatus::Active)
            .filter(|r| r.assistant_id.as_deref().is_none_or(|a| a == assistant))
            .cloned()
            .collect())
    }

    /// `PATCH /api/assistants/{id}/telephony/phone-numbers`: replaces the set.
    pub fn set_assistant_numbers(
        &mut self,
        account: &str,
        assistant: &str,
        ids: &[String],
    ) -> Result<()> {
        self.assistant(account, assistant)?;
        self.check_assignable(account, assistant, ids)?;
        let wanted: BTreeSet<&String> = ids.iter().collect();
        for (id, r) in self.records.iter_mut() {
            if wanted.contains(id) {
                r.assistant_id = Some(assistant.to_owned());
            } else if r.assistant_id.as_deref() == Some(assistant) {
                r.assistant_id = None;
            }
        }
        Ok(())
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
        if let Some(r) = self.records.remove(id) {
            self.withdrawn.insert(r.phone_number);
            self.releases += 1;
        }
        Ok(())
    }

    // ---- admin (test-only) operations ----

    /// Sets a number's status (suspend, resume, error); `None` if the account has no such number.
    pub fn set_status(&mut self, number: &str, status: NumberStatus) -> Option<()> {
        let r = self
            .records
            .values_mut()
            .find(|r| r.phone_number == number)?;
        r.status = status;
        if status == NumberStatus::Suspended && r.is_trial {
            r.assistant_id = None;
        }
        Some(())
    }

    /// Removes a number from its account without a release call (drift, as seen from outside).
    pub fn vanish(&mut self, number: &str) -> Option<Record> {
        let id = self.owned(number)?.id.clone();
        self.records.remove(&id)
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
        self.records.insert(record.id.clone(), record.clone());
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

/// A record as the API serves it, serialized straight from the record (a list of thousands of
/// records builds no intermediate JSON tree).
pub struct RecordJson<'a> {
    record: &'a Record,
    assistant_name: Option<&'a str>,
    case: RecordCase,
}

impl serde::Serialize for RecordJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = self.record;
        let camel = self.case == RecordCase::Camel;
        let key = |snake: &'static str, camel_case: &'static str| {
            if camel { camel_case } else { snake }
        };
        let mut m = s.serialize_map(Some(13))?;
        m.serialize_entry("id", &r.id)?;
        m.serialize_entry(key("phone_number", "phoneNumber"), &r.phone_number)?;
        m.serialize_entry(key("team_id", "teamId"), &r.team_id)?;
        m.serialize_entry("provider", &r.provider)?;
        m.serialize_entry(key("provider_id", "providerId"), &r.provider_id)?;
        m.serialize_entry("status", &r.status)?;
        m.serialize_entry(key("is_trial", "isTrial"), &r.is_trial)?;
        m.serialize_entry(
            key("trial_expires_at", "trialExpiresAt"),
            &r.trial_expires_at,
        )?;
        m.serialize_entry(key("assistant_id", "assistantId"), &r.assistant_id)?;
        m.serialize_entry(key("assistant_name", "assistantName"), &self.assistant_name)?;
        m.serialize_entry(
            key("purchased_by_email", "purchasedByEmail"),
            &r.purchased_by_email,
        )?;
        m.serialize_entry(
            key("purchased_by_name", "purchasedByName"),
            &r.purchased_by_name,
        )?;
        m.serialize_entry(key("created_at", "createdAt"), &r.created_at)?;
        m.end()
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
mod tests {
    use super::*;

    fn keys(case: RecordCase) -> Vec<String> {
        let config = SimConfig {
            record_case: case,
            ..SimConfig::default()
        };
        let mut world = World::new(config);
        let now = Timestamp::now();
        let team = world.teams.keys().next().cloned().unwrap_or_default();
        let account = world
            .teams
            .get(&team)
            .map(|t| t.account.clone())
            .unwrap_or_default();
        let offer = world
            .search("US", Some("415"), None, Some(1))
            .ok()
            .and_then(|o| o.into_iter().next())
            .map(|o| o.phone_number)
            .unwrap_or_default();
        let Ok((record, _)) = world.purchase(&account, &offer, &team, None, now) else {
            return Vec::new();
        };
        let json = serde_json::to_value(world.record_json(&record)).unwrap_or_default();
        json.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn records_serve_every_field_in_either_casing() {
        let snake = keys(RecordCase::Snake);
        assert_eq!(snake.len(), 13, "{snake:?}");
        let camel: Vec<String> = snake
            .iter()
            .map(|k| {
                let mut parts = k.split('_');
                let first = parts.next().unwrap_or_default().to_owned();
                parts.fold(first, |mut out, p| {
                    let mut c = p.chars();
                    if let Some(h) = c.next() {
                        out.extend(h.to_uppercase());
                        out.push_str(c.as_str());
                    }
                    out
                })
            })
            .collect();
        let mut served = keys(RecordCase::Camel);
        let mut expected = camel;
        served.sort();
        expected.sort();
        assert_eq!(served, expected);
    }
}
