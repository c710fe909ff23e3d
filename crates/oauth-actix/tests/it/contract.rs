//! Every answer is core's, converted: limits, unreadable bodies, public
//! documents, the bearer path, and causes logged once with the route.

use std::sync::{Arc, Mutex};

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpRequest, HttpResponse, web};
use base64::Engine as _;
use oauth_actix::{AuthorizeHandler, BearerError, BearerToken, OAuthEndpoints};
use oauth_core::jose::{KeySet, SigningAlg, SigningKey};
use oauth_core::policy::AccessTokenFormat;
use oauth_core::testing::{FailingStore, TestServer};
use oauth_core::{AuthorizationServer, PendingAuthorization, Stores};

struct Nobody;

#[async_trait::async_trait(?Send)]
impl AuthorizeHandler for Nobody {
    async fn pending(&self, _req: HttpRequest, _pending: PendingAuthorization) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }
}

/// The app: the endpoints, and `/api/read` behind `BearerToken`.
macro_rules! app {
    ($server:expr) => {{
        let server: Arc<AuthorizationServer> = $server;
        let ep = OAuthEndpoints::new(server.clone(), Arc::new(Nobody));
        test::init_service(App::new().app_data(web::Data::from(server)).configure(|cfg| ep.configure(cfg)).route(
            "/api/read",
            web::get().to(|token: BearerToken| async move {
                Ok::<_, BearerError>(HttpResponse::Ok().body(token.record().client_id.to_string()))
            }),
        ))
        .await
    }};
}

fn form(uri: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(body.to_owned())
}

fn bearer(uri: &str, token: &str) -> TestRequest {
    TestRequest::get().uri(uri).insert_header(("Authorization", format!("Bearer {token}")))
}

const MACHINE: &str = "grant_type=client_credentials&scope=read&client_id=machine&client_secret=machine-secret";

fn header(resp: &actix_web::dev::ServiceResponse, name: &str) -> Option<String> {
    resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[actix_web::test]
async fn limits_and_unreadable_bodies_are_cores_answers() {
    let t = TestServer::with_policy(|p| p.allow_insecure_transport(true)).await;
    let app = app!(Arc::new(t.server));
    // (what, request, status, error_description)
    let big = form("/oauth/token", &"a".repeat(17 * 1024)).to_request();
    let broken = {
        // The connection breaks in the middle of the body.
        let stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<web::Bytes, PayloadError>>>> =
            Box::pin(futures_util::stream::once(async { Err(PayloadError::Incomplete(None)) }));
        let req = form("/oauth/token", "").to_request();
        req.replace_payload(Payload::from(stream)).0
    };
    let resp = test::call_service(&app, big).await;
    let expected = oauth_core::OAuthResponse::body_too_large();
    assert_eq!(resp.status().as_u16(), 413);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    let body: serde_json::Value = test::read_body_json(resp).await;
    assert_eq!(Some(body), expected.json_body());

    let resp = test::call_service(&app, broken).await;
    let expected = oauth_core::OAuthResponse::body_unreadable();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = test::read_body_json(resp).await;
    assert_eq!(Some(body), expected.json_body());
}

#[actix_web::test]
async fn public_documents_are_cached_or_404_without_openid_connect() {
    let t = TestServer::new().await;
    let server = Arc::new(t.server);
    let app = app!(server.clone());
    // (path, status without keys, Cache-Control without keys)
    let rows = [
        ("/.well-known/oauth-authorization-server", 200, "max-age=300"),
        ("/.well-known/openid-configuration", 404, "no-store"),
        ("/jwks", 404, "no-store"),
    ];
    let jwks_path = server.policy().paths().jwks.clone();
    for (path, status, cache) in rows {
        let path = if path == "/jwks" { jwks_path.as_str() } else { path };
        let resp = test::call_service(&app, TestRequest::get().uri(path).to_request()).await;
        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some(cache), "{path}");
        assert_eq!(header(&resp, "content-type").as_deref(), Some("application/json"), "{path}");
        let body: serde_json::Value = test::read_body_json(resp).await;
        if status == 404 {
            assert_eq!(body["error"], "invalid_request", "{path}");
            assert_eq!(body["error_description"], "OpenID Connect is not enabled", "{path}");
        }
    }
    server.set_keys(Some(KeySet::new(vec![SigningKey::generate("k", SigningAlg::ES256).unwrap()], "k").unwrap()));
    for path in ["/.well-known/openid-configuration", jwks_path.as_str()] {
        let resp = test::call_service(&app, TestRequest::get().uri(path).to_request()).await;
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("max-age=60"), "{path}");
    }
}

#[actix_web::test]
async fn bearer_token_over_plain_http_is_refused_when_tls_is_required() {
    let t = TestServer::new().await; // TLS required
    let token = {
        // Issue the token over TLS, as a real client would.
        let req = oauth_core::OAuthRequest::post_form(MACHINE).secure();
        let response = t.server.token(&req).await;
        response.json_body().unwrap()["access_token"].as_str().unwrap().to_owned()
    };
    let app = app!(Arc::new(t.server));
    let resp = test::call_service(&app, bearer("/api/read", &token).to_request()).await;
    assert_eq!(resp.status().as_u16(), 400);
    let challenge = header(&resp, "www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer realm=") && challenge.contains("error=\"invalid_request\""), "{challenge}");
    // UserInfo goes through the same rule in core and answers the same.
    let resp = test::call_service(&app, bearer("/oauth/userinfo", &token).to_request()).await;
    assert_eq!(resp.status().as_u16(), 400);
}

#[actix_web::test]
async fn a_jwt_access_tokens_jti_is_no_bearer_token() {
    let t =
        TestServer::with_policy(|p| p.allow_insecure_transport(true).access_token_format(AccessTokenFormat::Jwt)).await;
    t.server.set_keys(Some(KeySet::new(vec![SigningKey::generate("k", SigningAlg::ES256).unwrap()], "k").unwrap()));
    let app = app!(Arc::new(t.server));
    let body: serde_json::Value = test::call_and_read_body_json(&app, form("/oauth/token", MACHINE).to_request()).await;
    let jwt = body["access_token"].as_str().unwrap().to_owned();
    let claims = jwt.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    let jti = claims["jti"].as_str().unwrap().to_owned();

    let resp = test::call_service(&app, bearer("/api/read", &jwt).to_request()).await;
    assert_eq!(resp.status().as_u16(), 200, "the JWT itself works");
    // (what, request, status)
    let rows = [("BearerToken", bearer("/api/read", &jti)), ("UserInfo", bearer("/oauth/userinfo", &jti))];
    for (what, req) in rows {
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status().as_u16(), 401, "{what}");
        assert!(header(&resp, "www-authenticate").unwrap().contains("invalid_token"), "{what}");
    }
    let introspect = |token: &str| {
        form("/oauth/introspect", &format!("token={token}&client_id=machine&client_secret=machine-secret")).to_request()
    };
    let body: serde_json::Value = test::call_and_read_body_json(&app, introspect(&jti)).await;
    assert_eq!(body, serde_json::json!({ "active": false }), "the jti");
    let body: serde_json::Value = test::call_and_read_body_json(&app, introspect(&jwt)).await;
    assert_eq!(body["active"], true, "the JWT");
}

/// Collects what the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn a_storage_failure_is_logged_once_with_its_cause_and_route() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).without_time().finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let policy = oauth_core::testing::policy_builder().allow_insecure_transport(true).build().unwrap();
    let server = Arc::new(AuthorizationServer::new(policy, Stores::single(Arc::new(FailingStore))));
    let app = app!(server);
    // (request, status, route)
    let rows = [
        (form("/oauth/token", "grant_type=client_credentials&client_id=machine&client_secret=s"), 503, "/oauth/token"),
        (bearer("/api/read", "grant.secret"), 503, "/api/read"),
        (TestRequest::get().uri("/oauth/authorize?client_id=test_client"), 503, "/oauth/authorize"),
        (form("/oauth/device_authorization", "client_id=tv"), 503, "/oauth/device_authorization"),
    ];
    for (req, status, route) in rows {
        captured.0.lock().unwrap().clear();
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status().as_u16(), status, "{route}");
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1, "{route}: logged once: {log}");
        assert!(log.contains("ERROR"), "{log}");
        assert!(log.contains(&format!("route=\"{route}\"")), "{log}");
        assert!(log.contains("storage backend error: backend down (FailingStore)"), "{log}");
    }
}

/// DPoP through the adapter: the `DPoP` header and the request path reach
/// core, so `BearerToken` takes `Authorization: DPoP` with a proof for its
/// own URL, and answers core's RFC 9449 §7.1 challenge otherwise.
#[actix_web::test]
async fn bearer_token_takes_dpop_bound_tokens_with_proofs_for_its_path() {
    use oauth_core::testing::{ISSUER, T0};
    let t = TestServer::with_policy(|p| p.allow_insecure_transport(true)).await;
    let key = SigningKey::generate("dpop", SigningAlg::ES256).unwrap();
    let proof = |htm: &str, htu: String, jti: &str, token: Option<&str>| {
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()});
        let mut claims = serde_json::json!({"jti": jti, "htm": htm, "htu": htu, "iat": T0});
        if let Some(token) = token {
            claims["ath"] = oauth_core::dpop::access_token_hash(token).into();
        }
        key.sign_with_header(&header, &claims).unwrap()
    };
    let app = app!(Arc::new(t.server));
    let issue = form("/oauth/token", MACHINE)
        .insert_header(("DPoP", proof("POST", format!("{ISSUER}/oauth/token"), "t1", None)))
        .to_request();
    let body: serde_json::Value = test::call_and_read_body_json(&app, issue).await;
    assert_eq!(body["token_type"], "DPoP", "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let dpop = |path: &str, proof: String| {
        TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("DPoP {token}")))
            .insert_header(("DPoP", proof))
            .to_request()
    };
    let api = format!("{ISSUER}/api/read");
    let resp = test::call_service(&app, dpop("/api/read", proof("GET", api.clone(), "r1", Some(&token)))).await;
    assert_eq!(resp.status().as_u16(), 200, "a proof for the resource's URL");
    // (what, request, error)
    let rows = [
        ("the same proof", dpop("/api/read", proof("GET", api.clone(), "r1", Some(&token))), "invalid_dpop_proof"),
        (
            "a proof for another path",
            dpop("/api/read", proof("GET", format!("{ISSUER}/api/write"), "r2", Some(&token))),
            "invalid_dpop_proof",
        ),
        ("a proof for POST", dpop("/api/read", proof("POST", api.clone(), "r3", Some(&token))), "invalid_dpop_proof"),
        ("the token as Bearer", bearer("/api/read", &token).to_request(), "invalid_token"),
    ];
    for (what, req, error) in rows {
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status().as_u16(), 401, "{what}");
        let challenge = header(&resp, "www-authenticate").unwrap();
        assert!(
            challenge.starts_with("DPoP ") && challenge.contains(&format!("error=\"{error}\"")),
            "{what}: {challenge}"
        );
    }
}

/// The device authorization endpoint is mounted at its policy path, POST
/// only, with the same body limit as the others; its answers are core's.
#[actix_web::test]
async fn the_device_authorization_endpoint_is_mounted() {
    use oauth_core::storage::ClientStore as _;
    let t = TestServer::with_policy(|p| p.allow_insecure_transport(true)).await;
    let mut tv = oauth_core::client::Client::new("tv");
    tv.grant_types = [oauth_core::types::GrantType::DeviceCode].into_iter().collect();
    tv.response_types.clear();
    tv.scopes = oauth_core::testing::scopes("email");
    t.store.put_client(&tv).await.unwrap();
    let app = app!(Arc::new(t.server));
    let resp =
        test::call_service(&app, form("/oauth/device_authorization", "client_id=tv&scope=email").to_request()).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    let body: serde_json::Value = test::read_body_json(resp).await;
    assert_eq!(body["verification_uri"], "https://auth.example.com/device", "{body}");
    assert_eq!(body["expires_in"], 600, "{body}");
    let resp = test::call_service(&app, TestRequest::get().uri("/oauth/device_authorization").to_request()).await;
    assert_eq!((resp.status().as_u16(), header(&resp, "allow").as_deref()), (405, Some("POST")));
    let big = form("/oauth/device_authorization", &"a".repeat(17 * 1024)).to_request();
    assert_eq!(test::call_service(&app, big).await.status().as_u16(), 413);
    let resp = test::call_service(&app, form("/oauth/device_authorization", "client_id=nobody").to_request()).await;
    assert_eq!(resp.status().as_u16(), 401);
}
