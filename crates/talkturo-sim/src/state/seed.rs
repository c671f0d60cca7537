//! Seeding accounts (test-only): copies of one record the team already owns, each under a number
//! of its own (the scale benchmark), and records restored as they were (the upgrade test's
//! account as an earlier release left it).

use super::{ApiError, Record, Result, World, is_e164};

impl World {
    /// Gives the team that owns `from` one copy of that record per number in `numbers`: the same
    /// status, price, provider, purchase time and trial, with a fresh id and provider id, as if
    /// each had been bought the same way. All or nothing: a number that is not E.164, repeated,
    /// or already owned by any team refuses the whole request. Not counted as purchases.
    pub fn seed_copies(&mut self, from: &str, numbers: &[String]) -> Result<Vec<Record>> {
        let template = self.owned(from).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "phone_number_not_found",
                format!("{from} is not owned by any team"),
            )
        })?;
        let mut seen = std::collections::HashSet::with_capacity(numbers.len());
        for n in numbers {
            if !is_e164(n) {
                return Err(ApiError::new(
                    400,
                    "invalid_phone_number",
                    format!("{n:?} is not E.164"),
                ));
            }
            if !seen.insert(n.as_str()) || self.owned(n).is_some() {
                return Err(ApiError::new(
                    409,
                    "already_owned",
                    format!("{n} is already owned (or repeated in the request)"),
                ));
            }
        }
        let mut out = Vec::with_capacity(numbers.len());
        for n in numbers {
            let id = format!(
                "pn_{:016x}",
                self.next_id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            );
            self.next_id += 1;
            let record = Record {
                id,
                phone_number: n.clone(),
                provider_id: format!("tx_{}", n.trim_start_matches('+')),
                ..template.clone()
            };
            self.insert_record(record.clone());
            out.push(record);
        }
        Ok(out)
    }
}

impl World {
    /// Restores `records` as they are (ids, provider ids, assistants, trials, times), as
    /// `GET /admin/state` showed them: an account as an earlier run left it. All or nothing: a
    /// record of an unknown team, a number that is not E.164, or a number or id already held (or
    /// repeated) refuses the whole request. Not counted as purchases; a `purchasing` record
    /// turns `active` at once.
    pub fn restore(&mut self, records: Vec<Record>) -> Result<()> {
        let mut numbers = std::collections::HashSet::with_capacity(records.len());
        let mut ids = std::collections::HashSet::with_capacity(records.len());
        for r in &records {
            if !self.teams.contains_key(&r.team_id) {
                return Err(ApiError::new(
                    404,
                    "team_not_found",
                    format!("{}: no team {}", r.phone_number, r.team_id),
                ));
            }
            if !is_e164(&r.phone_number) {
                return Err(ApiError::new(
                    400,
                    "invalid_phone_number",
                    format!("{:?} is not E.164", r.phone_number),
                ));
            }
            if !numbers.insert(r.phone_number.as_str())
                || !ids.insert(r.id.as_str())
                || self.owned(&r.phone_number).is_some()
                || self.records.contains_key(&r.id)
            {
                return Err(ApiError::new(
                    409,
                    "already_owned",
                    format!("{} ({}) is already held or repeated", r.phone_number, r.id),
                ));
            }
        }
        for mut r in records {
            r.active_at = r.created_at;
            self.insert_record(r);
        }
        Ok(())
    }
}
