use oauth_storage_redis::RedisStore;
use oauth_storage_redis::testing::{redis_url_or_skip, unique_prefix};

/// A store on the test Redis with a fresh prefix, or `None` (skipped).
pub fn store(test: &str) -> Option<(RedisStore, String, String)> {
    let url = redis_url_or_skip(test)?;
    let prefix = unique_prefix();
    let store = RedisStore::builder(url.clone()).key_prefix(prefix.clone()).build().unwrap();
    Some((store, url, prefix))
}

/// A plain connection for inspecting keys.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}
