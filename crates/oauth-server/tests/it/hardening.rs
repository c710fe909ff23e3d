//! Deployment hardening: `__Host-` cookies and HSTS behind an https issuer,
//! and the admin listener for metrics and probes.

use actix_web::test;

use crate::support::{self, AUTHORIZE};

/// The demo behind a TLS-terminating proxy at an https issuer.
fn https(extra: &[(&'static str, &'static str)]) -> oauth_server::Config {
    let mut env =
        vec![("OAUTH__SERVER__ISSUER", "https://auth.example.com"), ("OAUTH__SERVER__TRUST_FORWARDED_PROTO", "true")];
    env.extend_from_slice(extra);
    support::config(&env)
}

#[actix_web::test]
async fn https_issuer_sends_hsts_on_every_answer() {
    let app = support::app(https(&[])).await;
    for path in ["/healthz", "/no-such-page", "/.well-known/oauth-authorization-server"] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        let hsts = resp.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(hsts.as_deref(), Some("max-age=31536000"), "{path}");
    }
    let app = support::app(https(&[("OAUTH__SERVER__HSTS_MAX_AGE", "0")])).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert!(resp.headers().get("strict-transport-security").is_none(), "hsts_max_age = 0 turns it off");
}

#[actix_web::test]
async fn plain_http_issuer_sends_no_hsts() {
    let app = support::app(support::config(&[])).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert!(resp.headers().get("strict-transport-security").is_none());
}

/// The session cookie set by an authorization request.
async fn session_cookie(config: oauth_server::Config) -> String {
    let app = support::app(config).await;
    let req = test::TestRequest::get().uri(AUTHORIZE).insert_header(("X-Forwarded-Proto", "https")).to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), 303, "the request goes on to the login page");
    resp.headers().get("set-cookie").expect("a session cookie").to_str().unwrap().to_owned()
}

#[actix_web::test]
async fn https_issuer_prefixes_the_session_cookie_with_host() {
    let cookie = session_cookie(https(&[])).await;
    assert!(cookie.starts_with("__Host-oauth_session="), "{cookie}");
    for attribute in ["Secure", "Path=/", "HttpOnly"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "a __Host- cookie has no Domain: {cookie}");

    let cookie = session_cookie(support::config(&[])).await;
    assert!(cookie.starts_with("oauth_session="), "no prefix without TLS: {cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn admin_listener_takes_metrics_and_probes_off_the_public_one() {
    let admin_port = support::free_port();
    let admin = format!("http://127.0.0.1:{admin_port}");
    let bind = format!("127.0.0.1:{admin_port}");
    let server =
        support::spawn_probed(&[("OAUTH__SERVER__ADMIN_BIND", &bind)], std::process::Stdio::inherit(), Some(&admin))
            .await;
    let http = support::http();
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    // Traffic on the public listener is what the admin listener's metrics count.
    let metadata = get(format!("{}/.well-known/oauth-authorization-server", server.base)).await;
    assert_eq!(metadata.status(), 200);
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(get(format!("{}{path}", server.base)).await.status(), 404, "public {path}");
        assert_eq!(get(format!("{admin}{path}")).await.status(), 200, "admin {path}");
    }
    let metrics = get(format!("{admin}/metrics")).await.text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.contains("/.well-known/oauth-authorization-server") && !l.starts_with('#')),
        "the public request is counted:\n{metrics}"
    );
    for path in ["/.well-known/oauth-authorization-server", "/oauth/authorize", "/login"] {
        assert_eq!(get(format!("{admin}{path}")).await.status(), 404, "the admin listener serves only probes: {path}");
    }
}
