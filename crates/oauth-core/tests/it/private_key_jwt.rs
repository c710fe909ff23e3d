//! `private_key_jwt` at the endpoints (RFC 7523 §2.2): the one
//! client-authentication path of token, introspection and revocation, with
//! real ES256 and Ed25519 keys; the assertion's `jti` replay store; mixing
//! methods; fetching the key set again on an unknown `kid`; the throttle.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oauth_core::assertion::{ASSERTION_TYPE, ClientKeys, KeySetError};
use oauth_core::client::Client;
use oauth_core::jose::{SigningAlg, SigningKey};
use oauth_core::storage::ClientStore as _;
use oauth_core::testing::{ISSUER, T0, TestServer};
use oauth_core::throttle::{Limit, ThrottlePolicy};
use oauth_core::types::{GrantType, TokenEndpointAuthMethod};
use oauth_core::{AuthorizationServer, OAuthResponse};
use serde_json::{Value, json};

use crate::support::{assert_error, assert_tokens, basic, post, with};

const CLIENT: &str = "signer";
const TOKEN_URL: &str = "https://auth.example.com/oauth/token";
const INTROSPECT_URL: &str = "https://auth.example.com/oauth/introspect";
const REVOKE_URL: &str = "https://auth.example.com/oauth/revoke";
const PAR_URL: &str = "https://auth.example.com/oauth/par";

fn key(kid: &str, alg: SigningAlg) -> SigningKey {
    SigningKey::generate(kid, alg).unwrap()
}

fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>()})
}

/// A confidential client_credentials client authenticating with `private_key_jwt`.
fn signer(set: Value) -> Client {
    let mut client = Client::new(CLIENT);
    client.auth_method = TokenEndpointAuthMethod::PrivateKeyJwt;
    client.jwks = Some(set);
    client.grant_types = [GrantType::ClientCredentials].into_iter().collect();
    client.response_types.clear();
    client.scopes = oauth_core::testing::scopes("read");
    client.default_scopes = oauth_core::testing::scopes("read");
    client.validate().unwrap();
    client
}

fn claims(aud: &str, jti: &str) -> Value {
    json!({"iss": CLIENT, "sub": CLIENT, "aud": aud, "jti": jti, "exp": T0 + 60, "iat": T0})
}

fn header(key: &SigningKey) -> Value {
    json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "JWT"})
}

fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
    key.sign_with_header(header, claims).unwrap()
}

fn assertion_body(assertion: &str, extra: &str) -> String {
    let ty = url::form_urlencoded::byte_serialize(ASSERTION_TYPE.as_bytes()).collect::<String>();
    format!("client_assertion_type={ty}&client_assertion={assertion}{extra}")
}

async fn server_with(client: Client, tweak: impl FnOnce(AuthorizationServer) -> AuthorizationServer) -> TestServer {
    let t = TestServer::with_policy(|p| {
        p.throttle(ThrottlePolicy { client: Limit::new(3, 60), ..ThrottlePolicy::default() })
    })
    .await;
    t.store.put_client(&client).await.unwrap();
    TestServer { server: tweak(t.server), store: t.store, clock: t.clock }
}

async fn client_credentials(t: &TestServer, assertion: &str) -> OAuthResponse {
    t.server.token(&post(&assertion_body(assertion, "&grant_type=client_credentials"), None)).await
}

#[tokio::test]
async fn a_valid_assertion_authenticates_at_every_endpoint_and_once_only() {
    let ec = key("ec", SigningAlg::ES256);
    let ed = key("ed", SigningAlg::EdDSA);
    let t = server_with(signer(jwks(&[&ec, &ed])), |s| s).await;

    // Token endpoint: the token URL, the issuer, and either key.
    let first = sign(&ec, &header(&ec), &claims(TOKEN_URL, "t-1"));
    let body = assert_tokens(&client_credentials(&t, &first).await, "token, aud token URL");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_tokens(
        &client_credentials(&t, &sign(&ed, &header(&ed), &claims(ISSUER, "t-2"))).await,
        "token, aud issuer, EdDSA",
    );
    // Without client_id the assertion's sub names the client; with it, it must match.
    let named = assertion_body(&sign(&ec, &header(&ec), &claims(TOKEN_URL, "t-3")), "&grant_type=client_credentials");
    assert_tokens(&t.server.token(&post(&format!("{named}&client_id={CLIENT}"), None)).await, "client_id sent");

    // The same assertion again: its jti was seen.
    assert_error(&client_credentials(&t, &first).await, 401, "invalid_client", "replayed jti");

    // Introspection with its own URL as audience, then revocation.
    let intro = sign(&ec, &header(&ec), &claims(INTROSPECT_URL, "i-1"));
    let response = t.server.introspect(&post(&assertion_body(&intro, &format!("&token={access}")), None)).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json_body().unwrap()["active"], true);
    let response = t.server.introspect(&post(&assertion_body(&intro, &format!("&token={access}")), None)).await;
    assert_error(&response, 401, "invalid_client", "replayed at introspection");

    let revoke = sign(&ed, &header(&ed), &claims(REVOKE_URL, "r-1"));
    let response = t.server.revoke(&post(&assertion_body(&revoke, &format!("&token={access}")), None)).await;
    assert_eq!(response.status, 200, "{response:?}");
    let intro = sign(&ec, &header(&ec), &claims(TOKEN_URL, "i-2"));
    let response = t.server.introspect(&post(&assertion_body(&intro, &format!("&token={access}")), None)).await;
    assert_eq!(response.json_body().unwrap()["active"], false, "revoked by the assertion-authenticated client");
}

/// The endpoints that authenticate clients, with the body each needs and the
/// URL an assertion for it may name as `aud`.
const ENDPOINTS: [(&str, &str, &str); 4] = [
    ("token", "&grant_type=client_credentials", TOKEN_URL),
    ("introspect", "&token=unknown", INTROSPECT_URL),
    ("revoke", "&token=unknown", REVOKE_URL),
    ("par", "&response_type=code&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&state=s", PAR_URL),
];

async fn call(t: &TestServer, endpoint: &str, body: &str) -> OAuthResponse {
    let req = post(body, None);
    match endpoint {
        "token" => t.server.token(&req).await,
        "introspect" => t.server.introspect(&req).await,
        "revoke" => t.server.revoke(&req).await,
        _ => t.server.par(&req).await,
    }
}

#[tokio::test]
async fn each_defect_is_refused_at_every_endpoint() {
    let ec = key("ec", SigningAlg::ES256);
    let rsa = key("rsa", SigningAlg::RS256);
    let stranger = key("ec", SigningAlg::ES256);
    let h = header(&ec);
    // A client of every endpoint: client_credentials, and the code flow for PAR.
    let mut client = signer(jwks(&[&ec]));
    client.grant_types.insert(GrantType::AuthorizationCode);
    client.response_types.insert(oauth_core::types::ResponseType::Code);
    client.redirect_uris = vec![oauth_core::testing::redirect_uri(oauth_core::testing::REDIRECT)];
    // A throttle that never engages, so that every row reaches the checks.
    let t =
        TestServer::with_policy(|p| p.throttle(ThrottlePolicy { client: Limit::new(1000, 60), ..Default::default() }))
            .await;
    t.store.put_client(&client).await.unwrap();
    for (endpoint, extra, url) in ENDPOINTS {
        let c = || claims(url, &format!("{endpoint}-d"));
        let other_endpoint = if endpoint == "revoke" { INTROSPECT_URL } else { REVOKE_URL };
        let rows: Vec<(&str, &SigningKey, Value, Value)> = vec![
            ("aud another server", &ec, h.clone(), with(c(), "aud", json!("https://evil.example"))),
            ("aud another endpoint", &ec, h.clone(), with(c(), "aud", json!(other_endpoint))),
            ("expired", &ec, h.clone(), with(c(), "exp", json!(T0 - 1))),
            ("exp too far", &ec, h.clone(), with(c(), "exp", json!(T0 + 3600))),
            ("iat in the future", &ec, h.clone(), with(c(), "iat", json!(T0 + 60))),
            ("unknown kid", &ec, with(h.clone(), "kid", json!("nope")), c()),
            ("alg mismatch: RS256 header on an EC key", &ec, with(h.clone(), "alg", json!("RS256")), c()),
            ("alg none", &ec, with(h.clone(), "alg", json!("none")), c()),
            ("alg HS256", &ec, with(h.clone(), "alg", json!("HS256")), c()),
            ("wrong iss", &ec, h.clone(), with(c(), "iss", json!("other"))),
            ("wrong sub", &ec, h.clone(), with(c(), "sub", json!("test_client"))),
            ("no jti", &ec, h.clone(), with(c(), "jti", Value::Null)),
            ("signed by a stranger", &stranger, h.clone(), c()),
            ("signed by an unregistered RSA key", &rsa, header(&rsa), c()),
        ];
        let body = |assertion: &str| format!("{}&client_id={CLIENT}{extra}", assertion_body(assertion, ""));
        for (label, signer_key, header, claims) in rows {
            let assertion = signer_key.sign_with_header(&header, &claims).unwrap_or_else(|_| {
                // Headers the signer refuses (alg none, HS256): forge the token by hand.
                let part = |v: &Value| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
                };
                format!("{}.{}.c2ln", part(&header), part(&claims))
            });
            let label = format!("{endpoint}: {label}");
            assert_error(&call(&t, endpoint, &body(&assertion)).await, 401, "invalid_client", &label);
        }
        // The control, after the rows (which recorded no jti): the unchanged
        // assertion is accepted, so each row failed for its defect alone;
        // then its replay is refused.
        let valid = sign(&ec, &h, &c());
        let status = call(&t, endpoint, &body(&valid)).await.status;
        assert!(status == 200 || status == 201, "{endpoint}: control answered {status}");
        assert_error(&call(&t, endpoint, &body(&valid)).await, 401, "invalid_client", &format!("{endpoint}: replay"));
    }
}

#[tokio::test]
async fn mixed_or_wrong_methods_are_refused() {
    let ec = key("ec", SigningAlg::ES256);
    let t = server_with(signer(jwks(&[&ec])), |s| s).await;
    let a = || sign(&ec, &header(&ec), &claims(TOKEN_URL, "m-1"));
    let cc = "&grant_type=client_credentials";
    let ty = url::form_urlencoded::byte_serialize(ASSERTION_TYPE.as_bytes()).collect::<String>();
    let rows: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        ("assertion and Basic", assertion_body(&a(), cc), Some(basic(CLIENT, "x")), 400, "invalid_request"),
        (
            "assertion and client_secret",
            assertion_body(&a(), &format!("{cc}&client_secret=x")),
            None,
            400,
            "invalid_request",
        ),
        (
            "type without assertion",
            format!("client_assertion_type={ty}&client_id={CLIENT}{cc}"),
            None,
            400,
            "invalid_request",
        ),
        ("assertion without type", format!("client_assertion={}{cc}", a()), None, 400, "invalid_request"),
        (
            "another assertion type",
            format!("client_assertion_type=urn%3Aother&client_assertion={}{cc}", a()),
            None,
            401,
            "invalid_client",
        ),
        (
            "client_id not the assertion's",
            format!("{}&client_id=machine", assertion_body(&a(), cc)),
            None,
            401,
            "invalid_client",
        ),
        ("not a JWT, no client_id", assertion_body("garbage", cc), None, 401, "invalid_client"),
        (
            "secret for a private_key_jwt client",
            format!("client_id={CLIENT}&client_secret=x{cc}"),
            None,
            401,
            "invalid_client",
        ),
        ("client_id only for a private_key_jwt client", format!("client_id={CLIENT}{cc}"), None, 401, "invalid_client"),
    ];
    for (label, body, auth, status, code) in rows {
        assert_error(&t.server.token(&post(&body, auth.as_deref())).await, status, code, label);
    }
    // A secret client cannot switch to an assertion (even one it could sign).
    let machine = claims(TOKEN_URL, "m-2");
    let body = assertion_body(
        &sign(&ec, &header(&ec), &with(with(machine, "iss", json!("machine")), "sub", json!("machine"))),
        cc,
    );
    assert_error(&t.server.token(&post(&body, None)).await, 401, "invalid_client", "assertion from a secret client");
}

#[tokio::test]
async fn failed_assertions_count_toward_the_client_throttle() {
    let ec = key("ec", SigningAlg::ES256);
    let t = server_with(signer(jwks(&[&ec])), |s| s).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let bad = sign(&ec, &header(&ec), &claims("https://evil.example", &format!("x-{i}")));
        statuses.push(client_credentials(&t, &bad).await.status);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429], "3 failures allowed per client, then 429");
}

/// A key source that serves an old set first and the current one when asked
/// to refresh, counting its calls.
struct Rotating {
    old: Value,
    new: Value,
    calls: AtomicUsize,
    refreshes: AtomicUsize,
}

#[async_trait::async_trait]
impl ClientKeys for Rotating {
    async fn key_set(&self, _client: &Client, refresh: bool) -> Result<Arc<Value>, KeySetError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if refresh {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            return Ok(Arc::new(self.new.clone()));
        }
        Ok(Arc::new(self.old.clone()))
    }
}

#[tokio::test]
async fn an_unknown_kid_asks_the_key_source_once_for_a_fresh_set() {
    let old = key("old", SigningAlg::ES256);
    let new = key("new", SigningAlg::EdDSA);
    let source = Arc::new(Rotating { old: jwks(&[&old]), new: jwks(&[&new]), calls: 0.into(), refreshes: 0.into() });
    let mut client = signer(jwks(&[&old]));
    client.jwks = None;
    client.jwks_uri = Some("https://client.example/jwks".into());
    client.validate().unwrap();
    let t = server_with(client, |s| s.with_client_keys(source.clone())).await;

    assert_tokens(&client_credentials(&t, &sign(&old, &header(&old), &claims(TOKEN_URL, "k-1"))).await, "cached key");
    assert_eq!(source.refreshes.load(Ordering::SeqCst), 0, "a known kid needs no refresh");
    assert_tokens(&client_credentials(&t, &sign(&new, &header(&new), &claims(TOKEN_URL, "k-2"))).await, "rotated key");
    assert_eq!(source.refreshes.load(Ordering::SeqCst), 1, "one refresh for the unknown kid");
    let unknown = key("nobody", SigningAlg::ES256);
    let response = client_credentials(&t, &sign(&unknown, &header(&unknown), &claims(TOKEN_URL, "k-3"))).await;
    assert_error(&response, 401, "invalid_client", "a kid nobody has");
    assert_eq!(source.calls.load(Ordering::SeqCst), 5, "two lookups per unknown kid, never more");
}

#[test]
fn registrations_need_exactly_one_usable_key_source() {
    let ec = key("ec", SigningAlg::ES256);
    let mut client = signer(jwks(&[&ec]));
    assert_eq!(client.validate(), Ok(()));
    client.jwks_uri = Some("https://client.example/jwks".into());
    assert_eq!(client.validate().map_err(|e| e.field()), Err("jwks"), "both jwks and jwks_uri");
    client.jwks = None;
    assert_eq!(client.validate(), Ok(()), "jwks_uri alone");
    for bad in ["http://client.example/jwks", "not a url", "https://u:p@client.example/jwks"] {
        client.jwks_uri = Some(bad.into());
        assert_eq!(client.validate().map_err(|e| e.field()), Err("jwks"), "{bad}");
    }
    client.jwks_uri = Some("http://127.0.0.1:8080/jwks".into());
    assert_eq!(client.validate(), Ok(()), "http on loopback");
    client.jwks_uri = None;
    assert_eq!(client.validate().map_err(|e| e.field()), Err("jwks"), "neither");
    let mut private = jwks(&[&ec]);
    private["keys"][0]["d"] = json!("AAAA");
    client.jwks = Some(private);
    assert_eq!(client.validate().map_err(|e| e.field()), Err("jwks"), "private key material");
    client.jwks = Some(json!({"keys": []}));
    assert_eq!(client.validate().map_err(|e| e.field()), Err("jwks"), "no keys");
    let mut secret_client = oauth_core::testing::machine_client();
    secret_client.jwks = Some(jwks(&[&ec]));
    assert_eq!(secret_client.validate().map_err(|e| e.field()), Err("jwks"), "keys on a secret client");
}

#[tokio::test]
async fn metadata_advertises_private_key_jwt_and_its_algorithms() {
    let t = TestServer::new().await;
    let doc = t.server.metadata();
    for endpoint in ["token", "revocation", "introspection"] {
        let methods = &doc[format!("{endpoint}_endpoint_auth_methods_supported")];
        assert!(methods.as_array().unwrap().contains(&json!("private_key_jwt")), "{endpoint}: {methods}");
        assert!(!methods.as_array().unwrap().contains(&json!("client_secret_jwt")), "{endpoint}: secrets are hashed");
        let algs = &doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")];
        assert_eq!(algs, &json!(["ES256", "EdDSA", "PS256", "RS256"]), "{endpoint}");
    }
}
