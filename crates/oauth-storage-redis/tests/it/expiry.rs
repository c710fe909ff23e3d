use oauth_core::storage::{ClientStore, CodeStore, SessionStore, TokenStore};
use oauth_core::types::TokenHash;
use redis::AsyncCommands;

use crate::conformance::{code_record, grant, tokens};
use crate::support::{raw, store};

/// Every key of a code, a token family and a session has a TTL; client keys
/// (registrations) have none. No key or value holds a raw code or token.
#[tokio::test]
async fn keys_have_ttls_and_no_raw_secrets() {
    let Some((store, url, prefix)) = store("keys_have_ttls_and_no_raw_secrets") else { return };
    let raw_code = "raw-code-value-0123456789";
    store.put_code(&TokenHash::of(raw_code), &code_record("gx")).await.unwrap();
    let g = grant("fam-ttl");
    let (_, _, new) = tokens(&g, "raw-access-secret", Some("raw-refresh-secret"));
    store.create_grant(&g, &new).await.unwrap();
    store.save_session(&TokenHash::of("raw-session-id"), "{}", g.expires_at).await.unwrap();
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

/// Redis memory of one live access token (client_credentials shape), measured with MEMORY USAGE.
#[tokio::test]
async fn memory_per_access_token_is_small() {
    let Some((store, url, prefix)) = store("memory_per_access_token_is_small") else { return };
    let mut g = grant("Ab3dEf6hIj9kLm2nOp5qRs");
    g.subject = None;
    g.scope = oauth_core::types::ScopeSet::parse("read").unwrap();
    let (_, _, new) = tokens(&g, "Zx8cVb6nMa4sDf2gHj0kLq1wEr3tYu5iOp7aSd9fGhJ", None);
    store.create_grant(&g, &new).await.unwrap();
    let mut conn = raw(&url).await;
    let bytes: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(format!("{prefix}:g:{}", g.id))
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut conn)
        .await
        .unwrap();
    eprintln!("MEMORY USAGE of one access-token family: {bytes} bytes");
    assert!(bytes <= 300, "{bytes} bytes per live access token");
}
