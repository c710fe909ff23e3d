//! Throttling through the real actix app: the login page locked after N
//! failures (429, Retry-After, the correct password refused), password
//! spraying from one address, the token endpoint's 429 while the client with
//! the right (cached) secret is still served, and forwarded headers ignored
//! unless the proxy is trusted.

use std::net::SocketAddr;

use actix_web::test::TestRequest;
use oauth_server::testing::{Browser, Page};

use crate::support::{app, basic, config};

const A: &str = "203.0.113.7:50000";
const B: &str = "198.51.100.9:50000";

fn peer(addr: &str) -> SocketAddr {
    addr.parse().unwrap()
}

/// Logs in through the form from `from`.
async fn login<S, Bd>(app: &S, from: &str, username: &str, password: &str) -> Page
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<Bd>,
            Error = actix_web::Error,
        >,
    Bd: actix_web::body::MessageBody,
{
    let mut browser = Browser::new();
    let csrf = browser.send(app, TestRequest::get().uri("/login").peer_addr(peer(from))).await.hidden("csrf_token");
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("username", username)
        .append_pair("password", password)
        .append_pair("csrf_token", &csrf)
        .finish();
    let req = TestRequest::post()
        .uri("/login")
        .peer_addr(peer(from))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(body);
    browser.send(app, req).await
}

fn assert_login_throttled(r: &Page, label: &str) {
    assert_eq!(r.status, 429, "{label}: {}", r.body);
    let retry: u64 = r.header("retry-after").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{label}"));
    assert!((1..=900).contains(&retry), "{label}: Retry-After {retry}");
    assert!(r.body.contains("Too many failed sign-in attempts"), "{label}: a clear message: {}", r.body);
    assert!(r.header("location").is_none(), "{label}: not logged in");
}

#[actix_web::test]
async fn login_is_locked_after_failures_and_the_right_password_is_refused() {
    let app = app(config(&[("OAUTH__THROTTLE__USERNAME_FAILURES", "3")])).await;
    for i in 0..3 {
        let r = login(&app, A, "admin", "wrong").await;
        assert_eq!(r.status, 400, "failure {i}: {}", r.body);
    }
    // The correct password during the lockout is refused, from any address.
    assert_login_throttled(&login(&app, A, "admin", "admin").await, "right password, locked");
    assert_login_throttled(&login(&app, B, "admin", "admin").await, "right password, other address");
    assert_login_throttled(&login(&app, B, "admin", "wrong").await, "wrong password, locked");
}

#[actix_web::test]
async fn spraying_many_usernames_from_one_address_is_throttled() {
    let app = app(config(&[("OAUTH__THROTTLE__ADDRESS_FAILURES", "4")])).await;
    for user in ["u1", "u2", "u3", "u4"] {
        assert_eq!(login(&app, A, user, "Winter2026!").await.status, 400, "{user}");
    }
    assert_login_throttled(&login(&app, A, "u5", "Winter2026!").await, "fifth username");
    assert_login_throttled(&login(&app, A, "admin", "admin").await, "the address is locked");
    // Another address logs in.
    let r = login(&app, B, "admin", "admin").await;
    assert_eq!(r.status, 303, "{}", r.body);
}

#[actix_web::test]
async fn a_successful_login_resets_the_username_counter() {
    let app = app(config(&[("OAUTH__THROTTLE__USERNAME_FAILURES", "2")])).await;
    assert_eq!(login(&app, A, "admin", "wrong").await.status, 400);
    assert_eq!(login(&app, A, "admin", "admin").await.status, 303);
    assert_eq!(login(&app, A, "admin", "wrong").await.status, 400, "counting starts again");
    assert_eq!(login(&app, A, "admin", "admin").await.status, 303, "one failure since the reset");
}

fn token_request(from: &str, auth: &str) -> TestRequest {
    TestRequest::post()
        .uri("/oauth/token")
        .peer_addr(peer(from))
        .insert_header(("Authorization", auth.to_owned()))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload("grant_type=client_credentials")
}

#[actix_web::test]
async fn the_token_endpoint_answers_429_and_still_serves_the_client_with_the_right_secret() {
    let app = app(config(&[("OAUTH__THROTTLE__CLIENT_FAILURES", "3")])).await;
    let mut b = Browser::new();
    // test_client may not use client_credentials: 400 unauthorized_client
    // proves the secret was accepted. The right secret is verified and cached.
    let right = basic("test_client", "password");
    let r = b.send(&app, token_request(B, &right)).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("unauthorized_client")));
    let wrong = basic("test_client", "wrong");
    for i in 0..3 {
        let r = b.send(&app, token_request(A, &wrong)).await;
        assert_eq!((r.status, r.json()["error"].as_str()), (401, Some("invalid_client")), "wrong secret {i}");
    }
    let r = b.send(&app, token_request(A, &wrong)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    let retry: u64 = r.header("retry-after").and_then(|v| v.parse().ok()).unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The legitimate client, whose secret was verified before, is still served.
    let r = b.send(&app, token_request(B, &right)).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("unauthorized_client")), "cached secret");
    let metrics = b.get(&app, "/metrics").await.body;
    assert!(metrics.contains("oauth_throttled_total{endpoint=\"token\"} 1"), "{metrics}");
}

/// Unknown client ids with wrong secrets, so only the address counter can throttle.
async fn spray_clients<S, Bd>(app: &S, forwarded: &[&str]) -> Vec<u16>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<Bd>,
            Error = actix_web::Error,
        >,
    Bd: actix_web::body::MessageBody,
{
    let mut b = Browser::new();
    let mut statuses = Vec::new();
    for (i, xff) in forwarded.iter().enumerate() {
        let req = token_request("127.0.0.1:40000", &basic(&format!("nobody-{i}"), "guess"))
            .insert_header(("X-Forwarded-For", *xff));
        statuses.push(b.send(app, req).await.status);
    }
    statuses
}

#[actix_web::test]
async fn forwarded_headers_count_only_behind_a_trusted_proxy() {
    let rotating = ["198.51.100.1", "198.51.100.2", "198.51.100.3"];
    // Not trusted: the header is ignored, every request counts for the peer.
    let app = app(config(&[("OAUTH__THROTTLE__ADDRESS_FAILURES", "2")])).await;
    assert_eq!(spray_clients(&app, &rotating).await, [401, 401, 429]);
    // Trusted: each forwarded address has its own counter ...
    let trusted =
        config(&[("OAUTH__THROTTLE__ADDRESS_FAILURES", "2"), ("OAUTH__SERVER__TRUSTED_PROXIES", "127.0.0.1/32")]);
    let app = crate::support::app(trusted.clone()).await;
    assert_eq!(spray_clients(&app, &rotating).await, [401, 401, 401]);
    // ... and one forwarded address is throttled, whatever the client prepends.
    let app = crate::support::app(trusted).await;
    let same = ["192.0.2.1, 198.51.100.7", "192.0.2.2, 198.51.100.7", "198.51.100.7"];
    assert_eq!(spray_clients(&app, &same).await, [401, 401, 429]);
}

#[actix_web::test]
async fn a_bad_trusted_proxy_is_refused_at_start() {
    let config = config(&[("OAUTH__SERVER__TRUSTED_PROXIES", "10.0.0.0/8,not-an-address")]);
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("server.trusted_proxies[1]"), "{error}");
    let config = crate::support::config(&[("OAUTH__THROTTLE__CLIENT_FAILURES", "0")]);
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("throttle.client_failures"), "{error}");
}
