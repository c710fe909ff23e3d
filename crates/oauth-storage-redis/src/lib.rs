//! # oauth-storage-redis
//!
//! [`RedisStore`] implements every storage trait of `oauth-core` over Redis,
//! so several stateless `oauth-server` processes can share one Redis (or a
//! Redis Cluster) and any of them can continue a flow another began.
//!
//! - Codes, tokens and [`Records`] (opaque records with an expiry, which
//!   `oauth-server` uses for its sessions) are stored under SHA-256 hashes,
//!   never raw.
//! - Every code, token family and record key has a TTL equal to its lifetime.
//! - A code is consumed exactly once (a Lua script), the refresh grant
//!   (lookup, checks, rotation, reuse detection revoking the family) is one
//!   script, so one round trip, and revoking a grant deletes one key: all of
//!   it atomic across processes.
//! - Redis Cluster (feature `cluster`): each multi-key operation uses keys
//!   with one hash tag; see the key schema in the `keys` module docs below.
//! - `rediss://` with the `tls` feature; a private CA with
//!   [`RedisStoreBuilder::tls_root_certificates`].
//! - Redis 7.0 or later ([`RedisVersion::MINIMUM`]): every new connection
//!   reads the server's version first and is refused on an older one, whose
//!   scripts would fail half-way.
//! - A call that fails or takes longer than the timeout (2 s by default) is a
//!   `StorageError`, which endpoints answer with 503 `temporarily_unavailable`.
//!   The pool reconnects by itself when Redis comes back.
//!
//! ```no_run
//! use std::sync::Arc;
//! use oauth_storage_redis::RedisStore;
//!
//! # fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::builder("redis://127.0.0.1:6379")
//!     .key_prefix("oauth")
//!     .pool_size(2)
//!     .build()?;
//! let stores = oauth_core::Stores::single(Arc::new(store));
//! # Ok(()) }
//! ```
//!
//! With a pool you already have:
//!
//! ```no_run
//! # fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = deadpool_redis::Config::from_url("redis://127.0.0.1:6379")
//!     .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
//! let store = oauth_storage_redis::RedisStore::from_pool(pool, "oauth")?;
//! # Ok(()) }
//! ```
//!
//! ## Key schema
#![doc = include_str!("keys.md")]

mod codec;
mod device;
mod keys;
mod records;
mod scripts;
mod store;
#[cfg(feature = "test-util")]
pub mod testing;
mod traits;
mod version;

pub use records::Records;
pub use store::{BuildError, RedisStore, RedisStoreBuilder};
pub use version::{RedisVersion, VersionError};
