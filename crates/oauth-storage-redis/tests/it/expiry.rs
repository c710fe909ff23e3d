use oauth_core::storage::{ClientStore, CodeStore, TokenStore};
use oauth_core::types::TokenHash;
use redis::AsyncCommands;

use crate::support::{raw, store};
use oauth_core::testing::{code_record, family_tokens, grant_record, wall_clock_now};

/// Every key of a code, a token family and a record has a TTL; client keys
/// (registrations) have none. No key or value holds a raw code or token.
#[tokio::test]
async fn keys_have_ttls_and_no_raw_secrets() {
    let Some((store, url, prefix)) = store("keys_have_ttls_and_no_raw_secrets") else { return };
    let raw_code = "raw-code-value-0123456789";
    store.put_code(&TokenHash::of(raw_code), &code_record("gx", wall_clock_now() + 60)).await.unwrap();
    let g = grant_record("fam-ttl", 3600);
    let (_, _, new) = family_tokens(&g, "raw-access-secret", Some("raw-refresh-secret"));
    store.create_grant(&g, &new).await.unwrap();
    store.records("sess").unwrap().put(&TokenHash::of("raw-session-id"), b"{}", g.expires_at).await.unwrap();
    store.put_client(&oauth_core::testing::machine_client()).await.unwrap();

    let mut conn = raw(&url).await;
    let keys: Vec<String> = conn.keys(format!("{prefix}:*")).await.unwrap();
    assert!(keys.len() >= 5, "{keys:?}");
    for key in &keys {
        let ttl: i64 = conn.ttl(key).await.unwrap();
        if key.contains("{clients}") {
            assert_eq!(ttl, -1, "{key}: registrations do not expire");
        } else {
            assert!(ttl > 0, "{key} has no TTL ({ttl})");
        }
        for secret in [raw_code, "raw-access-secret", "raw-refresh-secret", "raw-session-id"] {
            assert!(!key.contains(secret), "{key} holds a raw secret");
        }
        let kind: String = redis::cmd("TYPE").arg(key).query_async(&mut conn).await.unwrap();
        let dump: Vec<u8> = match kind.as_str() {
            "string" => conn.get(key).await.unwrap(),
            "hash" => {
                let all: Vec<Vec<u8>> = conn.hgetall(key).await.unwrap();
                all.concat()
            }
            _ => Vec::new(),
        };
        let dump = String::from_utf8_lossy(&dump);
        for secret in [raw_code, "raw-access-secret", "raw-refresh-secret", "raw-session-id"] {
            assert!(!dump.contains(secret), "{key} value holds a raw secret");
        }
    }
    // The family key lives as long as its longest-lived token (refresh: 900 s).
    let ttl: i64 = conn.ttl(format!("{prefix}:g:fam-ttl")).await.unwrap();
    assert!((850..=900).contains(&ttl), "family TTL {ttl}");
    // A code key lives as long as the code (60 s).
    let code_keys: Vec<String> = conn.keys(format!("{prefix}:code:*")).await.unwrap();
    let ttl: i64 = conn.ttl(&code_keys[0]).await.unwrap();
    assert!((55..=60).contains(&ttl), "code TTL {ttl}");
}

/// A throttle counter is one key, named by a hash (no raw username), with
/// the window's TTL from its first failure; later failures keep that TTL.
#[tokio::test]
async fn throttle_counters_have_the_window_as_ttl() {
    use oauth_core::storage::ThrottleStore;
    use oauth_core::throttle::ThrottleKey;
    let Some((store, url, prefix)) = store("throttle_counters_have_the_window_as_ttl") else { return };
    let key = ThrottleKey::username("raw-username-alice");
    assert_eq!(store.record_failure(&key, 900).await.unwrap().count, 1);
    assert_eq!(store.record_failure(&key, 30).await.unwrap().count, 2);
    let mut conn = raw(&url).await;
    let keys: Vec<String> = conn.keys(format!("{prefix}:*")).await.unwrap();
    assert_eq!(keys, [format!("{prefix}:throttle:{}", key.to_hex())]);
    assert!(!keys[0].contains("alice"), "hashed: {keys:?}");
    let ttl: i64 = conn.ttl(&keys[0]).await.unwrap();
    assert!((895..=900).contains(&ttl), "the first failure's window: {ttl}");
    let count: i64 = conn.get(&keys[0]).await.unwrap();
    assert_eq!(count, 2);
}

/// Redis memory per live access token (client_credentials shape: a family
/// with one access token), measured on a private Redis as the growth of
/// `used_memory` over 10,000 tokens, with the production key prefix.
#[tokio::test]
async fn memory_per_access_token() {
    use oauth_storage_redis::testing::{LocalRedis, redis_server_or_skip};
    let Some(binary) = redis_server_or_skip("memory_per_access_token") else { return };
    let redis = LocalRedis::start(binary, &[]).unwrap();
    let store = oauth_storage_redis::RedisStore::builder(redis.url()).key_prefix("oauth").build().unwrap();
    let mut conn = raw(&redis.url()).await;
    let used = |info: String| -> i64 {
        info.lines().find_map(|l| l.strip_prefix("used_memory:")).unwrap().trim().parse().unwrap()
    };
    let before = used(redis::cmd("INFO").arg("memory").query_async(&mut conn).await.unwrap());
    const N: i64 = 10_000;
    for i in 0..N {
        let mut g = grant_record(&format!("{:0>22}", i), 3600);
        g.subject = None;
        g.scope = oauth_core::types::ScopeSet::parse("read").unwrap();
        let (_, _, new) = family_tokens(&g, &format!("{:0>43}", i), None);
        store.create_grant(&g, &new).await.unwrap();
    }
    let after = used(redis::cmd("INFO").arg("memory").query_async(&mut conn).await.unwrap());
    let per_token = (after - before) / N;
    eprintln!("Redis used_memory per live access token: {per_token} bytes ({N} tokens, prefix `oauth`)");
    assert!(per_token <= 300, "{per_token} bytes per live access token");
}

/// A family refreshed again and again keeps only what is live: expired
/// access tokens and markers of retired refresh tokens are pruned, so its
/// hash does not grow with every refresh until the grant expires.
#[tokio::test]
async fn a_long_refreshed_family_holds_only_live_tokens() {
    use oauth_core::storage::{RefreshOutcome, RefreshRequest};

    let Some((store, url, prefix)) = store("a_long_refreshed_family_holds_only_live_tokens") else { return };
    let mut conn = raw(&url).await;
    let grant = grant_record("long-family", 3600);
    let (_, first, tokens) = family_tokens(&grant, "a0", Some("r0"));
    store.create_grant(&grant, &tokens).await.unwrap();
    let mut current = first.unwrap();
    let mut n = 0;
    // Access tokens live 1 s, refresh tokens 4 s; answers the new access token's field.
    let refresh = async |current: &mut oauth_core::types::TokenKey, n: &mut u32| {
        *n += 1;
        let (access, next, _) = family_tokens(&grant, &format!("a{n}"), Some(&format!("r{n}")));
        let next = next.unwrap();
        let request = RefreshRequest {
            client_id: grant.client_id.clone(),
            scope: None,
            now: wall_clock_now(),
            access: (access.hash, 1),
            refresh: Some((next.hash, 4)),
            grace: None,
            jkt: None,
        };
        let outcome = store.refresh(current, &request).await.unwrap();
        assert!(matches!(outcome, RefreshOutcome::Refreshed(_)), "refresh {n}: {outcome:?}");
        let mut field = vec![b'a'];
        field.extend_from_slice(&access.hash.as_bytes()[..16]);
        *current = next;
        field
    };
    let key = format!("{prefix}:g:long-family");
    let mut early = Vec::new();
    for _ in 0..200 {
        early.push(refresh(&mut current, &mut n).await);
    }
    let grown: usize = conn.hlen(&key).await.unwrap();
    assert!(grown > 400, "nothing has expired yet: {grown} fields");
    // Keep the chain alive past the early tokens' expiry, then refresh on.
    // Times are whole seconds: 2.5 s steps keep the current token alive
    // (its 4 s outlast 2.5 s plus a second's rounding) while 5 s after the
    // early refreshes their tokens and markers have all expired.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    refresh(&mut current, &mut n).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for _ in 0..600 {
        refresh(&mut current, &mut n).await;
    }
    for field in &early {
        let kept: bool = conn.hexists(&key, field).await.unwrap();
        assert!(!kept, "an expired access token of the early refreshes is still stored");
    }
    let fields: Vec<Vec<u8>> = conn.hkeys(&key).await.unwrap();
    let markers = fields.iter().filter(|f| f.first() == Some(&b'x')).count();
    assert!(markers <= 600 + 1, "markers of tokens retired over 4 s ago are gone: {markers} left");
    let total: usize = conn.hlen(&key).await.unwrap();
    assert!(total < 2 * (600 * 2 + 4), "the family holds about what is live: {total} fields");
}
