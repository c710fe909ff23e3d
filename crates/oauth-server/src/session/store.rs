//! Where sessions live: the [`SessionStore`] trait, [`MemorySessions`] and,
//! with the `redis` feature, [`RedisSessions`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use oauth_core::clock::{Clock, SystemClock};
use oauth_core::storage::{StorageError, StorageResult};
use oauth_core::types::TokenHash;

/// Server-side browser sessions, keyed by the hash of the session id.
///
/// The server decides what goes in (the logged-in user, the pending
/// authorization, the CSRF token); the store keeps an opaque string until
/// `expires_at` (Unix seconds) and never returns it after.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The session data, if the session exists and has not expired.
    async fn load_session(&self, id: &TokenHash) -> StorageResult<Option<String>>;
    /// Creates or replaces a session until `expires_at`.
    async fn save_session(&self, id: &TokenHash, data: &str, expires_at: u64) -> StorageResult<()>;
    /// Deletes a session.
    async fn delete_session(&self, id: &TokenHash) -> StorageResult<()>;
    /// Whether the backend answers (the readiness probe, `/readyz`).
    async fn ping(&self) -> StorageResult<()>;
    /// The number of live sessions, when the store counts them cheaply
    /// (in memory); `None` otherwise. For tests and measurements.
    fn live_count(&self) -> Option<usize> {
        None
    }
}

/// Sessions in process memory. Expired sessions are invisible at once; each
/// save also removes the sessions whose time has come, found through a
/// time-ordered index, so memory stays bounded by the live sessions, and
/// their number by a limit: a new session beyond it is refused with
/// [`StorageError::Full`] (the pages answer 503).
#[derive(Debug)]
pub struct MemorySessions {
    clock: Arc<dyn Clock>,
    max_sessions: usize,
    inner: Mutex<Expiring>,
}

/// The sessions and their expiry index.
#[derive(Debug, Default)]
struct Expiring {
    /// Data and expiry by id hash.
    map: BTreeMap<TokenHash, (String, u64)>,
    /// (expiry, id hash) of every save: what to look at when that time has passed.
    due: BTreeSet<(u64, TokenHash)>,
}

impl Expiring {
    /// Removes the sessions whose expiry has passed, by the index.
    fn purge(&mut self, now: u64) {
        while let Some(&(at, id)) = self.due.first() {
            if at > now {
                break;
            }
            self.due.pop_first();
            if self.map.get(&id).is_some_and(|(_, expires_at)| *expires_at <= now) {
                self.map.remove(&id);
            }
        }
    }
}

impl Default for MemorySessions {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySessions {
    /// No sessions, on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// No sessions, on the given clock (tests use a fixed clock).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self::with_limit(clock, Self::DEFAULT_MAX_SESSIONS)
    }

    /// No sessions, on the given clock, holding at most `max_sessions` live ones.
    pub fn with_limit(clock: Arc<dyn Clock>, max_sessions: usize) -> Self {
        Self { clock, max_sessions, inner: Mutex::default() }
    }

    /// The default bound of [`with_limit`](Self::with_limit) (`session.memory_max_sessions`).
    pub const DEFAULT_MAX_SESSIONS: usize = 100_000;

    /// The number of live sessions, after purging expired ones. For tests.
    pub fn live_sessions(&self) -> usize {
        let mut inner = self.lock();
        inner.purge(self.clock.now());
        inner.map.len()
    }

    /// Every critical section replaces or removes whole entries, so a
    /// poisoned lock still holds consistent data.
    fn lock(&self) -> std::sync::MutexGuard<'_, Expiring> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn load_session(&self, id: &TokenHash) -> StorageResult<Option<String>> {
        let now = self.clock.now();
        Ok(self.lock().map.get(id).filter(|(_, expires_at)| *expires_at > now).map(|(data, _)| data.clone()))
    }

    async fn save_session(&self, id: &TokenHash, data: &str, expires_at: u64) -> StorageResult<()> {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.purge(now);
        if inner.map.len() >= self.max_sessions && !inner.map.contains_key(id) {
            return Err(StorageError::Full);
        }
        inner.due.insert((expires_at, *id));
        inner.map.insert(*id, (data.to_owned(), expires_at));
        Ok(())
    }

    async fn delete_session(&self, id: &TokenHash) -> StorageResult<()> {
        self.lock().map.remove(id);
        Ok(())
    }

    async fn ping(&self) -> StorageResult<()> {
        Ok(())
    }

    fn live_count(&self) -> Option<usize> {
        Some(self.live_sessions())
    }
}

#[cfg(feature = "redis")]
pub use redis_sessions::RedisSessions;

#[cfg(feature = "redis")]
mod redis_sessions {
    use async_trait::async_trait;
    use oauth_core::storage::{StorageError, StorageResult};
    use oauth_core::types::TokenHash;
    use oauth_storage_redis::{BuildError, Records, RedisStore};

    use super::SessionStore;

    /// The records namespace of sessions: their keys are
    /// `{prefix}:sess:{sha256 hex of the id}`.
    const NAMESPACE: &str = "sess";

    /// Sessions in Redis, as [`Records`] of the store: one key per session
    /// with a TTL ending when the session does, shared by every instance.
    #[derive(Debug, Clone)]
    pub struct RedisSessions {
        records: Records,
    }

    impl RedisSessions {
        /// Sessions in `store`, under its key prefix.
        pub fn new(store: &RedisStore) -> Result<Self, BuildError> {
            Ok(Self { records: store.records(NAMESPACE)? })
        }
    }

    #[async_trait]
    impl SessionStore for RedisSessions {
        async fn load_session(&self, id: &TokenHash) -> StorageResult<Option<String>> {
            self.records
                .get(id)
                .await?
                .map(|raw| String::from_utf8(raw).map_err(|e| StorageError::Corrupt(Box::new(e))))
                .transpose()
        }

        async fn save_session(&self, id: &TokenHash, data: &str, expires_at: u64) -> StorageResult<()> {
            self.records.put(id, data.as_bytes(), expires_at).await
        }

        async fn delete_session(&self, id: &TokenHash) -> StorageResult<()> {
            self.records.delete(id).await.map(|_| ())
        }

        async fn ping(&self) -> StorageResult<()> {
            self.records.ping().await
        }
    }
}
