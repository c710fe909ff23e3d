use std::sync::Arc;

use oauth_core::storage::{
    CodeRecord, CodeStore, CodeTake, GrantRecord, NewTokens, RotateOutcome, TokenRecord, TokenStore,
};
use oauth_core::types::{ClientId, GrantId, RedirectUri, ScopeSet, Subject, TokenHash, TokenKey};

use crate::support::store;

#[tokio::test]
async fn conformance_suite() {
    let Some((store, _, _)) = store("conformance_suite") else { return };
    oauth_core::storage::conformance::run(&store).await;
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

pub fn code_record(grant: &str) -> CodeRecord {
    CodeRecord {
        grant_id: GrantId::new(grant),
        client_id: ClientId::new("c"),
        redirect_uri: RedirectUri::new("https://c.example/cb", false).unwrap(),
        redirect_uri_sent: true,
        scope: ScopeSet::parse("email").unwrap(),
        subject: Subject::new("s"),
        code_challenge: None,
        nonce: None,
        auth_time: now(),
        issued_at: now(),
        expires_at: now() + 60,
    }
}

pub fn grant(id: &str) -> GrantRecord {
    GrantRecord {
        id: GrantId::new(id),
        client_id: ClientId::new("c"),
        subject: Some(Subject::new("s")),
        scope: ScopeSet::parse("email").unwrap(),
        issued_at: now(),
        expires_at: now() + 3600,
        auth_time: Some(now()),
    }
}

pub fn tokens(grant: &GrantRecord, access: &str, refresh: Option<&str>) -> (TokenKey, Option<TokenKey>, NewTokens) {
    let record = |lifetime: u64| TokenRecord {
        grant_id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        subject: grant.subject.clone(),
        scope: grant.scope.clone(),
        issued_at: now(),
        expires_at: now() + lifetime,
        grant_expires_at: grant.expires_at,
        auth_time: grant.auth_time,
    };
    let a = TokenKey::of(&format!("{}.{access}", grant.id)).unwrap();
    let r = refresh.map(|r| TokenKey::of(&format!("{}.{r}", grant.id)).unwrap());
    let new = NewTokens { access: (a.hash, record(300)), refresh: r.as_ref().map(|r| (r.hash, record(900))) };
    (a, r, new)
}

/// 32 concurrent redemptions of one code: exactly one gets it, the rest see a replay.
#[tokio::test]
async fn a_code_is_taken_exactly_once_under_concurrency() {
    let Some((store, _, _)) = store("a_code_is_taken_exactly_once_under_concurrency") else { return };
    let store = Arc::new(store);
    for round in 0..5 {
        let hash = TokenHash::of(&format!("code-{round}"));
        store.put_code(&hash, &code_record(&format!("g{round}"))).await.unwrap();
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

/// 32 concurrent rotations of one refresh token: one succeeds; the others are
/// reuse, which revokes the family: nothing of it stays usable.
#[tokio::test]
async fn a_refresh_token_rotates_exactly_once_under_concurrency() {
    let Some((store, _, _)) = store("a_refresh_token_rotates_exactly_once_under_concurrency") else { return };
    let store = Arc::new(store);
    let g = grant("family1");
    let (access, refresh, first) = tokens(&g, "a0", Some("r0"));
    store.create_grant(&g, &first).await.unwrap();
    let refresh = refresh.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            let (g, refresh) = (g.clone(), refresh.clone());
            tokio::spawn(async move {
                let (_, new_refresh, new) = tokens(&g, &format!("a{}", i + 1), Some(&format!("r{}", i + 1)));
                (store.rotate_refresh(&refresh, &new).await.unwrap(), new_refresh.unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut reused = 0;
    for task in tasks {
        match task.await.unwrap() {
            (RotateOutcome::Rotated, new_refresh) => winners.push(new_refresh),
            (RotateOutcome::Reused, _) => reused += 1,
            (RotateOutcome::Unknown, _) => {}
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation");
    assert!(reused >= 1, "the losers are reuse");
    assert_eq!(store.get_access_token(&access).await.unwrap(), None, "family revoked");
    assert_eq!(
        store.get_refresh_token(&winners[0]).await.unwrap(),
        oauth_core::storage::RefreshLookup::Unknown,
        "the winner's token dies with the family: a consistent end state"
    );
}

#[tokio::test]
async fn prefixes_keep_deployments_apart() {
    let Some((a, url, _)) = store("prefixes_keep_deployments_apart") else { return };
    let b = oauth_storage_redis::RedisStore::builder(url)
        .key_prefix(oauth_storage_redis::testing::unique_prefix())
        .build()
        .unwrap();
    let hash = TokenHash::of("shared-code");
    a.put_code(&hash, &code_record("g")).await.unwrap();
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
