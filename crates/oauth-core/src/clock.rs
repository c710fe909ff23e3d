//! Time source, injectable so tests can fix and advance it.

use std::fmt::Debug;

/// Seconds since the Unix epoch.
pub trait Clock: Send + Sync + Debug {
    /// The current time in whole seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

/// A clock that only moves when told to.
#[cfg(feature = "test-util")]
#[derive(Debug, Default)]
pub struct FixedClock(std::sync::atomic::AtomicU64);

#[cfg(feature = "test-util")]
impl FixedClock {
    /// A clock stopped at `now`.
    pub fn new(now: u64) -> Self {
        Self(std::sync::atomic::AtomicU64::new(now))
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(feature = "test-util")]
impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
