//! Requests that cannot be served: error pages, methods, content types, limits; and the probes.

use actix_web::test::TestRequest;
use oauth_server::testing::Browser;

use crate::support::{app, basic, config};

#[actix_web::test]
async fn unverified_client_or_redirect_gets_a_page_not_a_redirect() {
    let app = app(config(&[])).await;
    let rows = [
        (
            "unknown client",
            "/oauth/authorize?client_id=nobody&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2F",
            "invalid_client",
        ),
        (
            "unregistered redirect_uri",
            "/oauth/authorize?client_id=test_client&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2F",
            "invalid_request",
        ),
        ("missing client_id", "/oauth/authorize?response_type=code", "invalid_request"),
    ];
    for (label, uri, code) in rows {
        let r = Browser::new().get(&app, uri).await;
        assert_eq!(r.status, 400, "{label}");
        assert!(r.location().is_none(), "{label}: must not redirect");
        assert!(r.header("content-type").unwrap().starts_with("text/html"), "{label}");
        assert!(r.body.contains(code), "{label}: {}", r.body);
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }
    // Once the redirect URI is verified, errors go to the client.
    let r =
        Browser::new().get(&app, "/oauth/authorize?client_id=test_client&response_type=code&scope=admin&state=s").await;
    assert_eq!(r.status, 302);
    assert!(r.location().unwrap().starts_with("https://www.example.com/redirect?error=invalid_scope"));
}

#[actix_web::test]
async fn methods_content_types_and_limits() {
    let app = app(config(&[])).await;
    let mut b = Browser::new();
    for (method, uri, allow) in [
        ("PUT", "/oauth/token", "POST"),
        ("GET", "/oauth/tokenize", "POST"),
        ("GET", "/oauth/revoke", "POST"),
        ("DELETE", "/oauth/introspect", "POST"),
        ("DELETE", "/oauth/authorize", "GET, POST"),
        ("POST", "/.well-known/oauth-authorization-server", "GET"),
        ("PUT", "/login", "GET, POST"),
    ] {
        let req = TestRequest::default().method(method.parse().unwrap()).uri(uri);
        let r = b.send(&app, req).await;
        assert_eq!((r.status, r.header("allow")), (405, Some(allow)), "{method} {uri}");
    }
    let json = TestRequest::post()
        .uri("/oauth/token")
        .insert_header(("Authorization", basic("test_client", "password")))
        .insert_header(("Content-Type", "application/json"))
        .set_payload(r#"{"grant_type":"refresh_token"}"#);
    let r = b.send(&app, json).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("invalid_request")));
    let big = TestRequest::post()
        .uri("/oauth/token")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(format!("grant_type=refresh_token&refresh_token={}", "a".repeat(20_000)));
    let r = b.send(&app, big).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (413, Some("invalid_request")));
    // Garbage bytes are just a bad request, never a panic.
    let garbage = TestRequest::post()
        .uri("/oauth/token")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(vec![0xff, 0xfe, b'%', b'=', b'&', 0x00]);
    let r = b.send(&app, garbage).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = b.post_form(&app, "/login", "%%%&&&===").await;
    assert_eq!(r.status, 403);
}

#[actix_web::test]
async fn probes_and_metadata() {
    let app = app(config(&[])).await;
    let mut b = Browser::new();
    assert_eq!(b.get(&app, "/healthz").await.status, 200);
    assert_eq!(b.get(&app, "/readyz").await.status, 200);
    let m = b.get(&app, "/.well-known/oauth-authorization-server").await.json();
    assert_eq!(m["issuer"], "http://localhost:8000");
    assert_eq!(m["token_endpoint"], "http://localhost:8000/oauth/tokenize");
    assert_eq!(m["scopes_supported"], serde_json::json!(["email", "openid", "profile"]));
    assert_eq!(m["jwks_uri"], "http://localhost:8000/oauth/jwks");
    let oidc = b.get(&app, "/.well-known/openid-configuration").await.json();
    assert_eq!(oidc, m, "discovery and RFC 8414 metadata are one document");
    let jwks = b.get(&app, "/oauth/jwks").await.json();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert!(jwks["keys"][0].get("d").is_none());
}

#[actix_web::test]
async fn templates_can_be_replaced_from_a_directory() {
    let dir = std::env::temp_dir().join(format!("oauth-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("login.html"),
        r#"{% extends "base.html" %}{% block content %}<h1>ACME sign-in</h1><form method="post" action="{{ action }}"><input type="hidden" name="csrf_token" value="{{ csrf_token }}"></form>{% endblock content %}"#,
    )
    .unwrap();
    let app = app(config(&[("OAUTH__SERVER__TEMPLATES_DIR", dir.to_str().unwrap())])).await;
    let mut b = Browser::new();
    let page = b.get(&app, "/login").await;
    assert!(page.body.contains("ACME sign-in"), "{}", page.body);
    assert!(!page.hidden("csrf_token").is_empty());
    // The others stay the embedded ones.
    assert!(b.get(&app, "/oauth/authorize?client_id=nobody").await.body.contains("invalid_client"));
    // A broken template stops start-up with the file named.
    std::fs::write(dir.join("consent.html"), "{% if %}").unwrap();
    let error = oauth_server::build_state(&config(&[("OAUTH__SERVER__TEMPLATES_DIR", dir.to_str().unwrap())]))
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("consent.html"), "{error:#}");
    let _ = std::fs::remove_dir_all(&dir);
}
