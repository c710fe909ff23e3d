//! The session store conformance suite on memory and on a real Redis, and
//! the bounded memory of `MemorySessions`.

use std::sync::Arc;

use oauth_core::clock::FixedClock;
use oauth_core::testing::T0;
use oauth_core::types::TokenHash;
#[cfg(feature = "redis")]
use oauth_server::session::RedisSessions;
use oauth_server::session::{MemorySessions, SessionStore, conformance};
#[cfg(feature = "redis")]
use oauth_storage_redis::{RedisStore, testing::redis_url_or_skip, testing::unique_prefix};

#[tokio::test]
async fn conformance_in_memory() {
    conformance::run(&MemorySessions::new()).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn conformance_on_redis() {
    let Some(url) = redis_url_or_skip("conformance_on_redis") else { return };
    let store = RedisStore::builder(url).key_prefix(unique_prefix()).build().unwrap();
    conformance::run(&RedisSessions::new(&store).unwrap()).await;
}

/// Sessions keep their key, `{prefix}:sess:{sha256 hex of the id}`: sessions
/// saved before an upgrade are still found after it.
#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_sessions_are_records_of_namespace_sess() {
    let Some(url) = redis_url_or_skip("redis_sessions_are_records_of_namespace_sess") else { return };
    let store = RedisStore::builder(url).key_prefix(unique_prefix()).build().unwrap();
    let sessions = RedisSessions::new(&store).unwrap();
    let id = TokenHash::of("session id");
    sessions.save_session(&id, "{\"csrf\":\"x\"}", oauth_core::testing::wall_clock_now() + 60).await.unwrap();
    let raw = store.records("sess").unwrap().get(&id).await.unwrap();
    assert_eq!(raw.as_deref(), Some(&b"{\"csrf\":\"x\"}"[..]));
}

#[tokio::test]
async fn expired_memory_sessions_are_purged() {
    let clock = Arc::new(FixedClock::new(T0));
    let sessions = MemorySessions::with_clock(clock.clone());
    for i in 0..1000 {
        sessions.save_session(&TokenHash::of(&i.to_string()), "{}", T0 + 60).await.unwrap();
    }
    assert_eq!(sessions.live_sessions(), 1000);
    clock.advance(60);
    assert_eq!(sessions.load_session(&TokenHash::of("1")).await.unwrap(), None, "invisible once expired");
    assert_eq!(sessions.live_sessions(), 0, "nothing outlives its expiry");
}
