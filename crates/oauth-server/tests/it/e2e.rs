//! The real `oauth-server` binary on a free port: the seed's browser flow over
//! real HTTP with a cookie-keeping client, then the code exchanged and refreshed
//! by the `oauth2` crate as an independent client; then a graceful SIGTERM; and what the access log writes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{browser_flow, http, spawn, spawn_with_stderr};
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

    let params = browser_flow(base, base, authorize_url.as_str()).await;
    assert_eq!(&params["state"], state.secret());
    assert_eq!(params["iss"], *base);
    assert_eq!(params["scope"], "email");

    // The client side, with the oauth2 crate.
    let http = http();
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

/// The log of a server that answered one failed token request (a query
/// string and a made-up code) and was then stopped with SIGTERM.
async fn log_of_one_token_request(access_log: &str) -> String {
    let env = [("RUST_LOG", "info"), ("OAUTH__SERVER__ACCESS_LOG", access_log)];
    let mut server = spawn_with_stderr(&env, Stdio::piped()).await;
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/tokenize?marker=query", server.base))
        .basic_auth("test_client", Some("password"))
        .form(&[("grant_type", "authorization_code"), ("code", "not-a-code")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut log = String::new();
    let mut stderr = server.child.stderr.take().unwrap();
    std::io::Read::read_to_string(&mut stderr, &mut log).unwrap();
    log
}

#[tokio::test]
async fn access_log_lines_follow_the_setting() {
    let on = log_of_one_token_request("true").await;
    let line = on.lines().find(|l| l.contains("/oauth/tokenize")).unwrap_or_else(|| panic!("no access-log line: {on}"));
    for part in ["request", "POST", "status=400", "latency_us="] {
        assert!(line.contains(part), "{part} missing from {line:?}");
    }
    assert!(!on.contains("marker=query"), "the query string is never logged: {on}");
    assert!(!on.contains("not-a-code"), "the body is never logged: {on}");

    let off = log_of_one_token_request("false").await;
    assert!(off.contains("listening"), "the server logged its start: {off}");
    assert!(!off.contains("/oauth/tokenize"), "no per-request line when access_log is off: {off}");
}

/// Regression (issue 14): a request with `Connection: Upgrade` to an endpoint
/// that reads a body was never answered, since its body is the rest of the
/// connection. Now every such route answers `400 invalid_request` at once.
#[tokio::test]
async fn protocol_upgrade_requests_are_answered() {
    use std::io::{Read as _, Write as _};
    let server = spawn(&[]).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let rows = [
        ("GET", "/oauth/authorize?client_id=test_client"),
        ("POST", "/oauth/tokenize"),
        ("POST", "/oauth/revoke"),
        ("POST", "/oauth/introspect"),
        ("GET", "/oauth/userinfo"),
        ("POST", "/login"),
        ("POST", "/approve"),
    ];
    for (method, path) in rows {
        let addr = addr.clone();
        let status_line = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(&addr).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let request = format!(
                "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).unwrap();
            let mut answer = [0u8; 512];
            let n = stream.read(&mut answer).unwrap_or(0);
            String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or("").to_owned()
        })
        .await
        .unwrap();
        assert_eq!(status_line, "HTTP/1.1 400 Bad Request", "{method} {path}: no answer within 5 s, or another one");
    }
}

/// Audit lines (issue 14): login failure and success, consent, code replay
/// and refresh reuse each leave one line under the `audit` target, with
/// identifiers only: never a password, code, token or secret, and never a
/// username that matches no user.
#[tokio::test]
async fn security_events_leave_audit_lines_without_secrets() {
    let env = [("RUST_LOG", "warn,audit=info"), ("OAUTH__THROTTLE__USERNAME_FAILURES", "2")];
    let mut server = spawn_with_stderr(&env, Stdio::piped()).await;
    let base = server.base.clone();
    let http = http();
    // The second failure for "nobody" reaches the limit (one line); the third is refused unseen.
    for (username, password) in [
        ("admin", "wrong-password-1"),
        ("typed-my-password-here", "x"),
        ("nobody", "y"),
        ("nobody", "y"),
        ("nobody", "y"),
    ] {
        let browser = crate::support::browser();
        let page = browser.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
        let body = oauth_server::testing::submit(&page, &format!("username={username}&password={password}"));
        let r = browser
            .post(format!("{base}/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let url = format!(
        "{base}/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=s&scope=email"
    );
    let params = browser_flow(&base, &base, &url).await;
    let exchange = |body: Vec<(&'static str, String)>| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = http
                .post(format!("{base}/oauth/tokenize"))
                .basic_auth("test_client", Some("password"))
                .form(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let code_grant = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", "https://www.example.com/redirect".to_owned()),
        ]
    };
    let code = params["code"].clone();
    let (status, tokens) = exchange(code_grant(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(exchange(code_grant(&code)).await.0, 400, "the replay is refused");
    // A second flow gives a live family whose rotated-out refresh token is reused.
    let params = browser_flow(&base, &base, &url).await;
    let (status, fresh) = exchange(code_grant(&params["code"])).await;
    assert_eq!(status, 200, "{fresh}");
    let live = fresh["refresh_token"].as_str().unwrap().to_owned();
    let refresh = || vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", live.clone())];
    assert_eq!(exchange(refresh()).await.0, 200);
    assert_eq!(exchange(refresh()).await.0, 400, "reuse of a rotated refresh token");

    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut log = String::new();
    std::io::Read::read_to_string(&mut server.child.stderr.take().unwrap(), &mut log).unwrap();
    let lines = |event: &str| log.lines().filter(|l| l.contains(&format!("event=\"{event}\""))).count();
    assert_eq!(lines("login.failed"), 4, "{log}");
    let engaged: Vec<&str> = log.lines().filter(|l| l.contains("event=\"throttle.engaged\"")).collect();
    assert_eq!(engaged.len(), 1, "once per counter and window: {log}");
    assert!(engaged[0].contains("counter=\"username\"") && !engaged[0].contains("nobody"), "{}", engaged[0]);
    assert!(log.contains("known_user=true"), "{log}");
    assert!(log.contains("known_user=false"), "{log}");
    assert_eq!(lines("login.succeeded"), 2, "{log}");
    assert_eq!(lines("consent.granted"), 2, "{log}");
    assert_eq!(lines("code.replay"), 1, "{log}");
    assert_eq!(lines("refresh.reuse"), 1, "{log}");
    let access = tokens["access_token"].as_str().unwrap();
    for secret in ["wrong-password-1", "typed-my-password-here", "password=", code.as_str(), live.as_str(), access] {
        assert!(!log.contains(secret), "{secret:?} leaked into the log: {log}");
    }
}

/// RFC 8252 §7.3 (issue 14): a native app registers `http://127.0.0.1/callback`
/// and listens on whatever port it gets. The `oauth2` crate, as that public
/// client with PKCE, uses a port of its own choosing through the real
/// binary; a port on another host, or another path, is still refused.
#[tokio::test]
async fn native_app_uses_any_loopback_port_with_an_independent_client() {
    let server = crate::support::spawn_with_extra_config(
        r#"
[[clients]]
id = "native_app"
name = "A native app"
auth_method = "none"
redirect_uris = ["http://127.0.0.1/callback", "http://[::1]/callback"]
grant_types = ["authorization_code", "refresh_token"]
response_types = ["code"]
scopes = "email"
"#,
        &[],
    )
    .await;
    let base = &server.base;
    let app_port = crate::support::free_port();
    for redirect in [format!("http://127.0.0.1:{app_port}/callback"), format!("http://[::1]:{app_port}/callback")] {
        let oauth = BasicClient::new(ClientId::new("native_app".into()))
            .set_auth_uri(AuthUrl::new(format!("{base}/oauth/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(format!("{base}/oauth/token")).unwrap())
            .set_redirect_uri(RedirectUrl::new(redirect.clone()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = oauth
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let params = crate::support::browser_flow_to(base, base, url.as_str(), &redirect).await;
        assert_eq!(&params["state"], state.secret());
        let tokens = oauth
            .exchange_code(AuthorizationCode::new(params["code"].clone()))
            .set_pkce_verifier(verifier)
            .request_async(&http())
            .await
            .unwrap_or_else(|e| panic!("{redirect}: {e:?}"));
        assert!(tokens.refresh_token().is_some(), "{redirect}");
    }
    // Anything but the port must still match exactly: an error page, no redirect.
    for redirect in [
        format!("http://localhost:{app_port}/callback"),
        format!("http://127.0.0.1:{app_port}/other"),
        format!("https://127.0.0.1:{app_port}/callback"),
    ] {
        let url = format!(
            "{base}/oauth/authorize?client_id=native_app&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&redirect_uri={}",
            url_encode(&redirect)
        );
        let r = http().get(url).send().await.unwrap();
        assert_eq!(r.status(), 400, "{redirect}");
        assert!(r.headers().get("location").is_none(), "{redirect}: never redirected");
    }
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
