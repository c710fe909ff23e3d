use std::sync::Arc;

use oauth_core::storage::{CodeStore, CodeTake, RefreshOutcome, RefreshRequest, TokenStore};
use oauth_core::testing::{code_record, family_tokens, grant_record, wall_clock_now};
use oauth_core::types::TokenHash;

use crate::support::store;

#[tokio::test]
async fn conformance_suite() {
    let Some((store, _, _)) = store("conformance_suite") else { return };
    oauth_core::storage::conformance::run(&store).await;
}

/// 32 concurrent redemptions of one code: exactly one gets it, the rest see a replay.
#[tokio::test]
async fn a_code_is_taken_exactly_once_under_concurrency() {
    let Some((store, _, _)) = store("a_code_is_taken_exactly_once_under_concurrency") else { return };
    let store = Arc::new(store);
    for round in 0..5 {
        let hash = TokenHash::of(&format!("code-{round}"));
        store.put_code(&hash, &code_record(&format!("g{round}"), wall_clock_now() + 60)).await.unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.take_code(&hash).await.unwrap() })
            })
            .collect();
        let mut taken = 0;
        for task in tasks {
            match task.await.unwrap() {
                CodeTake::Taken(_) => taken += 1,
                CodeTake::Replayed { grant_id } => assert_eq!(grant_id.as_str(), format!("g{round}")),
                CodeTake::Unknown => panic!("a consumed code must be reported as a replay"),
            }
        }
        assert_eq!(taken, 1, "round {round}");
    }
}

#[tokio::test]
async fn prefixes_keep_deployments_apart() {
    let Some((a, url, _)) = store("prefixes_keep_deployments_apart") else { return };
    let b = oauth_storage_redis::RedisStore::builder(url)
        .key_prefix(oauth_storage_redis::testing::unique_prefix())
        .build()
        .unwrap();
    let hash = TokenHash::of("shared-code");
    a.put_code(&hash, &code_record("g", wall_clock_now() + 60)).await.unwrap();
    assert_eq!(b.take_code(&hash).await.unwrap(), CodeTake::Unknown);
    assert!(matches!(a.take_code(&hash).await.unwrap(), CodeTake::Taken(_)));
}

#[test]
fn bad_configuration_is_refused() {
    use oauth_storage_redis::{BuildError, RedisStore};
    assert!(matches!(RedisStore::builder("redis://x").key_prefix("a{b}").build(), Err(BuildError::Prefix)));
    assert!(matches!(RedisStore::builder("http://x").build(), Err(BuildError::Url(_))));
    assert!(matches!(RedisStore::builder("redis://x").key_prefix("").build(), Err(BuildError::Prefix)));
}

/// 32 concurrent refreshes with one refresh token: one succeeds; the others
/// are reuse, which revokes the family: nothing of it stays usable.
#[tokio::test]
async fn a_refresh_grant_succeeds_exactly_once_under_concurrency() {
    let Some((store, _, _)) = store("a_refresh_grant_succeeds_exactly_once_under_concurrency") else { return };
    let store = Arc::new(store);
    let g = grant_record("family2", 3600);
    let (access, refresh, first) = family_tokens(&g, "a0", Some("r0"));
    store.create_grant(&g, &first).await.unwrap();
    let refresh = refresh.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            let (g, refresh) = (g.clone(), refresh.clone());
            tokio::spawn(async move {
                let (new_access, new_refresh, _) =
                    family_tokens(&g, &format!("a{}", i + 1), Some(&format!("r{}", i + 1)));
                let request = RefreshRequest {
                    client_id: g.client_id.clone(),
                    scope: None,
                    now: wall_clock_now(),
                    access: (new_access.hash, 300),
                    refresh: new_refresh.map(|k| (k.hash, 900)),
                };
                (store.refresh(&refresh, &request).await.unwrap(), new_access)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut reused = 0;
    for task in tasks {
        match task.await.unwrap() {
            (RefreshOutcome::Refreshed { .. }, new_access) => winners.push(new_access),
            (RefreshOutcome::Reused, _) => reused += 1,
            (RefreshOutcome::Unknown, _) => {}
            (other, _) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh");
    assert!(reused >= 1, "the losers are reuse");
    assert_eq!(store.get_access_token(&access).await.unwrap(), None, "family revoked");
    assert_eq!(store.get_access_token(&winners[0]).await.unwrap(), None, "the winner's tokens die with the family");
}
