use oauth_core::storage::CodeStore as _;
use oauth_core::types::TokenHash;
use oauth_storage_redis::{RedisStore, RedisVersion, VersionError};

use crate::support::store;

/// The test Redis (7.x) passes the check; a store that demands a newer
/// Redis than the one it meets refuses the connection, naming the version
/// found and the one required, and runs nothing on it.
#[tokio::test]
async fn the_server_version_is_checked_on_connect() {
    let Some((store, url, prefix)) = store("the_server_version_is_checked_on_connect") else { return };
    let found = store.server_version().await.unwrap();
    assert!(found >= RedisVersion::MINIMUM, "the test Redis is {found}");

    let minimum = RedisVersion::new(found.major + 1, 0, 0);
    let demanding = RedisStore::builder(url).key_prefix(prefix).minimum_redis_version(minimum).build().unwrap();
    let error = demanding.server_version().await.unwrap_err();
    let refused = VersionError::of(&error).unwrap_or_else(|| panic!("not a version error: {error:?}"));
    assert_eq!(refused, &VersionError::TooOld { found, node: None, minimum });
    let message = refused.to_string();
    assert!(message.contains(&found.to_string()) && message.contains(&minimum.to_string()), "{message}");

    // Every call is refused the same way, before any command runs.
    let error = demanding.take_code(&TokenHash::of("any")).await.unwrap_err();
    assert!(matches!(VersionError::of(&error), Some(VersionError::TooOld { .. })), "{error:?}");
    assert_eq!(demanding.pool_status().1, 0, "the refused connection is not kept");
}

/// A user whose ACL forbids INFO (it is in `@dangerous`) still connects:
/// the version then comes from HELLO.
#[tokio::test]
async fn a_user_without_info_gets_the_version_from_hello() {
    use oauth_core::testing::{code_record, wall_clock_now};
    use oauth_storage_redis::testing::{LocalRedis, redis_server_or_skip};
    let Some(binary) = redis_server_or_skip("a_user_without_info_gets_the_version_from_hello") else { return };
    let redis = LocalRedis::start(binary, &[]).unwrap();
    let mut admin = crate::support::raw(&redis.url()).await;
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "app", "on", ">app-password", "~*", "+@all", "-@dangerous"][..])
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://app:app-password@127.0.0.1:{}", redis.port());
    let mut app = crate::support::raw(&url).await;
    let info: redis::RedisResult<String> = redis::cmd("INFO").arg("server").query_async(&mut app).await;
    assert!(info.is_err(), "the user may not run INFO");

    let store = RedisStore::builder(url).key_prefix("acl").build().unwrap();
    assert!(store.server_version().await.unwrap() >= RedisVersion::MINIMUM);
    let hash = TokenHash::of("acl-code");
    store.put_code(&hash, &code_record("g", wall_clock_now() + 60)).await.unwrap();
    assert!(matches!(store.take_code(&hash).await.unwrap(), oauth_core::storage::CodeTake::Taken(_)));
}
