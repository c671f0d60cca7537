//! [`Client`]: one Talkturo account's API, one method per contract call. Every call goes through
//! [`Client::call`], the one place that retries, logs and counts.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::error::{Error, Operation};
use super::metrics::ClientMetrics;
use super::wire::{self, AssistantNumbers, NumberRecord, Purchase, SearchResult};

mod campaigns;
mod list;
mod paging;
pub use list::{OwnPurchases, PurchaseMark};
mod transport;
use transport::{Call, decode_success};

/// Most records one account list may hold by default: room for accounts of 100,000 numbers
/// and more, and still a bound (a list without end is an invalid answer, not a growing heap).
pub const DEFAULT_MAX_LIST_RECORDS: usize = 250_000;

/// How to reach one account.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Account domain, e.g. `https://app.talkturo.com`; `/api/...` is appended.
    pub base_url: String,
    /// Bearer token. Never logged.
    pub token: SecretString,
    /// Timeout of each HTTP request.
    pub timeout: Duration,
    /// Retries of a transient failure (429, 5xx on idempotent calls, connection refused).
    pub max_retries: usize,
    /// Longest `Retry-After` honoured; longer asks are capped to this.
    pub max_retry_wait: Duration,
    /// Records asked for per list page.
    pub page_size: usize,
    /// Largest response body read; a bigger one is an invalid response, never buffered whole.
    pub max_body_bytes: usize,
    /// Most records one account list may hold; a list announcing or sending more is an
    /// invalid response (a list that never ends must not grow the operator without bound).
    pub max_list_records: usize,
    /// Longest time one account list, all pages and re-reads, may take.
    pub max_list_time: Duration,
    /// The `User-Agent` of every request (`talkturo-operator/<version>`, with the replica's
    /// name when replicas share the classes).
    pub user_agent: String,
}

impl ClientConfig {
    /// Defaults for everything but the base URL and token.
    pub fn new(base_url: impl Into<String>, token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            timeout: Duration::from_secs(10),
            max_retries: 3,
            max_retry_wait: Duration::from_secs(30),
            page_size: 10_000,
            max_body_bytes: 32 << 20,
            max_list_records: DEFAULT_MAX_LIST_RECORDS,
            max_list_time: Duration::from_secs(120),
            user_agent: concat!("talkturo-operator/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Search filters, as the search endpoint takes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SearchFilters {
    pub country_code: String,
    pub area_code: Option<String>,
    pub number_type: Option<String>,
    pub limit: Option<u32>,
}

/// A client of one Talkturo account.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
    config: ClientConfig,
    metrics: Option<Arc<ClientMetrics>>,
    fence: Option<FenceFn>,
}

/// The fence a client asks (see [`Client::with_fence`]), shown only as present in debug output.
#[derive(Clone)]
struct FenceFn(Fence);

impl std::fmt::Debug for FenceFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fence")
    }
}

/// Asked before every request: whether this process may still call the account (see
/// [`Client::with_fence`]).
pub type Fence = Arc<dyn Fn() -> bool + Send + Sync>;

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let invalid = |detail: String| Error::InvalidRequest {
            op: Operation::List,
            detail,
        };
        let base = Url::parse(&config.base_url)
            .map_err(|e| invalid(format!("base URL {:?}: {e}", config.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid(format!(
                "base URL {:?} must be http:// or https://",
                config.base_url
            )));
        }
        // One process-wide TLS provider (ring, as kube uses); installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .user_agent(config.user_agent.clone())
            // Never followed: the answer of another host is not the account's (Error::Redirect).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            token: config.token.clone(),
            config,
            metrics: None,
            fence: None,
        })
    }

    /// Asks `fence` before every request (each retry too): when it says no, nothing is sent and
    /// the call fails with [`Error::Fenced`].
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = Some(FenceFn(fence));
        self
    }

    /// Counts and times every call in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<ClientMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// `POST /api/phone-numbers/search`: numbers that can be bought. Buys nothing.
    pub async fn search(&self, f: &SearchFilters) -> Result<SearchResult, Error> {
        let mut filters = json!({"countryCode": f.country_code});
        if let Some(a) = &f.area_code {
            filters["areaCode"] = json!(a);
        }
        if let Some(t) = &f.number_type {
            filters["numberType"] = json!(t);
        }
        if let Some(l) = f.limit {
            filters["limit"] = json!(l);
        }
        let body = json!({ "filters": filters });
        let found: SearchResult = self
            .typed(
                Operation::Search,
                Method::POST,
                &["phone-numbers", "search"],
                &[],
                Some(&body),
            )
            .await?;
        found
            .check()
            .map_err(|detail| self.invalid(Operation::Search, detail))?;
        Ok(found)
    }

    /// `POST /api/phone-numbers/purchase`: buys exactly `phone_number` for `team_id`.
    ///
    /// Never retried after it may have reached the service: a timeout, a 5xx or a cut
    /// connection is [`Outcome::Unknown`], to be settled from [`Client::list`].
    ///
    /// The answer must name the number asked for: a record of another number is
    /// [`Error::PurchaseMismatch`] (outcome unknown for the asked number), never taken as its
    /// purchase.
    pub async fn purchase(&self, phone_number: &str, team_id: &str) -> Result<Purchase, Error> {
        self.purchase_via(phone_number, team_id, None).await
    }

    /// `POST /api/phone-numbers/purchase` with the optional `connectionId` (a custom provider
    /// configuration's FQDN connection), checked like [`Client::purchase`].
    pub async fn purchase_via(
        &self,
        phone_number: &str,
        team_id: &str,
        connection_id: Option<&str>,
    ) -> Result<Purchase, Error> {
        let mut body = json!({"phoneNumber": phone_number, "teamId": team_id});
        if let Some(id) = connection_id {
            body["connectionId"] = json!(id);
        }
        let bought: Purchase = self
            .typed(
                Operation::Purchase,
                Method::POST,
                &["phone-numbers", "purchase"],
                &[],
                Some(&body),
            )
            .await?;
        let record = &bought.phone_number;
        if record.phone_number != phone_number {
            let e = Error::PurchaseMismatch {
                asked: phone_number.to_owned(),
                answered: wire::cut(&record.phone_number, 40),
                id: wire::cut(&record.id, 40),
            };
            return Err(e.scrubbed(self.token.expose_secret()));
        }
        wire::check_record(record).map_err(|detail| self.invalid(Operation::Purchase, detail))?;
        Ok(bought)
    }

    /// `POST /api/assistants/{id}/telephony/assign-phone-numbers`: adds numbers to the assistant.
    pub async fn assign(
        &self,
        assistant_id: &str,
        account_slug: &str,
        number_ids: &[String],
    ) -> Result<(), Error> {
        let body = json!({"accountSlug": account_slug, "phoneNumberIds": number_ids});
        self.call(
            Call {
                op: Operation::Assign,
                method: Method::POST,
                path: &[
                    "assistants",
                    assistant_id,
                    "telephony",
                    "assign-phone-numbers",
                ],
                query: &[],
                body: Some(&body),
            },
            decode_success,
        )
        .await
        .map(drop)
    }

    /// `GET /api/assistants/{id}/telephony/phone-numbers`: the numbers assigned to the assistant.
    pub async fn assistant_numbers(&self, assistant_id: &str) -> Result<Vec<NumberRecord>, Error> {
        let r: AssistantNumbers = self
            .typed(
                Operation::AssistantNumbers,
                Method::GET,
                &["assistants", assistant_id, "telephony", "phone-numbers"],
                &[],
                None,
            )
            .await?;
        wire::check_records(&r.numbers)
            .map_err(|detail| self.invalid(Operation::AssistantNumbers, detail))?;
        Ok(r.numbers)
    }

    /// `PATCH /api/assistants/{id}/telephony/phone-numbers`: replaces the assistant's whole set
    /// (the only way to unassign a number).
    pub async fn set_assistant_numbers(
        &self,
        assistant_id: &str,
        number_ids: &[String],
    ) -> Result<(), Error> {
        let body = json!({"phoneNumberIds": number_ids});
        self.call(
            Call {
                op: Operation::SetAssistantNumbers,
                method: Method::PATCH,
                path: &["assistants", assistant_id, "telephony", "phone-numbers"],
                query: &[],
                body: Some(&body),
            },
            decode_success,
        )
        .await
        .map(drop)
    }

    /// `DELETE /api/phone-numbers/{id}`: releases the number. Not in the published docs; a 404
    /// means the number is unknown or the service has no release endpoint.
    pub async fn release(&self, number_id: &str) -> Result<(), Error> {
        self.call(
            Call {
                op: Operation::Release,
                method: Method::DELETE,
                path: &["phone-numbers", number_id],
                query: &[],
                body: None,
            },
            decode_success,
        )
        .await
        .map(drop)
    }

    /// An invalid answer to `op`, its detail scrubbed like every text from the service.
    fn invalid(&self, op: Operation, detail: String) -> Error {
        Error::InvalidResponse {
            op,
            status: 200,
            detail,
        }
        .scrubbed(self.token.expose_secret())
    }
}

#[cfg(test)]
mod tests;
