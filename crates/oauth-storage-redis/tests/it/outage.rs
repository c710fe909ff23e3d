use std::time::{Duration, Instant};

use oauth_core::storage::CodeStore;
use oauth_core::types::TokenHash;
use oauth_storage_redis::RedisStore;
use oauth_storage_redis::testing::{LocalRedis, redis_server_or_skip};

use oauth_core::testing::{code_record, wall_clock_now};

/// A private Redis is stopped: calls fail within the timeout, never hang or
/// panic; once Redis is back, the same store works again without a restart.
#[tokio::test]
async fn outage_then_recovery() {
    let Some(binary) = redis_server_or_skip("outage_then_recovery") else { return };
    let mut redis = LocalRedis::start(binary, &[]).unwrap();
    let store = RedisStore::builder(redis.url()).timeout(Duration::from_millis(500)).build().unwrap();
    // Fill every connection slot before the outage.
    for _ in 0..8 {
        store.ping().await.unwrap();
    }
    store.put_code(&TokenHash::of("before"), &code_record("g1", wall_clock_now() + 60)).await.unwrap();

    redis.stop();
    for _ in 0..3 {
        let started = Instant::now();
        assert!(store.ping().await.is_err(), "ping while Redis is down");
        assert!(store.take_code(&TokenHash::of("before")).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(3), "errors come within the timeout");
    }

    redis.resume().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.ping().await.is_err() {
        assert!(Instant::now() < deadline, "the store did not reconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..16 {
        store.ping().await.unwrap_or_else(|e| panic!("call {i} after recovery: {e:?}"));
    }
    store.put_code(&TokenHash::of("after"), &code_record("g2", wall_clock_now() + 60)).await.unwrap();
    assert!(matches!(store.take_code(&TokenHash::of("after")).await.unwrap(), oauth_core::storage::CodeTake::Taken(_)));
}
