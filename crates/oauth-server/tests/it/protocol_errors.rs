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
