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

/// Redis at `maxmemory` under `noeviction` refuses writes: the store answers
/// `StorageError::Full` (which the server turns into 503) for a plain
/// command, a transaction and a script alike, reads keep working, and once
/// memory is available again writes succeed on the same connections.
#[tokio::test]
async fn out_of_memory_is_full_not_an_outage() {
    use oauth_core::storage::{StorageError, TokenStore};
    use oauth_core::testing::{family_tokens, grant_record};

    let Some(binary) = redis_server_or_skip("out_of_memory_is_full_not_an_outage") else { return };
    let redis = LocalRedis::start(binary, &["--maxmemory-policy", "noeviction"]).unwrap();
    let store = RedisStore::from_url(&redis.url()).unwrap();
    let grant = grant_record("before-oom", 900);
    let (access, _, tokens) = family_tokens(&grant, "a1", Some("r1"));
    assert!(store.create_grant(&grant, &tokens).await.unwrap());
    store.put_code(&TokenHash::of("live"), &code_record("g", wall_clock_now() + 60)).await.unwrap();

    let admin = redis::Client::open(redis.url()).unwrap();
    let mut admin = admin.get_multiplexed_async_connection().await.unwrap();
    let set_maxmemory = |bytes: &str| redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(bytes).clone();
    let _: () = set_maxmemory("1").query_async(&mut admin).await.unwrap();

    let full = |what: &str, e: StorageError| assert!(matches!(e, StorageError::Full), "{what}: {e:?}");
    full("plain SET", store.put_code(&TokenHash::of("c"), &code_record("g", wall_clock_now() + 60)).await.unwrap_err());
    let later = grant_record("during-oom", 900);
    let (_, _, later_tokens) = family_tokens(&later, "a2", Some("r2"));
    full("transaction", store.create_grant(&later, &later_tokens).await.unwrap_err());
    full("script", store.take_code(&TokenHash::of("live")).await.unwrap_err());
    assert!(store.get_access_token(&access).await.unwrap().is_some(), "reads keep working");

    let _: () = set_maxmemory("0").query_async(&mut admin).await.unwrap();
    assert!(store.create_grant(&later, &later_tokens).await.unwrap(), "writes resume");
}
