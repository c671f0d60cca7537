//! A number record as the API serves it.

use super::{Record, RecordCase};

/// A record as the API serves it, serialized straight from the record (a list of thousands of
/// records builds no intermediate JSON tree).
pub struct RecordJson<'a> {
    pub(super) record: &'a Record,
    pub(super) assistant_name: Option<&'a str>,
    pub(super) case: RecordCase,
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
