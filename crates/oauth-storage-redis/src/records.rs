//! [`Records`]: opaque records with an expiry, for data the engine does not
//! know (`oauth-server` keeps its browser sessions here).

use oauth_core::storage::{OnceStore, StorageResult};
use oauth_core::types::TokenHash;

use crate::store::{BuildError, RedisStore};

/// Key namespaces of the engine's own records, which [`RedisStore::records`] refuses.
const RESERVED: [&str; 7] = ["code", "g", "cg", "consent", "throttle", ONCE, "dev"];

/// The namespace of the engine's single-use records ([`OnceStore`]).
pub(crate) const ONCE: &str = "once";

/// Opaque byte records with an expiry in one namespace of a [`RedisStore`],
/// made by [`RedisStore::records`].
///
/// Each record is one string key, `{prefix}:{namespace}:{sha256 hex}`, whose
/// TTL ends at the record's `expires_at`: nothing is ever stored without
/// one, and every call touches one key, so it works on Redis Cluster. Keys
/// are [`TokenHash`]es, so a raw session id (or any other secret) is never
/// in Redis. Cheap to clone (it shares the store's connections).
#[derive(Clone, Debug)]
pub struct Records {
    store: RedisStore,
    /// `{prefix}:{namespace}:`
    key_prefix: String,
}

impl RedisStore {
    /// The records of `namespace`: ASCII letters, digits, `-` and `_`, and
    /// none of the engine's own (`code`, `g`, `cg`, `consent`, `throttle`, `once`).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use oauth_core::types::TokenHash;
    /// let store = oauth_storage_redis::RedisStore::from_url("redis://127.0.0.1:6379")?;
    /// let sessions = store.records("sess")?;
    /// let id = TokenHash::of("a random session id");
    /// sessions.put(&id, b"{}", 1_900_000_000).await?;
    /// assert_eq!(sessions.get(&id).await?.as_deref(), Some(&b"{}"[..]));
    /// # Ok(()) }
    /// ```
    pub fn records(&self, namespace: &str) -> Result<Records, BuildError> {
        let valid = !namespace.is_empty()
            && namespace.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !RESERVED.contains(&namespace);
        if !valid {
            return Err(BuildError::Namespace(namespace.to_owned()));
        }
        Ok(Records { store: self.clone(), key_prefix: self.keys().records(namespace) })
    }
}

impl Records {
    fn key(&self, id: &TokenHash) -> String {
        let hex = id.to_hex();
        let mut key = String::with_capacity(self.key_prefix.len() + hex.len());
        key.push_str(&self.key_prefix);
        key.push_str(&hex);
        key
    }

    /// The record, if it exists and has not expired.
    pub async fn get(&self, id: &TokenHash) -> StorageResult<Option<Vec<u8>>> {
        self.store.query(redis::cmd("GET").arg(self.key(id))).await
    }

    /// Creates or replaces a record until `expires_at` (Unix seconds); a
    /// time already past deletes it instead.
    pub async fn put(&self, id: &TokenHash, value: &[u8], expires_at: u64) -> StorageResult<()> {
        if expires_at <= self.store.now() {
            return self.delete(id).await.map(|_| ());
        }
        self.store.query::<()>(redis::cmd("SET").arg(self.key(id)).arg(value).arg("EXAT").arg(expires_at)).await
    }

    /// Creates a record until `expires_at` unless one exists (`SET NX
    /// EXAT`); true when created. A time already past creates nothing and
    /// answers true: no live record has the key.
    pub async fn put_new(&self, id: &TokenHash, value: &[u8], expires_at: u64) -> StorageResult<bool> {
        if expires_at <= self.store.now() {
            return Ok(true);
        }
        let set = redis::cmd("SET").arg(self.key(id)).arg(value).arg("NX").arg("EXAT").arg(expires_at).clone();
        // `OK` when set, nil when the key exists.
        Ok(self.store.query::<Option<String>>(&set).await?.is_some())
    }

    /// Returns the record and deletes it in one command (`GETDEL`): of
    /// concurrent calls, one gets it.
    pub async fn take(&self, id: &TokenHash) -> StorageResult<Option<Vec<u8>>> {
        self.store.query(redis::cmd("GETDEL").arg(self.key(id))).await
    }

    /// Deletes a record; true when it existed.
    pub async fn delete(&self, id: &TokenHash) -> StorageResult<bool> {
        Ok(self.store.query::<i64>(redis::cmd("DEL").arg(self.key(id))).await? > 0)
    }

    /// Whether Redis answers ([`RedisStore::ping`]), for readiness probes.
    pub async fn ping(&self) -> StorageResult<()> {
        self.store.ping().await
    }
}

#[async_trait::async_trait]
impl OnceStore for RedisStore {
    async fn put_once(&self, key: &TokenHash, value: &[u8], expires_at: u64) -> StorageResult<bool> {
        self.once_records().put_new(key, value, expires_at).await
    }

    async fn take_once(&self, key: &TokenHash) -> StorageResult<Option<Vec<u8>>> {
        self.once_records().take(key).await
    }
}

impl RedisStore {
    /// The engine's single-use records (namespace [`ONCE`], reserved).
    fn once_records(&self) -> Records {
        Records { store: self.clone(), key_prefix: self.keys().records(ONCE) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_checked() {
        let store = RedisStore::from_url("redis://127.0.0.1:1").unwrap_or_else(|e| panic!("{e}"));
        for good in ["sess", "device-codes", "a_1"] {
            assert!(store.records(good).is_ok(), "{good}");
        }
        for bad in ["", "code", "g", "cg", "consent", "throttle", "once", "dev", "a:b", "{clients}", "a b", "sé"] {
            assert!(matches!(store.records(bad), Err(BuildError::Namespace(_))), "{bad:?}");
        }
    }

    #[test]
    fn keys_are_prefix_namespace_and_hex_hash() {
        let store =
            RedisStore::builder("redis://127.0.0.1:1").key_prefix("p").build().unwrap_or_else(|e| panic!("{e}"));
        let records = store.records("sess").unwrap_or_else(|e| panic!("{e}"));
        let id = TokenHash::of("x");
        assert_eq!(records.key(&id), format!("p:sess:{}", id.to_hex()));
    }
}
