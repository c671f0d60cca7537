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
    #[error("cannot connect to Talkturo for {op}: {source}")]
    Connect {
        op: Operation,
        #[source]
        source: reqwest::Error,
    },
    /// The connection broke after the request was sent, before a full answer arrived.
    #[error("Talkturo {op}: connection lost before a full answer: {source}")]
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
}

impl Error {
    /// The operation that failed.
    pub fn operation(&self) -> Operation {
        match self {
            Error::Api { op, .. }
            | Error::Timeout { op, .. }
            | Error::Connect { op, .. }
            | Error::Transport { op, .. }
            | Error::InvalidResponse { op, .. }
            | Error::InvalidRequest { op, .. } => *op,
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
            Error::Connect { .. } => Outcome::Transient,
            Error::Timeout { .. } | Error::Transport { .. } | Error::InvalidResponse { .. } => {
                unless_idempotent
            }
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
            Error::Transport { .. } => "transport",
            Error::InvalidResponse { .. } => "invalid_response",
            Error::InvalidRequest { .. } => "invalid_request",
        }
    }
}
