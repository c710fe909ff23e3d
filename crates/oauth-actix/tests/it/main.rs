//! The adapter through a real actix app (in process): conversion, routing, methods and limits.
#![allow(clippy::unwrap_used, missing_docs)]

mod contract; // core's answers through the real app: 413, 400, 404 documents, bearer TLS and jti, logged causes

use std::sync::Arc;

use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpRequest, HttpResponse, web};
use oauth_actix::{AdapterOptions, AuthorizeHandler, OAuthEndpoints};
use oauth_core::PendingAuthorization;
use oauth_core::policy::EndpointPaths;
use oauth_core::testing::TestServer;

/// Answers with the pending authorization as JSON, so tests can see what arrived.
struct Echo;

#[async_trait::async_trait(?Send)]
impl AuthorizeHandler for Echo {
    async fn pending(&self, _req: HttpRequest, pending: PendingAuthorization) -> HttpResponse {
        HttpResponse::Ok().json(pending)
    }
}

/// The endpoints at the default paths below `prefix`, the token endpoint
/// also at `/oauth/tokenize`, bodies up to 1 KiB.
async fn endpoints(prefix: &str) -> OAuthEndpoints {
    let paths = EndpointPaths { token_aliases: vec!["/oauth/tokenize".into()], ..EndpointPaths::default() };
    let t = TestServer::with_policy(|p| p.allow_insecure_transport(true).paths(paths.with_prefix(prefix))).await;
    let options = AdapterOptions { body_limit: 1024, ..AdapterOptions::default() };
    OAuthEndpoints::new(Arc::new(t.server), Arc::new(Echo)).with_options(options)
}

fn basic() -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("machine:machine-secret"))
}

#[actix_web::test]
async fn routes_methods_and_limits() {
    let ep = endpoints("/auth").await;
    // The policy's paths are below /auth, so they mount in a scope there, but not in another one.
    let Err(error) = ep.scope("/other") else { panic!("mounted outside the policy's paths") };
    assert_eq!((error.field.as_str(), error.path.as_str()), ("paths.authorize", "/auth/oauth/authorize"));
    assert!(ep.scope("/au").is_err(), "a prefix is a whole segment");
    let app = test::init_service(App::new().service(ep.scope("/auth/").unwrap())).await;
    // (method, path, expected status, expected Allow)
    let rows = [
        ("GET", "/auth/oauth/token", 405, Some("POST")),
        ("PUT", "/auth/oauth/tokenize", 405, Some("POST")),
        ("GET", "/auth/oauth/revoke", 405, Some("POST")),
        ("GET", "/auth/oauth/introspect", 405, Some("POST")),
        ("PATCH", "/auth/oauth/authorize", 405, Some("GET, POST")),
        ("POST", "/auth/.well-known/oauth-authorization-server", 405, Some("GET")),
        ("GET", "/auth/.well-known/oauth-authorization-server", 200, None),
    ];
    for (method, path, status, allow) in rows {
        let req = TestRequest::default().method(method.parse().unwrap()).uri(path).to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status().as_u16(), status, "{method} {path}");
        assert_eq!(resp.headers().get("allow").map(|v| v.to_str().unwrap()), allow, "{method} {path}");
    }
    let big = TestRequest::post()
        .uri("/auth/oauth/token")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(vec![b'a'; 2000])
        .to_request();
    let resp = test::call_service(&app, big).await;
    assert_eq!(resp.status().as_u16(), 413);
    let body: serde_json::Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "invalid_request");
}

#[actix_web::test]
async fn conversion_both_ways() {
    let ep = endpoints("").await;
    let app = test::init_service(App::new().configure(|cfg| ep.configure(cfg))).await;
    // Token: header, content type and form arrive; status, headers and JSON come back.
    for path in ["/oauth/token", "/oauth/tokenize"] {
        let req = TestRequest::post()
            .uri(path)
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload("grant_type=client_credentials&scope=read&client_id=machine&client_secret=machine-secret")
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
        assert_eq!(resp.headers().get("content-type").unwrap(), "application/json");
        let body: serde_json::Value = test::read_body_json(resp).await;
        assert_eq!(body["scope"], "read");
    }
    // 401 carries WWW-Authenticate (machine is registered for client_secret_post, not Basic).
    let req = TestRequest::post()
        .uri("/oauth/token")
        .insert_header(("Authorization", basic()))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload("grant_type=client_credentials")
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().get("www-authenticate").unwrap().to_str().unwrap().starts_with("Basic realm="));
    // Authorize: the handler receives the pending authorization.
    let req = TestRequest::get()
        .uri("/oauth/authorize?client_id=test_client&response_type=code&scope=email&state=xyz")
        .to_request();
    let pending: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(pending["client_id"], "test_client");
    assert_eq!(pending["state"], "xyz");
    // An unverifiable request gets the default JSON error, not a redirect.
    let req = TestRequest::get().uri("/oauth/authorize?client_id=nobody&response_type=code").to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers().get("location").is_none());
    // A verified redirect URI gets the error redirect.
    let req = TestRequest::get().uri("/oauth/authorize?client_id=test_client&response_type=foo").to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status().as_u16(), 302);
    assert!(resp.headers().get("location").unwrap().to_str().unwrap().contains("error=unsupported_response_type"));
}

#[actix_web::test]
async fn forwarded_proto_is_trusted_only_when_configured() {
    let t = TestServer::new().await; // TLS required
    let server = Arc::new(t.server);
    let query = "/oauth/authorize?client_id=test_client&response_type=code&scope=email";
    for (trust, expected) in [(false, 400), (true, 200)] {
        let options = AdapterOptions { trust_forwarded_proto: trust, ..AdapterOptions::default() };
        let ep = OAuthEndpoints::new(server.clone(), Arc::new(Echo)).with_options(options);
        let app = test::init_service(App::new().configure(|cfg| ep.configure(cfg))).await;
        let req = TestRequest::get().uri(query).insert_header(("X-Forwarded-Proto", "https")).to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status().as_u16(), expected, "trust_forwarded_proto = {trust}");
    }
}

#[actix_web::test]
async fn bearer_extractor_for_opaque_and_jwt_tokens() {
    use oauth_actix::{BearerError, BearerToken};
    use oauth_core::jose::{KeySet, SigningAlg, SigningKey};
    use oauth_core::policy::AccessTokenFormat;

    for format in [AccessTokenFormat::Opaque, AccessTokenFormat::Jwt] {
        let t = TestServer::with_policy(|p| p.allow_insecure_transport(true).access_token_format(format)).await;
        t.server.set_keys(Some(KeySet::new(vec![SigningKey::generate("k", SigningAlg::ES256).unwrap()], "k").unwrap()));
        let server = Arc::new(t.server);
        let ep = OAuthEndpoints::new(server.clone(), Arc::new(Echo));
        let app = test::init_service(
            App::new()
                .app_data(web::Data::from(server.clone()))
                .configure(|cfg| ep.configure(cfg))
                .route(
                    "/api/read",
                    web::get().to(|token: BearerToken| async move {
                        token.require_scope("read")?;
                        Ok::<_, BearerError>(HttpResponse::Ok().body(token.record().client_id.to_string()))
                    }),
                )
                .route(
                    "/api/write",
                    web::get().to(|token: BearerToken| async move {
                        token.require_scope("write")?;
                        Ok::<_, BearerError>(HttpResponse::Ok().finish())
                    }),
                ),
        )
        .await;
        let req = TestRequest::post()
            .uri("/oauth/token")
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload("grant_type=client_credentials&scope=read&client_id=machine&client_secret=machine-secret")
            .to_request();
        let body: serde_json::Value = test::call_and_read_body_json(&app, req).await;
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(token.matches('.').count(), if format == AccessTokenFormat::Jwt { 2 } else { 1 }, "{format:?}");

        let call = |uri: &str, auth: Option<String>| {
            let mut req = TestRequest::get().uri(uri);
            if let Some(auth) = auth {
                req = req.insert_header(("Authorization", auth));
            }
            req.to_request()
        };
        let resp = test::call_service(&app, call("/api/read", Some(format!("Bearer {token}")))).await;
        assert_eq!(resp.status().as_u16(), 200, "{format:?}");
        let resp = test::call_service(&app, call("/api/write", Some(format!("Bearer {token}")))).await;
        assert_eq!(resp.status().as_u16(), 403);
        assert!(resp.headers().get("www-authenticate").unwrap().to_str().unwrap().contains("insufficient_scope"));
        let resp = test::call_service(&app, call("/api/read", None)).await;
        assert_eq!(resp.status().as_u16(), 401);
        assert!(!resp.headers().get("www-authenticate").unwrap().to_str().unwrap().contains("error="));
        let resp = test::call_service(&app, call("/api/read", Some("Bearer nope.nope".into()))).await;
        assert_eq!(resp.status().as_u16(), 401);
        assert!(resp.headers().get("www-authenticate").unwrap().to_str().unwrap().contains("invalid_token"));

        // Revoked: refused, JWT or not.
        let req = TestRequest::post()
            .uri("/oauth/revoke")
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(format!("token={token}&client_id=machine&client_secret=machine-secret"))
            .to_request();
        assert_eq!(test::call_service(&app, req).await.status().as_u16(), 200);
        let resp = test::call_service(&app, call("/api/read", Some(format!("Bearer {token}")))).await;
        assert_eq!(resp.status().as_u16(), 401, "{format:?}: revoked");
    }
}
