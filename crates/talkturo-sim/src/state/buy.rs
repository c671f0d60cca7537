//! Searching for and buying numbers.

use jiff::{SignedDuration, Timestamp};

use super::{ApiError, Eligibility, NumberStatus, Record, Result, World, is_e164};
use crate::inventory::{Kind, Offer};

impl World {
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

    pub(super) fn available(&self, number: &str) -> bool {
        !self.withdrawn.contains(number) && self.owned(number).is_none()
    }

    /// The offer of `number`, if `team_id` may buy it: not owned (409 by this team, 410 by
    /// another), and on offer (404 otherwise).
    pub(super) fn purchasable(
        &self,
        number: &str,
        team_id: &str,
    ) -> Result<crate::inventory::Offer> {
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
        match self.inventory.offer(number) {
            Some(o) if !self.withdrawn.contains(number) => Ok(o),
            _ => Err(ApiError::new(
                404,
                "number_not_found",
                format!("{number} is not available for purchase"),
            )),
        }
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
        let offer = self.purchasable(number, team_id)?;
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
        self.insert_record(record.clone());
        self.purchases += 1;
        let eligibility = Eligibility {
            current_count: count + 1,
            max_allowed: limit,
            has_subscription: plan.subscribed,
            plan_name: plan.plan_name,
        };
        Ok((record, eligibility))
    }

    pub(super) fn team_count(&self, team_id: &str) -> u32 {
        self.records
            .values()
            .filter(|r| r.team_id == team_id)
            .count() as u32
    }
}
