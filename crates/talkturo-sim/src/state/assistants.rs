//! Assistants and the numbers assigned to them.

use std::collections::BTreeSet;

use super::{ApiError, Assistant, NumberStatus, Record, Result, World};

impl World {
    pub(super) fn assistant(&self, account: &str, id: &str) -> Result<&Assistant> {
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
    pub(super) fn check_assignable(
        &self,
        account: &str,
        assistant: &str,
        ids: &[String],
    ) -> Result<()> {
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
        for r in self.records.values() {
            if r.assistant_id.as_deref() == Some(assistant) && !wanted.contains(&r.id) {
                self.in_use_by(&r.phone_number, assistant)?;
            }
        }
        for (id, r) in self.records.iter_mut() {
            if wanted.contains(id) {
                r.assistant_id = Some(assistant.to_owned());
            } else if r.assistant_id.as_deref() == Some(assistant) {
                r.assistant_id = None;
            }
        }
        Ok(())
    }
}
