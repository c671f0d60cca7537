//! The transport under every contract call: retries, the one HTTP exchange, bounded bodies,
//! no redirects, and errors scrubbed of the key.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::{AUTHORIZATION, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Client;
use crate::talkturo::error::{Error, Operation, Outcome};
use crate::talkturo::wire::{self, ListPage, NumberRecord};

impl Client {
    pub(super) async fn typed<T: DeserializeOwned>(
        &self,
        op: Operation,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, Error> {
        let v = self
            .call(
                Call {
                    op,
                    method,
                    path,
                    query,
                    body,
                },
                decode_success,
            )
            .await?;
        from_json(op, StatusCode::OK, v)
    }

    /// One contract call with its retries: transient failures of idempotent calls, and of any
    /// call that surely did not reach the service (connection refused, 429), are retried with
    /// jittered exponential backoff, or after `Retry-After` when the service asks. A successful
    /// body is decoded by `decode` (a decoding failure counts as an invalid response, retried
    /// like one).
    pub(super) async fn call<T>(&self, call: Call<'_>, decode: Decode<T>) -> Result<T, Error> {
        let op = call.op;
        let url = self.url(op, call.path)?;
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_jitter()
            .with_max_times(self.config.max_retries)
            .build();
        loop {
            if self.fence.as_ref().is_some_and(|may_call| !(may_call.0)()) {
                return Err(Error::Fenced { op });
            }
            let err = match self.attempt(&call, url.clone(), decode).await {
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

    pub(super) fn url(&self, op: Operation, path: &[&str]) -> Result<Url, Error> {
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
    pub(super) async fn attempt<T>(
        &self,
        call: &Call<'_>,
        url: Url,
        decode: Decode<T>,
    ) -> Result<T, Error> {
        let (op, method) = (call.op, &call.method);
        let started = Instant::now();
        let result = self
            .exchange(call, url.clone(), decode)
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

    pub(super) async fn exchange<T>(
        &self,
        call: &Call<'_>,
        url: Url,
        decode: Decode<T>,
    ) -> Result<T, Error> {
        let (op, query, body) = (call.op, call.query, call.body);
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret()))
            .map_err(|_| Error::InvalidRequest {
                op,
                detail: "the API token contains characters not allowed in a header".into(),
            })?;
        auth.set_sensitive(true);
        let mut req = self
            .http
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, auth);
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

/// What one contract call sends.
pub(super) struct Call<'a> {
    pub op: Operation,
    pub method: Method,
    pub path: &'a [&'a str],
    pub query: &'a [(&'a str, String)],
    pub body: Option<&'a Value>,
}

/// How a successful response's body becomes the call's result.
pub(super) type Decode<T> = fn(Operation, StatusCode, &[u8]) -> Result<T, Error>;

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

pub(super) fn transport_error(op: Operation, e: reqwest::Error, after: Duration) -> Error {
    if e.is_timeout() {
        Error::Timeout { op, after }
    } else if e.is_connect() && not_tls(&e) {
        let server = e.url().map_or_else(String::new, |u| {
            format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default())
                + &u.port().map(|p| format!(":{p}")).unwrap_or_default()
        });
        Error::NotTls { op, server }
    } else if e.is_connect() {
        Error::Connect { op, source: e }
    } else {
        Error::Transport { op, source: e }
    }
}

/// Whether a failed connection is a TLS handshake answered by something that is not TLS: rustls
/// reads a first byte that is no TLS record type (`InvalidContentType`), as from a plain-HTTP
/// server's `HTTP/1.1 400` answer. The rustls error reaches us boxed inside an `io::Error` (whose
/// `source` skips it), so it is found by its own text where it cannot be downcast.
fn not_tls(e: &reqwest::Error) -> bool {
    let invalid = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
    let text = invalid.to_string();
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(cause) = next {
        if cause.downcast_ref::<rustls::Error>() == Some(&invalid) || cause.to_string() == text {
            return true;
        }
        next = cause.source();
    }
    false
}

/// A 2xx body: JSON with keys normalized to snake_case. An empty body is taken as `{}`
/// (success with nothing to say); `success: false` inside a 2xx is not trusted as success.
/// A list page, decoded straight from the body when it is a plain object whose records use
/// snake_case or camelCase keys (the common case: no intermediate JSON tree, which for 10,000
/// records costs more time and memory than the records themselves); anything else goes the
/// lenient way of `decode_success`.
pub(super) fn decode_page(
    op: Operation,
    status: StatusCode,
    bytes: &[u8],
) -> Result<ListPage, Error> {
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
pub(super) fn from_json<T: DeserializeOwned>(
    op: Operation,
    status: StatusCode,
    v: Value,
) -> Result<T, Error> {
    serde_json::from_value(v).map_err(|e| Error::InvalidResponse {
        op,
        status: status.as_u16(),
        detail: e.to_string(),
    })
}

pub(super) fn decode_success(
    op: Operation,
    status: StatusCode,
    bytes: &[u8],
) -> Result<Value, Error> {
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
pub(super) fn redirect_target(location: Option<&HeaderValue>, base: &Url) -> String {
    let Some(text) = location.and_then(|l| l.to_str().ok()) else {
        return "an unreadable or missing Location".to_owned();
    };
    match base.join(text) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => "an unparseable Location".to_owned(),
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub(super) fn parse_retry_after(v: &HeaderValue) -> Option<Duration> {
    let s = v.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(s).ok()?.timestamp();
    let secs = at.duration_since(jiff::Timestamp::now()).as_secs().max(0);
    Some(Duration::from_secs(secs as u64))
}
