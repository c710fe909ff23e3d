//! Token-family integrity: a code replay revokes what the code issued
//! whenever it arrives, and deleting a client revokes its grants.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oauth_core::clock::FixedClock;
use oauth_core::generate::SequenceGenerator;
use oauth_core::storage::{
    ClientStore as _, GrantRecord, NewTokens, RefreshLookup, RefreshOutcome, RefreshRequest, StorageResult, Stores,
    TokenRecord, TokenStore,
};
use oauth_core::testing::{T0, TestServer, demo_client, demo_user, policy_builder};
use oauth_core::types::{ClientId, GrantId, TokenKey};
use oauth_core::{AuthorizationServer, MemoryStore, OAuthRequest, OAuthResponse};

use crate::support::{assert_error, assert_tokens, code_for, demo_auth, demo_query, post, resource, token};

const REDIRECT: &str = "redirect_uri=https://www.example.com/redirect";

/// A token store that, once armed, has another server instance on the same
/// store handle a request between the code's take and its grant's creation:
/// the moment a replay used to revoke nothing.
struct ReplayBetween {
    inner: Arc<MemoryStore>,
    other: AuthorizationServer,
    replay: Mutex<Option<OAuthRequest>>,
    answer: Mutex<Option<OAuthResponse>>,
}

#[async_trait]
impl TokenStore for ReplayBetween {
    async fn create_grant(&self, grant: &GrantRecord, tokens: &NewTokens) -> StorageResult<bool> {
        let replay = self.replay.lock().unwrap().take();
        if let Some(replay) = replay {
            let answer = self.other.token(&replay).await;
            *self.answer.lock().unwrap() = Some(answer);
        }
        self.inner.create_grant(grant, tokens).await
    }
    async fn get_access_token(&self, key: &TokenKey) -> StorageResult<Option<TokenRecord>> {
        self.inner.get_access_token(key).await
    }
    async fn get_refresh_token(&self, key: &TokenKey) -> StorageResult<RefreshLookup> {
        self.inner.get_refresh_token(key).await
    }
    async fn refresh(&self, old: &TokenKey, request: &RefreshRequest) -> StorageResult<RefreshOutcome> {
        self.inner.refresh(old, request).await
    }
    async fn add_access_token(&self, key: &TokenKey, record: &TokenRecord) -> StorageResult<bool> {
        self.inner.add_access_token(key, record).await
    }
    async fn revoke_access_token(&self, key: &TokenKey) -> StorageResult<()> {
        self.inner.revoke_access_token(key).await
    }
    async fn revoke_grant(&self, id: &GrantId) -> StorageResult<()> {
        self.inner.revoke_grant(id).await
    }
    async fn revoke_client_grants(&self, client: &ClientId) -> StorageResult<u64> {
        self.inner.revoke_client_grants(client).await
    }
}

#[tokio::test]
async fn a_replay_between_take_and_grant_revokes_what_the_code_issues() {
    let clock = Arc::new(FixedClock::new(T0));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    store.put_client(&demo_client()).await.unwrap();
    oauth_core::storage::UserStore::put_user(&*store, &demo_user()).await.unwrap();
    let policy = || policy_builder().build().unwrap();
    let other = AuthorizationServer::new(policy(), Stores::single(store.clone()))
        .with_clock(clock.clone())
        .with_generator(Arc::new(SequenceGenerator::new("other")));
    let tokens =
        Arc::new(ReplayBetween { inner: store.clone(), other, replay: Mutex::new(None), answer: Mutex::new(None) });
    let stores = Stores { tokens: tokens.clone(), ..Stores::single(store.clone()) };
    let server = AuthorizationServer::new(policy(), stores)
        .with_clock(clock.clone())
        .with_generator(Arc::new(SequenceGenerator::new("tok")));
    let t = TestServer { server, store, clock };

    let code = code_for(&t, &demo_query("")).await;
    let body = format!("grant_type=authorization_code&code={code}&{REDIRECT}");
    *tokens.replay.lock().unwrap() = Some(post(&body, Some(&demo_auth())));
    let first = token(&t, &body, Some(&demo_auth())).await;
    let replay = tokens.answer.lock().unwrap().take().expect("the replay ran between the steps");
    assert_error(&replay, 400, "invalid_grant", "the replay");
    assert_error(&first, 400, "invalid_grant", "the first exchange issues nothing once its grant is revoked");
    assert_eq!(t.store.live_records(), 1, "only the used code's tombstone is left: no grant, no token");
}

#[tokio::test]
async fn deleting_a_client_revokes_its_tokens() {
    let t = TestServer::new().await;
    let code = code_for(&t, &demo_query("")).await;
    let issued = assert_tokens(
        &token(&t, &format!("grant_type=authorization_code&code={code}&{REDIRECT}"), Some(&demo_auth())).await,
        "code",
    );
    let access = issued["access_token"].as_str().unwrap();
    let refresh = issued["refresh_token"].as_str().unwrap();
    let refresh_body = format!("grant_type=refresh_token&refresh_token={refresh}");
    let refreshed = assert_tokens(&token(&t, &refresh_body, Some(&demo_auth())).await, "refresh");
    let machine = "grant_type=client_credentials&client_id=machine&client_secret=machine-secret";
    let kept = assert_tokens(&token(&t, machine, None).await, "machine");
    assert!(resource(&t, access).await.is_ok(), "valid before the deletion");

    let (existed, revoked) =
        oauth_core::client::delete(&*t.store, &*t.store, &ClientId::new("test_client")).await.unwrap();
    assert_eq!((existed, revoked), (true, 1), "one grant (one family, refreshed once)");
    for (token, what) in [(access, "first access token"), (refreshed["access_token"].as_str().unwrap(), "refreshed")] {
        let refused = resource(&t, token).await.expect_err(what);
        assert_eq!(refused.status, 401, "{what}");
    }
    // Even were the client registered again, its old refresh token is gone.
    t.store.put_client(&demo_client()).await.unwrap();
    let r = token(
        &t,
        &format!("grant_type=refresh_token&refresh_token={}", refreshed["refresh_token"].as_str().unwrap()),
        Some(&demo_auth()),
    )
    .await;
    assert_error(&r, 400, "invalid_grant", "the refresh token of a deleted client");
    assert!(resource(&t, kept["access_token"].as_str().unwrap()).await.is_ok(), "other clients' tokens stay");
}

/// A rotated client secret: during the overlap the old and the new secret
/// both authenticate; when it ends, only the new one.
#[tokio::test]
async fn a_rotated_secret_overlaps_then_expires() {
    use oauth_core::client::SecretHash;
    let t = TestServer::new().await;
    let mut machine = oauth_core::testing::machine_client();
    machine.rotate_secret(SecretHash::sha256("new-secret"), T0 + 60);
    t.store.put_client(&machine).await.unwrap();
    let with = |secret: &str| format!("grant_type=client_credentials&client_id=machine&client_secret={secret}");
    // (label, seconds since the rotation, secret, accepted)
    let rows = [
        ("new secret during the overlap", 0, "new-secret", true),
        ("old secret during the overlap", 0, "machine-secret", true),
        ("old secret, last second", 59, "machine-secret", true),
        ("wrong secret during the overlap", 59, "other", false),
        ("old secret when the overlap ends", 60, "machine-secret", false),
        ("new secret after the overlap", 60, "new-secret", true),
    ];
    let mut elapsed = 0;
    for (label, at, secret, accepted) in rows {
        t.clock.advance(at - elapsed);
        elapsed = at;
        let r = token(&t, &with(secret), None).await;
        if accepted {
            assert_tokens(&r, label);
        } else {
            assert_error(&r, 401, "invalid_client", label);
        }
    }
}
