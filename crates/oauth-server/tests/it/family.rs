//! Token-family integrity through the real binary: the refresh grace period.

use crate::support::{basic, browser_flow, http, spawn, token};

async fn active(base: &str, token: &str) -> bool {
    let r = http()
        .post(format!("{base}/oauth/introspect"))
        .header("Authorization", basic("test_client", "password"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    r.json::<serde_json::Value>().await.unwrap()["active"] == true
}

/// `tokens.refresh_grace`: a client that lost a refresh answer retries with
/// the same refresh token and gets the same tokens, once; the family lives.
/// A second retry is reuse and revokes the family. Without the setting, the
/// first retry already revokes.
#[tokio::test]
async fn a_lost_refresh_answer_is_retried_once_within_the_grace() {
    for grace in ["5", "0"] {
        let server = spawn(&[("OAUTH__TOKENS__REFRESH_GRACE", grace)]).await;
        let base = server.base.clone();
        let authorize = format!(
            "{base}/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=s&scope=email"
        );
        let code = browser_flow(&base, &base, &authorize).await["code"].clone();
        let (status, first) = token(
            &base,
            format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"),
        )
        .await;
        assert_eq!(status, 200, "{first}");
        let old = first["refresh_token"].as_str().unwrap().to_owned();
        let refresh = || token(&base, format!("grant_type=refresh_token&refresh_token={old}"));
        let (status, lost) = refresh().await;
        assert_eq!(status, 200, "{lost}");
        let new_access = lost["access_token"].as_str().unwrap().to_owned();
        let (status, retry) = refresh().await;
        if grace == "0" {
            assert_eq!((status, retry["error"].as_str()), (400, Some("invalid_grant")), "no grace: {retry}");
            assert!(!active(&base, &new_access).await, "no grace: a retry is reuse, the family is revoked");
            continue;
        }
        assert_eq!(status, 200, "within the grace: {retry}");
        assert_eq!(retry["access_token"], lost["access_token"], "the same access token");
        assert_eq!(retry["refresh_token"], lost["refresh_token"], "the same refresh token");
        assert!(active(&base, &new_access).await, "the family lives");
        let (status, again) = refresh().await;
        assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")), "a second retry: {again}");
        assert!(!active(&base, &new_access).await, "a second retry is reuse: the family is revoked");
    }
}
