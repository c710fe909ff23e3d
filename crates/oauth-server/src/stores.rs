//! Chooses the stores the configuration names, and seeds them.
//!
//! - `memory`: one `MemoryStore` for everything the engine uses (clients and
//!   users from the file), sessions in `MemorySessions`.
//! - `redis://…`: codes, tokens and sessions in Redis, so any instance can
//!   continue any flow; clients from the file stay read-only in front of the
//!   clients managed with `oauth-server client …` in Redis; users from the file.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use oauth_core::MemoryStore;
use oauth_core::client::Client;
use oauth_core::clock::Clock;
use oauth_core::storage::{ClientStore, StorageError, StorageResult, Stores, UserStore as _};
use oauth_core::types::ClientId;
use oauth_core::user::User;

use crate::config::Config;
use crate::session::{MemorySessions, SessionStore};

/// The opened stores.
pub struct Backends {
    /// What the engine uses.
    pub stores: Stores,
    /// Where browser sessions live.
    pub sessions: Arc<dyn SessionStore>,
    /// The writable client store for `oauth-server client …`, when the store is shared.
    pub managed_clients: Option<Arc<dyn ClientStore>>,
    /// Redis pool usage, when the store is Redis.
    pub pool_status: Option<crate::metrics::PoolStatus>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends").field("stores", &self.stores).finish_non_exhaustive()
    }
}

/// Opens the configured stores and seeds them with the configuration's
/// clients and users (from [`Config::assemble`]); the in-memory parts use `clock`.
pub async fn open(
    config: &Config,
    clients: Vec<Client>,
    users: Vec<User>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Backends> {
    let memory = Arc::new(MemoryStore::with_limit(clock.clone(), config.storage.memory_max_records));
    for user in users {
        memory.put_user(&user).await.context("storing users")?;
    }
    if config.storage.is_memory() {
        for client in &clients {
            oauth_core::client::register(memory.as_ref(), client).await.context("storing clients")?;
        }
        return Ok(Backends {
            stores: Stores::single(memory),
            sessions: Arc::new(MemorySessions::with_limit(clock, config.session.memory_max_sessions)),
            managed_clients: None,
            pool_status: None,
        });
    }
    open_redis(config, clients, memory).await
}

#[cfg(feature = "redis")]
async fn open_redis(config: &Config, clients: Vec<Client>, memory: Arc<MemoryStore>) -> anyhow::Result<Backends> {
    let s = &config.storage;
    let mut builder = oauth_storage_redis::RedisStore::builder(s.url.clone())
        .key_prefix(s.key_prefix.clone())
        .pool_size(s.pool_size)
        .timeout(std::time::Duration::from_millis(s.timeout_ms));
    if let Some(path) = &s.tls_ca_file {
        let pem = std::fs::read(path).with_context(|| format!("storage.tls_ca_file: reading {}", path.display()))?;
        builder = builder.tls_root_certificates(pem);
    }
    let redis = Arc::new(builder.build().map_err(|e| anyhow::anyhow!("storage.url: {e}"))?);
    check_redis_version(&redis).await?;
    let sessions = crate::session::RedisSessions::new(&redis).map_err(|e| anyhow::anyhow!("sessions: {e}"))?;
    let layered = Arc::new(LayeredClients::new(clients, redis.clone()));
    let pool = redis.clone();
    Ok(Backends {
        pool_status: Some(crate::metrics::PoolStatus(Box::new(move || pool.pool_status()))),
        stores: Stores {
            clients: layered.clone(),
            codes: redis.clone(),
            tokens: redis.clone(),
            users: memory,
            consents: redis.clone(),
            throttle: redis.clone(),
            once: redis.clone(),
            devices: redis.clone(),
        },
        sessions: Arc::new(sessions),
        managed_clients: Some(layered),
    })
}

/// Refuses to start on a Redis older than the store's scripts support,
/// naming both versions. A Redis that cannot be reached yet does not stop the
/// start (`/readyz` says so, and the store checks each connection it makes).
#[cfg(feature = "redis")]
async fn check_redis_version(redis: &oauth_storage_redis::RedisStore) -> anyhow::Result<()> {
    match redis.server_version().await {
        Ok(version) => {
            tracing::info!(%version, "Redis version supported");
            Ok(())
        }
        Err(e) => match oauth_storage_redis::VersionError::of(&e) {
            Some(refused) => Err(anyhow::anyhow!("storage.url: {refused}")),
            None => {
                let cause = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_else(|| e.to_string());
                tracing::warn!(%cause, "Redis cannot be reached at start; its version will be checked when it answers");
                Ok(())
            }
        },
    }
}

#[cfg(not(feature = "redis"))]
async fn open_redis(_: &Config, _: Vec<Client>, _: Arc<MemoryStore>) -> anyhow::Result<Backends> {
    anyhow::bail!("storage.url: this build has no Redis support (feature `redis`)")
}

/// Clients from the configuration file, read-only, in front of a writable store.
pub struct LayeredClients {
    fixed: BTreeMap<ClientId, Arc<Client>>,
    dynamic: Arc<dyn ClientStore>,
}

impl std::fmt::Debug for LayeredClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayeredClients").field("fixed", &self.fixed.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl LayeredClients {
    /// Configured clients over `dynamic`.
    pub fn new(fixed: Vec<Client>, dynamic: Arc<dyn ClientStore>) -> Self {
        Self { fixed: fixed.into_iter().map(|c| (c.id.clone(), Arc::new(c))).collect(), dynamic }
    }

    fn read_only(id: &ClientId) -> StorageError {
        StorageError::Conflict(format!("client {id} is defined in the configuration file and is read-only"))
    }
}

#[async_trait]
impl ClientStore for LayeredClients {
    async fn get_client(&self, id: &ClientId) -> StorageResult<Option<Arc<Client>>> {
        match self.fixed.get(id) {
            Some(client) => Ok(Some(client.clone())),
            None => self.dynamic.get_client(id).await,
        }
    }

    async fn put_client(&self, client: &Client) -> StorageResult<()> {
        if self.fixed.contains_key(&client.id) {
            return Err(Self::read_only(&client.id));
        }
        self.dynamic.put_client(client).await
    }

    async fn delete_client(&self, id: &ClientId) -> StorageResult<bool> {
        if self.fixed.contains_key(id) {
            return Err(Self::read_only(id));
        }
        self.dynamic.delete_client(id).await
    }

    async fn list_clients(&self) -> StorageResult<Vec<Client>> {
        let mut all: BTreeMap<ClientId, Client> =
            self.dynamic.list_clients().await?.into_iter().map(|c| (c.id.clone(), c)).collect();
        all.extend(self.fixed.iter().map(|(id, c)| (id.clone(), Client::clone(c))));
        Ok(all.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file's clients in front of a writable store behave as a client
    /// store for every client the file does not define.
    #[tokio::test]
    async fn layered_clients_pass_the_client_conformance() {
        let layered = LayeredClients::new(vec![oauth_core::testing::demo_client()], Arc::new(MemoryStore::new()));
        oauth_core::storage::conformance::clients(&layered).await;
    }
}
