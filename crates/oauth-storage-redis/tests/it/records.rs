use oauth_core::testing::wall_clock_now;
use oauth_core::types::TokenHash;
use redis::AsyncCommands;

use crate::support::{raw, store};

/// Round trip, replacement, deletion, expiry and namespaces, each record one
/// key `{prefix}:{namespace}:{sha256 hex}` with a TTL ending at its expiry.
#[tokio::test]
async fn records_round_trip_under_one_key_with_a_ttl() {
    let Some((store, url, prefix)) = store("records_round_trip_under_one_key_with_a_ttl") else { return };
    let (sessions, other) = (store.records("sess").unwrap(), store.records("other").unwrap());
    let id = TokenHash::of("raw-record-id");
    assert_eq!(sessions.get(&id).await.unwrap(), None, "unknown record");
    sessions.put(&id, b"first", wall_clock_now() + 60).await.unwrap();
    assert_eq!(sessions.get(&id).await.unwrap().as_deref(), Some(&b"first"[..]), "round trip");
    assert_eq!(other.get(&id).await.unwrap(), None, "namespaces are apart");
    sessions.put(&id, b"second", wall_clock_now() + 120).await.unwrap();
    assert_eq!(sessions.get(&id).await.unwrap().as_deref(), Some(&b"second"[..]), "replaced");

    let mut conn = raw(&url).await;
    let key = format!("{prefix}:sess:{}", id.to_hex());
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert!((115..=120).contains(&ttl), "TTL {ttl} of {key}");

    assert!(sessions.delete(&id).await.unwrap(), "deleting an existing record");
    assert!(!sessions.delete(&id).await.unwrap(), "deleting twice");
    assert_eq!(sessions.get(&id).await.unwrap(), None, "deleted");

    sessions.put(&id, b"live", wall_clock_now() + 60).await.unwrap();
    sessions.put(&id, b"past", wall_clock_now()).await.unwrap();
    assert_eq!(sessions.get(&id).await.unwrap(), None, "a record put with a past expiry is gone");
    let exists: bool = conn.exists(&key).await.unwrap();
    assert!(!exists, "no key without a TTL is left behind");
    store.ping().await.unwrap();
    sessions.ping().await.unwrap();
}

/// Single-use records (`OnceStore`): one key with a TTL, and of 32
/// concurrent first uses, or of 32 concurrent takes, exactly one wins.
#[tokio::test]
async fn once_records_have_one_winner_under_concurrency() {
    use oauth_core::storage::OnceStore;
    let Some((store, url, prefix)) = store("once_records_have_one_winner_under_concurrency") else { return };
    let id = TokenHash::of("a proof id");
    let expires_at = wall_clock_now() + 90;
    let puts = (0..32).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.put_once(&id, format!("{i}").as_bytes(), expires_at).await.unwrap() })
    });
    let mut wins = 0;
    for put in puts.collect::<Vec<_>>() {
        wins += usize::from(put.await.unwrap());
    }
    assert_eq!(wins, 1, "one first use");
    let mut conn = raw(&url).await;
    let key = format!("{prefix}:once:{}", id.to_hex());
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert!((85..=90).contains(&ttl), "TTL {ttl} of {key}");

    let takes = (0..32).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.take_once(&id).await.unwrap() })
    });
    let mut taken = 0;
    for take in takes.collect::<Vec<_>>() {
        taken += usize::from(take.await.unwrap().is_some());
    }
    assert_eq!(taken, 1, "one take");
    let exists: bool = conn.exists(&key).await.unwrap();
    assert!(!exists, "taken records leave no key");
}
