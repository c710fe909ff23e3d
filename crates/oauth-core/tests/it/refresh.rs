//! Refresh tokens: rotation, narrowing, reuse detection and the grant's absolute lifetime.

use oauth_core::testing::TestServer;

use crate::support::{assert_error, assert_tokens, basic, code_for, demo_auth, demo_query, introspect, token};

async fn first_tokens(t: &TestServer) -> serde_json::Value {
    let code = code_for(t, &demo_query("")).await;
    let body = format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect");
    assert_tokens(&token(t, &body, Some(&demo_auth())).await, "exchange")
}

async fn refresh(t: &TestServer, refresh_token: &str, extra: &str) -> oauth_core::OAuthResponse {
    token(t, &format!("grant_type=refresh_token&refresh_token={refresh_token}{extra}"), Some(&demo_auth())).await
}

#[tokio::test]
async fn scope_table() {
    let mut client = oauth_core::testing::demo_client();
    client.scopes = oauth_core::testing::scopes("email profile");
    // (label, authorized scope, refresh scope param, expected scope or error)
    let rows: &[(&str, &str, &str, Result<&str, &str>)] = &[
        ("same scope", "email profile", "", Ok("email profile")),
        ("narrowing", "email profile", "&scope=email", Ok("email")),
        ("26 widening", "email", "&scope=email%20profile", Err("invalid_scope")),
        ("25 beyond the client", "email", "&scope=admin", Err("invalid_scope")),
        ("malformed", "email", "&scope=%22", Err("invalid_scope")),
    ];
    for (label, granted, extra, expected) in rows {
        let t = TestServer::new().await;
        oauth_core::storage::ClientStore::put_client(t.store.as_ref(), &client).await.unwrap();
        let query = demo_query("").replace("scope=email", &format!("scope={}", granted.replace(' ', "%20")));
        let code = code_for(&t, &query).await;
        let body = format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect");
        let tokens = assert_tokens(&token(&t, &body, Some(&demo_auth())).await, label);
        let r = refresh(&t, tokens["refresh_token"].as_str().unwrap(), extra).await;
        match expected {
            Ok(scope) => {
                let body = assert_tokens(&r, label);
                assert_eq!(body["scope"], *scope, "{label}");
                // The new refresh token keeps the grant's full scope (RFC 6749 §6).
                let info = introspect(&t, body["refresh_token"].as_str().unwrap(), &demo_auth()).await;
                assert_eq!(info["scope"], *granted, "{label}: refresh token scope");
            }
            Err(code) => assert_error(&r, 400, code, label),
        }
    }
}

#[tokio::test]
async fn reuse_revokes_the_family() {
    let t = TestServer::new().await;
    let first = first_tokens(&t).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second = assert_tokens(&refresh(&t, rt1, "").await, "rotate");
    let rt2 = second["refresh_token"].as_str().unwrap();
    let at2 = second["access_token"].as_str().unwrap();
    assert_eq!(introspect(&t, at2, &demo_auth()).await["active"], true);
    // rt1 again: reuse. The attacker (or the victim) gets nothing, and the family dies.
    assert_error(&refresh(&t, rt1, "").await, 400, "invalid_grant", "24 reuse");
    assert_eq!(introspect(&t, at2, &demo_auth()).await["active"], false, "current access token revoked");
    assert_error(&refresh(&t, rt2, "").await, 400, "invalid_grant", "current refresh token revoked");
}

#[tokio::test]
async fn other_clients_refresh_token() {
    let t = TestServer::new().await;
    let mut other = oauth_core::testing::demo_client();
    other.id = oauth_core::types::ClientId::new("other");
    other.secret = Some(oauth_core::client::SecretHash::sha256("other-secret"));
    oauth_core::storage::ClientStore::put_client(t.store.as_ref(), &other).await.unwrap();
    let first = first_tokens(&t).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let r =
        token(&t, &format!("grant_type=refresh_token&refresh_token={rt}"), Some(&basic("other", "other-secret"))).await;
    assert_error(&r, 400, "invalid_grant", "24 other client");
    // The rightful client can still use it.
    assert_tokens(&refresh(&t, rt, "").await, "owner");
}

#[tokio::test]
async fn expiry_and_absolute_lifetime() {
    let t = TestServer::with_policy(|p| p.grant_lifetime(2000)).await;
    let first = first_tokens(&t).await;
    // Expired refresh token (900 s).
    t.clock.advance(901);
    assert_error(&refresh(&t, first["refresh_token"].as_str().unwrap(), "").await, 400, "invalid_grant", "24 expired");

    let t = TestServer::with_policy(|p| p.grant_lifetime(2000)).await;
    let mut rt = first_tokens(&t).await["refresh_token"].as_str().unwrap().to_owned();
    // Keep refreshing every 800 s: the family still ends 2000 s after it began.
    t.clock.advance(800);
    let body = assert_tokens(&refresh(&t, &rt, "").await, "at 800");
    assert_eq!(body["refresh_token_expires_in"], 900);
    rt = body["refresh_token"].as_str().unwrap().to_owned();
    t.clock.advance(800);
    let body = assert_tokens(&refresh(&t, &rt, "").await, "at 1600");
    assert_eq!(body["refresh_token_expires_in"], 400, "capped by the grant");
    assert_eq!(body["expires_in"], 300);
    rt = body["refresh_token"].as_str().unwrap().to_owned();
    t.clock.advance(401);
    assert_error(&refresh(&t, &rt, "").await, 400, "invalid_grant", "family expired");
}

#[tokio::test]
async fn rotation_can_be_turned_off() {
    let t = TestServer::with_policy(|p| p.rotate_refresh_tokens(false)).await;
    let rt = first_tokens(&t).await["refresh_token"].as_str().unwrap().to_owned();
    let a = assert_tokens(&refresh(&t, &rt, "").await, "first refresh");
    let b = assert_tokens(&refresh(&t, &rt, "").await, "second refresh");
    assert_eq!(a["refresh_token"], rt.as_str());
    assert_eq!(b["refresh_token"], rt.as_str());
    assert_ne!(a["access_token"], b["access_token"]);
}

/// The refresh grace, row by row: (label, grace setting, seconds before the
/// retry, whether the retry gets the first answer's tokens).
#[tokio::test]
async fn grace_table() {
    let rows: &[(&str, u64, u64, bool)] = &[
        ("grace off: a retry is reuse", 0, 0, false),
        ("at once, within the grace", 10, 0, true),
        ("the grace's last second", 10, 9, true),
        ("when the grace ends", 10, 10, false),
        ("after the grace", 10, 30, false),
    ];
    for &(label, grace, wait, same) in rows {
        let t = TestServer::with_policy(|p| p.refresh_grace(grace)).await;
        let old = first_tokens(&t).await["refresh_token"].as_str().unwrap().to_owned();
        let answer = assert_tokens(&refresh(&t, &old, "").await, label);
        t.clock.advance(wait);
        let retry = refresh(&t, &old, "").await;
        let new_access = answer["access_token"].as_str().unwrap();
        if same {
            let again = assert_tokens(&retry, label);
            for field in ["access_token", "refresh_token", "scope"] {
                assert_eq!(again[field], answer[field], "{label}: {field}");
            }
            assert_eq!(introspect(&t, new_access, &demo_auth()).await["active"], true, "{label}: family kept");
            // Once only: a second retry is reuse, which revokes the family.
            assert_error(&refresh(&t, &old, "").await, 400, "invalid_grant", label);
            assert_eq!(introspect(&t, new_access, &demo_auth()).await["active"], false, "{label}: second retry");
        } else {
            assert_error(&retry, 400, "invalid_grant", label);
            assert_eq!(introspect(&t, new_access, &demo_auth()).await["active"], false, "{label}: family revoked");
        }
    }
}

/// A retry after the new refresh token was used (the answer was not lost)
/// is reuse, even within the grace; so is a retry by another client.
#[tokio::test]
async fn grace_covers_only_a_lost_answer() {
    let t = TestServer::with_policy(|p| p.refresh_grace(10)).await;
    let old = first_tokens(&t).await["refresh_token"].as_str().unwrap().to_owned();
    let answer = assert_tokens(&refresh(&t, &old, "").await, "first");
    let next = assert_tokens(&refresh(&t, answer["refresh_token"].as_str().unwrap(), "").await, "next");
    assert_error(&refresh(&t, &old, "").await, 400, "invalid_grant", "retry after the next rotation");
    assert_eq!(introspect(&t, next["access_token"].as_str().unwrap(), &demo_auth()).await["active"], false);

    let t = TestServer::with_policy(|p| p.refresh_grace(10)).await;
    let old = first_tokens(&t).await["refresh_token"].as_str().unwrap().to_owned();
    assert_tokens(&refresh(&t, &old, "").await, "first");
    let mut other = oauth_core::testing::demo_client();
    other.id = oauth_core::types::ClientId::new("other_client");
    oauth_core::storage::ClientStore::put_client(t.store.as_ref(), &other).await.unwrap();
    let r =
        token(&t, &format!("grant_type=refresh_token&refresh_token={old}"), Some(&basic("other_client", "password")))
            .await;
    assert_error(&r, 400, "invalid_grant", "another client cannot open the answer");
}
