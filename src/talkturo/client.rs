//! [`Client`]: one Talkturo account's API, one method per contract call. Every call goes through
//! [`Client::call`], the one place that retries, logs and counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::{AUTHORIZATION, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::{Error, Operation, Outcome};
use super::metrics::ClientMetrics;
use super::wire::{self, AssistantNumbers, ListPage, NumberRecord, Purchase, SearchResult};

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
            max_list_records: 25_000,
            max_list_time: Duration::from_secs(120),
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
}

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
            .user_agent(concat!("talkturo-operator/", env!("CARGO_PKG_VERSION")))
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
        })
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
        let body = json!({"phoneNumber": phone_number, "teamId": team_id});
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

    /// `GET /api/phone-numbers/purchase?teamId=`: every number of the team, all pages.
    ///
    /// The list is the source of truth for what the account owns, so a partial answer is an
    /// error, never a shorter list: pages are read until `count` records arrived, and if the
    /// list changed while being read (count moved, duplicates) it is read again. Every record
    /// is checked (E.164 number, usable id, one id per number). Reading is bounded: never more
    /// than the first page's `count` plus one, [`ClientConfig::max_list_records`] and
    /// [`ClientConfig::max_list_time`]; past them the list is an invalid response.
    pub async fn list(&self, team_id: &str) -> Result<Vec<NumberRecord>, Error> {
        let deadline = Instant::now() + self.config.max_list_time;
        let mut unstable = String::new();
        for _ in 0..3 {
            match self.list_once(team_id, deadline).await? {
                Ok(all) => return Ok(all),
                Err(why) => unstable = why,
            }
            tracing::debug!(team_id, why = %unstable, "number list changed while paging; reading it again");
        }
        Err(self.invalid(
            Operation::List,
            format!("the number list kept changing while it was paged through ({unstable})"),
        ))
    }

    /// One read of every page: the records, or (inner `Err`) why the pages did not add up to
    /// one consistent list, to read it again.
    async fn list_once(
        &self,
        team_id: &str,
        deadline: Instant,
    ) -> Result<Result<Vec<NumberRecord>, String>, Error> {
        let limit = self.config.page_size.max(1);
        let max = self.config.max_list_records;
        let mut all: Vec<NumberRecord> = Vec::new();
        let mut ids = std::collections::HashSet::new();
        let mut announced: Option<u64> = None;
        loop {
            if Instant::now() >= deadline {
                return Err(self.invalid(
                    Operation::List,
                    format!(
                        "the number list took longer than {:?} ({} records read)",
                        self.config.max_list_time,
                        all.len()
                    ),
                ));
            }
            let query = [
                ("teamId", team_id.to_owned()),
                ("limit", limit.to_string()),
                ("offset", all.len().to_string()),
            ];
            let page: ListPage = self
                .call(
                    Operation::List,
                    Method::GET,
                    &["phone-numbers", "purchase"],
                    &query,
                    None,
                    decode_page,
                )
                .await?;
            let got = page.numbers.len();
            if let Some(c) = page.count.filter(|c| *c > max as u64) {
                return Err(self.invalid(
                    Operation::List,
                    format!("the list announces {c} numbers, more than the {max} this operator reads (--max-list-records)"),
                ));
            }
            match (announced, page.count) {
                (None, c) if all.is_empty() => announced = c,
                (a, c) if a != c => {
                    return Ok(Err(format!("count moved from {a:?} to {c:?}")));
                }
                _ => {}
            }
            for r in &page.numbers {
                if !ids.insert(r.id.clone()) {
                    return Ok(Err(format!(
                        "id {} came twice (offset {} ignored?)",
                        wire::cut(&r.id, 40),
                        all.len()
                    )));
                }
            }
            all.extend(page.numbers);
            // Never past what the first page announced (plus one), nor past the record limit.
            let bound = announced.map_or(max as u64, |c| c.saturating_add(1).min(max as u64));
            if all.len() as u64 > bound {
                return Err(self.invalid(
                    Operation::List,
                    format!(
                        "the list sent {} records or more, past {}",
                        all.len(),
                        announced.map_or_else(
                            || format!("the {max} this operator reads (--max-list-records)"),
                            |c| format!("the {c} its first page announced")
                        )
                    ),
                ));
            }
            let more = match announced {
                Some(total) => (all.len() as u64) < total && got > 0,
                None => got >= limit,
            };
            if !more {
                break;
            }
        }
        if let Some(total) = announced.filter(|t| *t != all.len() as u64) {
            return Ok(Err(format!(
                "count says {total}, {} records came",
                all.len()
            )));
        }
        wire::check_records(&all).map_err(|detail| self.invalid(Operation::List, detail))?;
        Ok(Ok(all))
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
            Operation::Assign,
            Method::POST,
            &[
                "assistants",
                assistant_id,
                "telephony",
                "assign-phone-numbers",
            ],
            &[],
            Some(&body),
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
            Operation::SetAssistantNumbers,
            Method::PATCH,
            &["assistants", assistant_id, "telephony", "phone-numbers"],
            &[],
            Some(&body),
            decode_success,
        )
        .await
        .map(drop)
    }

    /// `DELETE /api/phone-numbers/{id}`: releases the number. Not in the published docs; a 404
    /// means the number is unknown or the service has no release endpoint.
    pub async fn release(&self, number_id: &str) -> Result<(), Error> {
        self.call(
            Operation::Release,
            Method::DELETE,
            &["phone-numbers", number_id],
            &[],
            None,
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

    async fn typed<T: DeserializeOwned>(
        &self,
        op: Operation,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, Error> {
        let v = self
            .call(op, method, path, query, body, decode_success)
            .await?;
        from_json(op, StatusCode::OK, v)
    }

    /// One contract call with its retries: transient failures of idempotent calls, and of any
    /// call that surely did not reach the service (connection refused, 429), are retried with
    /// jittered exponential backoff, or after `Retry-After` when the service asks. A successful
    /// body is decoded by `decode` (a decoding failure counts as an invalid response, retried
    /// like one).
    async fn call<T>(
        &self,
        op: Operation,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
        decode: Decode<T>,
    ) -> Result<T, Error> {
        let url = self.url(op, path)?;
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_jitter()
            .with_max_times(self.config.max_retries)
            .build();
        loop {
            let err = match self
                .attempt(op, method.clone(), url.clone(), query, body, decode)
                .await
            {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let not_sent = matches!(err, Error::Connect { .. } | Error::Api { status: 429, .. });
            let retryable = err.outcome() == Outcome::Transient && (op.is_idempotent() || not_sent);
            let Some(backoff) = delays.next().filter(|_| retryable) else {
                return Err(err);
            };
            let wait = err
                .retry_after()
                .map_or(backoff, |ra| ra.min(self.config.max_retry_wait));
            tracing::debug!(operation = %op, error = %err, wait_ms = wait.as_millis() as u64, "retrying Talkturo call");
            tokio::time::sleep(wait).await;
        }
    }

    fn url(&self, op: Operation, path: &[&str]) -> Result<Url, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::InvalidRequest {
                op,
                detail: "base URL cannot have a path".into(),
            })?
            .pop_if_empty()
            .push("api")
            .extend(path);
        Ok(url)
    }

    /// One HTTP exchange: the only place a request is sent, logged and counted.
    async fn attempt<T>(
        &self,
        op: Operation,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&Value>,
        decode: Decode<T>,
    ) -> Result<T, Error> {
        let started = Instant::now();
        let result = self
            .exchange(op, method.clone(), url.clone(), query, body, decode)
            .await
            .map_err(|e| e.scrubbed(self.token.expose_secret()));
        let elapsed = started.elapsed();
        let outcome = result.as_ref().map_or_else(Error::kind, |_| "ok");
        if let Some(m) = &self.metrics {
            m.observe(op.as_str(), outcome, elapsed.as_secs_f64());
        }
        let latency_ms = elapsed.as_millis() as u64;
        match &result {
            Ok(_) => {
                tracing::debug!(operation = %op, %method, path = url.path(), latency_ms, "talkturo call")
            }
            Err(e) => {
                tracing::info!(operation = %op, %method, path = url.path(), latency_ms, status = e.status(), error = %e, "talkturo call failed")
            }
        }
        result
    }

    async fn exchange<T>(
        &self,
        op: Operation,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&Value>,
        decode: Decode<T>,
    ) -> Result<T, Error> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret()))
            .map_err(|_| Error::InvalidRequest {
                op,
                detail: "the API token contains characters not allowed in a header".into(),
            })?;
        auth.set_sensitive(true);
        let mut req = self.http.request(method, url).header(AUTHORIZATION, auth);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let timeout = self.config.timeout;
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(op, e, timeout))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(Error::Redirect {
                op,
                status: status.as_u16(),
                target: redirect_target(resp.headers().get(LOCATION), resp.url()),
            });
        }
        let retry_after = resp.headers().get(RETRY_AFTER).and_then(parse_retry_after);
        let bytes = read_capped(op, status, resp, self.config.max_body_bytes, timeout).await?;
        if !status.is_success() {
            let message = wire::error_message(&String::from_utf8_lossy(&bytes));
            return Err(Error::Api {
                op,
                status: status.as_u16(),
                message,
                retry_after,
            });
        }
        decode(op, status, &bytes)
    }
}

/// How a successful response's body becomes the call's result.
type Decode<T> = fn(Operation, StatusCode, &[u8]) -> Result<T, Error>;

/// The body, read chunk by chunk and refused once it exceeds `max` bytes.
async fn read_capped(
    op: Operation,
    status: StatusCode,
    mut resp: reqwest::Response,
    max: usize,
    timeout: Duration,
) -> Result<Vec<u8>, Error> {
    let too_big = |n: u64| Error::InvalidResponse {
        op,
        status: status.as_u16(),
        detail: format!("the body is larger than {max} bytes ({n} bytes or more)"),
    };
    if let Some(n) = resp.content_length().filter(|n| *n > max as u64) {
        return Err(too_big(n));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| transport_error(op, e, timeout))?
    {
        if out.len() + chunk.len() > max {
            return Err(too_big((out.len() + chunk.len()) as u64));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn transport_error(op: Operation, e: reqwest::Error, after: Duration) -> Error {
    if e.is_timeout() {
        Error::Timeout { op, after }
    } else if e.is_connect() {
        Error::Connect { op, source: e }
    } else {
        Error::Transport { op, source: e }
    }
}

/// A 2xx body: JSON with keys normalized to snake_case. An empty body is taken as `{}`
/// (success with nothing to say); `success: false` inside a 2xx is not trusted as success.
/// A list page, decoded straight from the body when it is a plain object whose records use
/// snake_case or camelCase keys (the common case: no intermediate JSON tree, which for 10,000
/// records costs more time and memory than the records themselves); anything else goes the
/// lenient way of `decode_success`.
fn decode_page(op: Operation, status: StatusCode, bytes: &[u8]) -> Result<ListPage, Error> {
    // Unlike `ListPage`, the records' key is required: a page that spells it some other way
    // must not decode as an empty account.
    #[derive(serde::Deserialize)]
    struct Direct {
        #[serde(default)]
        success: Option<Value>,
        #[serde(alias = "phone_numbers", alias = "phoneNumbers", alias = "data")]
        numbers: Vec<NumberRecord>,
        #[serde(default)]
        count: Option<u64>,
    }
    if let Ok(page) = serde_json::from_slice::<Direct>(bytes)
        && page.success != Some(Value::Bool(false))
    {
        return Ok(ListPage {
            numbers: page.numbers,
            count: page.count,
        });
    }
    from_json(op, status, decode_success(op, status, bytes)?)
}

/// A successful body's JSON as the contract's type.
fn from_json<T: DeserializeOwned>(op: Operation, status: StatusCode, v: Value) -> Result<T, Error> {
    serde_json::from_value(v).map_err(|e| Error::InvalidResponse {
        op,
        status: status.as_u16(),
        detail: e.to_string(),
    })
}

fn decode_success(op: Operation, status: StatusCode, bytes: &[u8]) -> Result<Value, Error> {
    let invalid = |detail: String| Error::InvalidResponse {
        op,
        status: status.as_u16(),
        detail,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(invalid("the body is not a JSON object".into()));
    }
    if v.get("success") == Some(&Value::Bool(false)) {
        return Err(invalid(format!(
            "success is false: {}",
            wire::error_message(&String::from_utf8_lossy(bytes))
        )));
    }
    Ok(wire::normalize_keys(v))
}

/// The origin a redirect points at (scheme, host and port only: a path or query may carry
/// anything), resolved against the request's URL.
fn redirect_target(location: Option<&HeaderValue>, base: &Url) -> String {
    let Some(text) = location.and_then(|l| l.to_str().ok()) else {
        return "an unreadable or missing Location".to_owned();
    };
    match base.join(text) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => "an unparseable Location".to_owned(),
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(v: &HeaderValue) -> Option<Duration> {
    let s = v.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(s).ok()?.timestamp();
    let secs = at.duration_since(jiff::Timestamp::now()).as_secs().max(0);
    Some(Duration::from_secs(secs as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_page_decodes_the_same_straight_or_through_the_lenient_path() {
        let snake = br#"{"success":true,"numbers":[{"id":"n1","phone_number":"+14155550100","provider_id":"p1","status":"active","is_trial":"true","trial_expires_at":"2026-01-01T00:00:00Z","assistant_id":7,"created_at":"2025-12-01T00:00:00Z","team_id":"t"}],"count":1}"#;
        let camel = br#"{"success":true,"phoneNumbers":[{"id":"n1","phoneNumber":"+14155550100","providerId":"p1","status":"ACTIVE","isTrial":true,"trialExpiresAt":"2026-01-01T00:00:00Z","assistantId":"7","createdAt":"2025-12-01T00:00:00Z","teamId":"t"}],"count":1}"#;
        let ok = StatusCode::OK;
        let lenient = |b: &[u8]| -> ListPage {
            serde_json::from_value(decode_success(Operation::List, ok, b).unwrap()).unwrap()
        };
        let straight = decode_page(Operation::List, ok, snake).unwrap();
        assert_eq!(straight, lenient(snake));
        assert_eq!(decode_page(Operation::List, ok, camel).unwrap(), straight);
        assert_eq!(straight.numbers[0].assistant_id.as_deref(), Some("7"));
        assert!(straight.numbers[0].is_trial);
        // Odd spellings the aliases do not cover still decode (the lenient path).
        let odd = br#"{"Numbers":[{"Id":"n1","PhoneNumber":"+14155550100"}]}"#;
        let page = decode_page(Operation::List, ok, odd).unwrap();
        assert_eq!(page.numbers[0].phone_number, "+14155550100");
        // A refusal in a 200 and a body that is not an object are errors, as before.
        let refused = decode_page(Operation::List, ok, br#"{"success":false,"message":"no"}"#);
        assert!(matches!(refused, Err(Error::InvalidResponse { .. })));
        assert!(decode_page(Operation::List, ok, b"[1,2]").is_err());
        assert!(
            decode_page(Operation::List, ok, b" ")
                .unwrap()
                .numbers
                .is_empty()
        );
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("7")),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(&HeaderValue::from_static("soon")), None);
    }

    #[test]
    fn success_bodies_must_be_json_objects_that_do_not_say_failure() {
        let ok = StatusCode::OK;
        assert!(decode_success(Operation::List, ok, b"{\"success\":true}").is_ok());
        assert!(decode_success(Operation::List, ok, b"").is_ok());
        assert!(decode_success(Operation::List, ok, b"[1]").is_err());
        assert!(decode_success(Operation::List, ok, b"{\"numbers\": [").is_err());
        let e = decode_success(
            Operation::Purchase,
            ok,
            b"{\"success\":false,\"message\":\"no\"}",
        )
        .unwrap_err();
        assert_eq!(e.outcome(), Outcome::Unknown);
    }

    #[test]
    fn a_path_segment_is_escaped_and_a_base_path_is_kept() {
        let c = Client::new(ClientConfig::new(
            "https://example.test/tenant/",
            SecretString::from("t"),
        ))
        .unwrap();
        let u = c
            .url(Operation::Assign, &["assistants", "a/b?c", "telephony"])
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://example.test/tenant/api/assistants/a%2Fb%3Fc/telephony"
        );
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        assert!(Client::new(ClientConfig::new("ftp://x", SecretString::from("t"))).is_err());
        assert!(Client::new(ClientConfig::new("not a url", SecretString::from("t"))).is_err());
    }
}
