//! A failed reconcile: which step failed, and the error it failed with.

use std::sync::Arc;
use std::time::Duration;

use super::decide::requeue;

/// A failed reconcile. Each variant names the step that failed and keeps its source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes, {step}: {source}")]
    Kube {
        step: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("talkturo, {step}: {source}")]
    Talkturo {
        step: &'static str,
        #[source]
        source: Arc<crate::talkturo::Error>,
    },
    #[error("object has no {0}")]
    MissingField(&'static str),
    #[error("kubernetes, {0}: not sent, this replica's Lease for the class has lapsed")]
    Fenced(&'static str),
}

impl Error {
    /// Wraps a kube error with the step that failed.
    pub fn kube(step: &'static str) -> impl FnOnce(kube::Error) -> Error {
        move |source| Error::Kube { step, source }
    }

    /// Wraps a Talkturo error with the step that failed.
    pub fn talkturo(step: &'static str) -> impl FnOnce(crate::talkturo::Error) -> Error {
        move |e| Error::Talkturo {
            step,
            source: Arc::new(e),
        }
    }

    /// Whether the API server answered 409 Conflict (a precondition on a stale copy).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Kube { source: kube::Error::Api(s), .. } if s.code == 409)
    }

    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            e if e.is_conflict() => "conflict",
            Error::Kube { .. } => "kube",
            Error::Talkturo { .. } => "talkturo",
            Error::MissingField(_) => "invalid_object",
            Error::Fenced(_) => "fenced",
        }
    }

    /// How long to wait before retrying: conflicts (a stale cache) at once, the rest later.
    pub fn requeue_after(&self) -> Duration {
        match self {
            e if e.is_conflict() => requeue::ON_CONFLICT,
            Error::Kube { .. } | Error::Fenced(_) => requeue::ON_KUBE_ERROR,
            Error::Talkturo { .. } => requeue::ON_TALKTURO_ERROR,
            Error::MissingField(_) => requeue::ON_INVALID_OBJECT,
        }
    }
}
