//! CPU-heavy checks kept off the async executor.
//!
//! Verifying an Argon2id hash (a client secret a human chose, a user's
//! password) takes tens of milliseconds of CPU and 19 MiB of memory. Run on
//! an async worker, each one stalls every other request of that worker. The
//! engine therefore hands such checks to an [`Offload`]: the actix adapter
//! fills it with a pool bounded for the whole process
//! (`oauth_actix::BlockingPool`), which refuses work when it is full instead
//! of queueing without bound; the engine then answers
//! `503 temporarily_unavailable` with `Retry-After`.
//!
//! [`Inline`], the default, runs the check on the calling thread: right for
//! tests and for callers without an async runtime, wrong for a server.

use async_trait::async_trait;

use crate::error::{ErrorCode, OAuthError};

/// A CPU-heavy check and its verdict.
pub type Job = Box<dyn FnOnce() -> bool + Send + 'static>;

/// The offload pool is full: the request is refused, not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("every thread for CPU-heavy checks is busy and the queue is full")]
pub struct Saturated;

impl From<Saturated> for OAuthError {
    /// `temporarily_unavailable` (503, with `Retry-After`).
    fn from(_: Saturated) -> Self {
        OAuthError::new(ErrorCode::TemporarilyUnavailable, "The server is busy; try again in a moment")
    }
}

/// Runs CPU-heavy checks where they cannot stall the async workers.
#[async_trait]
pub trait Offload: Send + Sync + std::fmt::Debug {
    /// Runs `job` and returns its verdict, or [`Saturated`] at once when
    /// there is no room for it.
    async fn run(&self, job: Job) -> Result<bool, Saturated>;
}

/// Runs each job on the calling thread. Never saturated; blocks the caller
/// for as long as the job takes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inline;

#[async_trait]
impl Offload for Inline {
    async fn run(&self, job: Job) -> Result<bool, Saturated> {
        Ok(job())
    }
}
