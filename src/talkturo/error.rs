//! Errors of the Talkturo client, each classified by what it means for the caller: the request
//! definitely failed, failed transiently, or may have taken effect (unknown outcome).

use std::fmt;
use std::time::Duration;

/// The operations of the Talkturo contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Search,
    Purchase,
    List,
    Assign,
    AssistantNumbers,
    SetAssistantNumbers,
    Release,
    Campaigns,
}

impl Operation {
    /// Stable name, used in logs and as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Search => "search",
            Operation::Purchase => "purchase",
            Operation::List => "list",
            Operation::Assign => "assign",
            Operation::AssistantNumbers => "get_assistant_numbers",
            Operation::SetAssistantNumbers => "set_assistant_numbers",
            Operation::Release => "release",
            Operation::Campaigns => "campaigns",
        }
    }

    /// Whether repeating the request can do no harm. Purchase and release are not: a repeat
    /// after an unknown outcome could buy or release twice (or fail misleadingly), so they are
    /// only repeated when the first attempt surely did not reach the service.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Operation::Purchase | Operation::Release)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a failure means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The service refused the request; repeating it unchanged will fail the same way.
    Definite,
    /// The request did not take effect, or repeating it is harmless; retry later.
    Transient,
    /// A non-idempotent request may or may not have taken effect; settle it by reading state
    /// (the account's number list), never by repeating it blindly.
    Unknown,
}

/// A failed Talkturo call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service answered with a non-success status.
    #[error("Talkturo {op} answered HTTP {status}: {message}")]
    Api {
        op: Operation,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer within the timeout.
    #[error("Talkturo {op} did not answer within {after:?}")]
    Timeout { op: Operation, after: Duration },
    /// The connection could not be opened; the request never reached the service.
    #[error("cannot connect to Talkturo for {op}: {}", causes(source))]
    Connect {
        op: Operation,
        #[source]
        source: reqwest::Error,
    },
    /// The server at an `https://` URL answered the TLS handshake with something else (a
    /// plain-HTTP port): nothing was sent but the handshake.
    #[error(
        "cannot connect to Talkturo for {op}: the server at {server} does not speak TLS (is apiBaseUrl https:// pointed at a plain-HTTP port?)"
    )]
    NotTls { op: Operation, server: String },
    /// The connection broke after the request was sent, before a full answer arrived.
    #[error(
        "Talkturo {op}: connection lost before a full answer: {}",
        causes(source)
    )]
    Transport {
        op: Operation,
        #[source]
        source: reqwest::Error,
    },
    /// The service answered success, but the body is not the contract's JSON.
    #[error("Talkturo {op} answered HTTP {status} with an unreadable body: {detail}")]
    InvalidResponse {
        op: Operation,
        status: u16,
        detail: String,
    },
    /// The request could not be built (bad base URL, bad header value).
    #[error("invalid Talkturo request for {op}: {detail}")]
    InvalidRequest { op: Operation, detail: String },
    /// The service answered with a redirect, which is never followed: the token must not go to
    /// another host, and another host's answer is not the account's.
    #[error(
        "Talkturo {op} answered HTTP {status}, a redirect to {target}; redirects are not followed (check the class's apiBaseUrl)"
    )]
    Redirect {
        op: Operation,
        status: u16,
        /// The origin (scheme, host, port) the redirect points at, or why it has none.
        target: String,
    },
    /// This process may no longer act for the account (active-active replicas: it no longer
    /// holds, or cannot renew, the class's Lease): nothing was sent.
    #[error(
        "Talkturo {op} not sent: this replica no longer serves the class (its Lease is lost or not renewed)"
    )]
    Fenced { op: Operation },
    /// A purchase answered success for a number other than the one asked for: what was bought
    /// is unknown for the asked number, and `answered` may now be owned by the team.
    #[error("Talkturo answered the purchase of {asked} with a record of {answered} (id {id})")]
    PurchaseMismatch {
        asked: String,
        /// The number the answer names (cut; not necessarily E.164).
        answered: String,
        id: String,
    },
}

impl Error {
    /// The operation that failed.
    pub fn operation(&self) -> Operation {
        match self {
            Error::Api { op, .. }
            | Error::Timeout { op, .. }
            | Error::Connect { op, .. }
            | Error::NotTls { op, .. }
            | Error::Transport { op, .. }
            | Error::InvalidResponse { op, .. }
            | Error::InvalidRequest { op, .. }
            | Error::Fenced { op }
            | Error::Redirect { op, .. } => *op,
            Error::PurchaseMismatch { .. } => Operation::Purchase,
        }
    }

    /// Definite, transient, or unknown outcome (see [`Outcome`]).
    pub fn outcome(&self) -> Outcome {
        let op = self.operation();
        let unless_idempotent = if op.is_idempotent() {
            Outcome::Transient
        } else {
            Outcome::Unknown
        };
        match self {
            Error::Api { status: 429, .. } => Outcome::Transient,
            Error::Api { status, .. } if *status >= 500 || *status == 408 => unless_idempotent,
            Error::Api { .. } | Error::InvalidRequest { .. } => Outcome::Definite,
            // Nothing left this process.
            Error::Connect { .. } | Error::NotTls { .. } | Error::Fenced { .. } => {
                Outcome::Transient
            }
            Error::Timeout { .. } | Error::Transport { .. } | Error::InvalidResponse { .. } => {
                unless_idempotent
            }
            // A redirect is the answer of some server on the way; a purchase or release it
            // answered may still have reached the service.
            Error::Redirect { .. } if op.is_idempotent() => Outcome::Definite,
            Error::Redirect { .. } | Error::PurchaseMismatch { .. } => Outcome::Unknown,
        }
    }

    /// The HTTP status, when the service answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the service asked to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short, stable label for metrics (never the error text).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Api { status, .. } if *status >= 500 => "http_5xx",
            Error::Api { status: 429, .. } => "http_429",
            Error::Api { .. } => "http_4xx",
            Error::Timeout { .. } => "timeout",
            Error::Connect { .. } => "connect",
            Error::NotTls { .. } => "not_tls",
            Error::Transport { .. } => "transport",
            Error::InvalidResponse { .. } => "invalid_response",
            Error::InvalidRequest { .. } => "invalid_request",
            Error::Redirect { .. } => "redirect",
            Error::PurchaseMismatch { .. } => "purchase_mismatch",
            Error::Fenced { .. } => "fenced",
        }
    }

    /// The same error with every text that came from the service cut to
    /// [`MAX_MESSAGE_CHARS`] and scrubbed of `token` and of any `Bearer …` credential: an
    /// error body that echoes the request's `Authorization` header must not put the key into
    /// a condition, an Event or a log line.
    pub fn scrubbed(self, token: &str) -> Self {
        let clean = |s: String| scrub(&s, token);
        match self {
            Error::Api {
                op,
                status,
                message,
                retry_after,
            } => Error::Api {
                op,
                status,
                message: clean(message),
                retry_after,
            },
            Error::InvalidResponse { op, status, detail } => Error::InvalidResponse {
                op,
                status,
                detail: clean(detail),
            },
            Error::Redirect { op, status, target } => Error::Redirect {
                op,
                status,
                target: clean(target),
            },
            Error::PurchaseMismatch {
                asked,
                answered,
                id,
            } => Error::PurchaseMismatch {
                asked,
                answered: clean(answered),
                id: clean(id),
            },
            other => other,
        }
    }
}

/// An error with the chain of its causes (`error sending request: … : dns error: …`,
/// `… : Connection refused`), so a message says *why* Talkturo is unreachable: DNS, TLS, a
/// refused connection.
fn causes(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// The longest text taken from a Talkturo answer into an error (and so into conditions,
/// Events, logs): a 3 MB error message must not make a status write fail.
pub const MAX_MESSAGE_CHARS: usize = 256;

/// `text` cut to [`MAX_MESSAGE_CHARS`], with `token` (when it is long enough to be told apart
/// from ordinary words) and every `Bearer <credential>` replaced by `[redacted]`.
pub fn scrub(text: &str, token: &str) -> String {
    let mut out = if token.len() >= 4 {
        text.replace(token, "[redacted]")
    } else {
        text.to_owned()
    };
    // ASCII lowercasing keeps every byte where it was, so positions found in `lower` are
    // positions in `out`.
    let lower = out.to_ascii_lowercase();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("bearer") {
        let start = from + i + "bearer".len();
        let rest = &out[start..];
        let after = rest.trim_start_matches([' ', ':', '=', '"']);
        let at = start + (rest.len() - after.len());
        let cred = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | ';'))
            .unwrap_or(after.len());
        if cred > 0 && !after.starts_with("[redacted]") {
            spans.push((at, at + cred));
        }
        from = at
            + if cred > 0 {
                cred
            } else {
                after.chars().next().map_or(0, char::len_utf8)
            };
        if from >= out.len() {
            break;
        }
    }
    for (a, b) in spans.into_iter().rev() {
        out.replace_range(a..b, "[redacted]");
    }
    super::wire::cut(&out, MAX_MESSAGE_CHARS)
}

#[cfg(test)]
mod tests;
