//! Pushed authorization requests (RFC 9126): the PAR endpoint authenticates
//! the client and validates the request like the authorization endpoint, and
//! the authorization endpoint takes a pushed request once.

use oauth_core::jose::{SigningAlg, SigningKey};
use oauth_core::storage::ClientStore as _;
use oauth_core::testing::{REDIRECT, T0, TestServer};
use oauth_core::{AuthorizeError, OAuthRequest, OAuthResponse, PendingAuthorization, REQUEST_URI_PREFIX};
use serde_json::json;

use crate::support::{Expect, assert_error, challenge, check_authorize, demo_auth, demo_query, post};

/// Pushes `body` with an optional Authorization header.
async fn push(t: &TestServer, body: &str, auth: Option<&str>) -> OAuthResponse {
    t.server.par(&post(body, auth)).await
}

/// Pushes the demo request as the demo client; returns the request_uri.
async fn pushed(t: &TestServer, extra: &str) -> String {
    let response = push(t, &demo_query(extra), Some(&demo_auth())).await;
    let body = response.json_body().unwrap();
    assert_eq!(response.status, 201, "{body}");
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(body["expires_in"], 60);
    body["request_uri"].as_str().unwrap().to_owned()
}

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The authorization endpoint with `client_id` and `request_uri` only.
async fn use_uri(t: &TestServer, client: &str, request_uri: &str) -> Result<PendingAuthorization, AuthorizeError> {
    t.server
        .authorize(&OAuthRequest::get(&format!("client_id={client}&request_uri={}", enc(request_uri))).secure())
        .await
}

#[track_caller]
fn assert_invalid_request_uri(result: Result<PendingAuthorization, AuthorizeError>, label: &str) {
    match result {
        Err(error @ AuthorizeError::Invalid(_)) => {
            assert_eq!(error.status(), 400, "{label}");
            let body = error.into_response().json_body().unwrap();
            assert_eq!(body["error"], "invalid_request_uri", "{label}: {body}");
        }
        other => panic!("{label}: expected an error page, got {other:?}"),
    }
}

#[tokio::test]
async fn a_pushed_request_is_used_once_as_validated() {
    let t = TestServer::new().await;
    let request_uri = pushed(&t, "nonce=n-1").await;
    let random = request_uri.strip_prefix(REQUEST_URI_PREFIX).unwrap();
    assert!(!random.is_empty(), "{request_uri}");

    // The front-channel request carries nothing else; the pushed parameters count.
    let pending = use_uri(&t, "test_client", &request_uri).await.unwrap();
    let direct = t.server.authorize(&OAuthRequest::get(&demo_query("nonce=n-1")).secure()).await.unwrap();
    assert_eq!(pending, direct, "the same pending authorization as the front-channel request");
    assert_eq!(pending.redirect_uri.as_str(), REDIRECT);
    assert_eq!(pending.state.as_ref().map(|s| s.as_str()), Some("somestate"));

    assert_invalid_request_uri(use_uri(&t, "test_client", &request_uri).await, "used twice");
}

#[tokio::test]
async fn request_uri_is_refused_when_expired_foreign_or_forged() {
    let t = TestServer::new().await;
    let request_uri = pushed(&t, "").await;
    // Another client's id finds nothing, and consumes nothing.
    assert_invalid_request_uri(use_uri(&t, "public_client", &request_uri).await, "another client_id");
    assert!(use_uri(&t, "test_client", &request_uri).await.is_ok(), "still there for its client");

    let request_uri = pushed(&t, "").await;
    t.clock.advance(61);
    assert_invalid_request_uri(use_uri(&t, "test_client", &request_uri).await, "expired after par_lifetime");

    assert_invalid_request_uri(use_uri(&t, "test_client", &format!("{REQUEST_URI_PREFIX}guess")).await, "never issued");
    // Another request_uri is a request object by reference: not supported,
    // redirected once the redirect URI is verified, as without PAR.
    let foreign = use_uri(&t, "test_client", "https://evil.example/req").await;
    assert!(matches!(foreign, Err(AuthorizeError::Redirect(_))), "not our URN: {foreign:?}");
    let missing = t.server.authorize(&OAuthRequest::get(&format!("request_uri={}", enc(&request_uri))).secure()).await;
    assert!(matches!(missing, Err(AuthorizeError::Invalid(_))), "client_id is required: {missing:?}");
}

#[tokio::test]
async fn the_push_is_authenticated_and_validated_like_the_authorization_request() {
    let t = TestServer::new().await;
    let pkce = format!("code_challenge={}&code_challenge_method=S256", challenge());
    let public =
        format!("client_id=public_client&redirect_uri={}&response_type=code&scope=email&{pkce}", enc(REDIRECT));
    let rows: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        ("request_uri inside the push", demo_query("request_uri=urn%3Ax"), Some(demo_auth()), 400, "invalid_request"),
        ("wrong secret", demo_query(""), Some(crate::support::basic("test_client", "nope")), 401, "invalid_client"),
        ("no authentication", demo_query("").replace("client_id=test_client&", ""), None, 401, "invalid_client"),
        (
            "client_id of another client",
            demo_query("").replace("client_id=test_client", "client_id=public_client"),
            Some(demo_auth()),
            400,
            "invalid_request",
        ),
        (
            "unregistered redirect_uri",
            demo_query("").replace("www.example.com", "evil.example"),
            Some(demo_auth()),
            400,
            "invalid_request",
        ),
        (
            "scope beyond the client's",
            demo_query("").replace("scope=email", "scope=admin"),
            Some(demo_auth()),
            400,
            "invalid_scope",
        ),
        (
            "no response_type",
            demo_query("").replace("response_type=code&", ""),
            Some(demo_auth()),
            400,
            "invalid_request",
        ),
        ("public client without PKCE", public.replace(&format!("&{pkce}"), ""), None, 400, "invalid_request"),
        ("repeated parameter", demo_query("state=again"), Some(demo_auth()), 400, "invalid_request"),
    ];
    for (label, body, auth, status, code) in rows {
        assert_error(&push(&t, &body, auth.as_deref()).await, status, code, label);
    }
    // A public client pushes with its client_id only (RFC 9126 §2).
    let response = push(&t, &public, None).await;
    assert_eq!(response.status, 201, "public client: {:?}", response.json_body());
    // Only POST.
    let get = t.server.par(&OAuthRequest::get(&demo_query("")).secure()).await;
    assert_eq!(get.status, 405);
}

#[tokio::test]
async fn required_par_refuses_front_channel_requests() {
    // Server-wide: every client must push.
    let t = TestServer::with_policy(|p| p.require_pushed_authorization_requests(true)).await;
    let req = OAuthRequest::get(&demo_query("")).secure();
    check_authorize(&t, req, &Expect::Redirect("invalid_request"), "server-wide requirement").await;
    let request_uri = pushed(&t, "").await;
    assert!(use_uri(&t, "test_client", &request_uri).await.is_ok(), "pushed requests pass");
    assert_eq!(t.server.metadata()["require_pushed_authorization_requests"], true);

    // Per client: only that client must push.
    let t = TestServer::new().await;
    let mut client = oauth_core::testing::demo_client();
    client.require_pushed_authorization_requests = true;
    t.store.put_client(&client).await.unwrap();
    let req = OAuthRequest::get(&demo_query("")).secure();
    check_authorize(&t, req, &Expect::Redirect("invalid_request"), "per-client requirement").await;
    let public = format!(
        "client_id=public_client&redirect_uri={}&response_type=code&scope=email&code_challenge={}&code_challenge_method=S256",
        enc(REDIRECT),
        challenge()
    );
    check_authorize(&t, OAuthRequest::get(&public).secure(), &Expect::Pending, "another client").await;
    let request_uri = pushed(&t, "").await;
    assert!(use_uri(&t, "test_client", &request_uri).await.is_ok());
    let doc = t.server.metadata();
    assert_eq!(doc["require_pushed_authorization_requests"], false);
    assert_eq!(doc["pushed_authorization_request_endpoint"], "https://auth.example.com/oauth/par");
}

#[tokio::test]
async fn a_private_key_jwt_client_pushes_with_an_assertion_for_the_par_endpoint() {
    let t = TestServer::new().await;
    let ec = SigningKey::generate("ec", SigningAlg::ES256).unwrap();
    let mut client = oauth_core::client::Client::new("signer");
    client.auth_method = oauth_core::types::TokenEndpointAuthMethod::PrivateKeyJwt;
    client.jwks = Some(json!({"keys": [ec.public_jwk()]}));
    client.redirect_uris = vec![oauth_core::testing::redirect_uri(REDIRECT)];
    client.scopes = oauth_core::testing::scopes("email");
    client.validate().unwrap();
    t.store.put_client(&client).await.unwrap();
    let assertion = |aud: &str, jti: &str| {
        let header = json!({"alg": "ES256", "kid": "ec"});
        let claims = json!({"iss": "signer", "sub": "signer", "aud": aud, "jti": jti, "exp": T0 + 60, "iat": T0});
        ec.sign_with_header(&header, &claims).unwrap()
    };
    let body = |jwt: String| {
        format!(
            "client_assertion_type={}&client_assertion={jwt}&{}",
            enc(oauth_core::assertion::ASSERTION_TYPE),
            demo_query("").replace("client_id=test_client", "client_id=signer")
        )
    };
    let response = push(&t, &body(assertion("https://auth.example.com/oauth/par", "p-1")), None).await;
    assert_eq!(response.status, 201, "{:?}", response.json_body());
    let request_uri = response.json_body().unwrap()["request_uri"].as_str().unwrap().to_owned();
    assert!(use_uri(&t, "signer", &request_uri).await.is_ok());
    let replay = push(&t, &body(assertion("https://auth.example.com/oauth/par", "p-1")), None).await;
    assert_error(&replay, 401, "invalid_client", "assertion replayed at PAR");
    let wrong = push(&t, &body(assertion("https://auth.example.com/oauth/revoke", "p-2")), None).await;
    assert_error(&wrong, 401, "invalid_client", "aud of another endpoint");
}
