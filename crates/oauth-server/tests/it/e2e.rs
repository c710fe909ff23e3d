//! The real `oauth-server` binary on a free port: the seed's browser flow over
//! real HTTP with a cookie-keeping client, then the code exchanged and refreshed
//! by the `oauth2` crate as an independent client; then a graceful SIGTERM.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{hidden, spawn};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope,
    TokenResponse, TokenUrl,
};

#[tokio::test]
async fn binary_serves_the_seed_flow_to_an_independent_client() {
    let server = spawn(&[]).await;
    let base = &server.base;
    let oauth = BasicClient::new(ClientId::new("test_client".into()))
        .set_client_secret(ClientSecret::new("password".into()))
        .set_auth_uri(AuthUrl::new(format!("{base}/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(format!("{base}/oauth/tokenize")).unwrap())
        .set_redirect_uri(RedirectUrl::new("https://www.example.com/redirect".into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The browser: keeps cookies, does not follow redirects.
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = browser.get(authorize_url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let login = browser.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&login, "csrf_token");
    let r = browser
        .post(format!("{base}/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("username=admin&password=admin&csrf_token={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let consent = browser.get(format!("{base}/approve")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&consent, "csrf_token");
    let r = browser
        .post(format!("{base}/approve"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("approval=1&csrf_token={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.as_str().split('?').next(), Some("https://www.example.com/redirect"));
    let params: std::collections::BTreeMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(&params["state"], state.secret());
    assert_eq!(params["iss"], *base);
    assert_eq!(params["scope"], "email");

    // The client side, with the oauth2 crate.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let tokens = oauth
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(300)));
    assert_eq!(tokens.scopes().map(|s| s[0].to_string()), Some("email".into()));
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let refreshed =
        oauth.exchange_refresh_token(&RefreshToken::new(refresh.clone())).request_async(&http).await.unwrap();
    assert_ne!(refreshed.access_token().secret(), tokens.access_token().secret());
    // The rotated-out refresh token is refused by the same independent client.
    let reused = oauth.exchange_refresh_token(&RefreshToken::new(refresh)).request_async(&http).await;
    assert!(reused.is_err(), "reuse must fail");
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully() {
    let mut server = spawn(&[]).await;
    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
