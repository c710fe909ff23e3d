//! DPoP wired to the endpoints (RFC 9449 §5–§10): bound tokens at the token
//! endpoint, refresh with the key, `dpop_jkt` codes, nonces, replays, and
//! resources (`Authorization: DPoP`, Bearer downgrade), with proofs signed by
//! real keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_core::dpop::{self, NonceSource};
use oauth_core::jose::{KeySet, SigningAlg, SigningKey};
use oauth_core::policy::AccessTokenFormat;
use oauth_core::storage::ClientStore as _;
use oauth_core::testing::{ISSUER, T0, TestServer, machine_client, public_client};
use oauth_core::{OAuthRequest, OAuthResponse, TokenScheme};
use serde_json::{Value, json};

use crate::support::{VERIFIER, challenge, code_for, post};

/// A client's DPoP key.
pub(crate) struct Key(SigningKey);

impl Key {
    pub(crate) fn new() -> Self {
        Self(SigningKey::generate("dpop", SigningAlg::ES256).unwrap())
    }

    pub(crate) fn jkt(&self) -> String {
        dpop::thumbprint(self.0.public_jwk().as_object().unwrap()).unwrap()
    }

    /// A proof for `htm` `htu` made now with a fresh `jti` (`tag`).
    pub(crate) fn proof(&self, htm: &str, htu: &str, tag: &str) -> String {
        self.proof_with(htm, htu, tag, json!({}))
    }

    pub(crate) fn proof_with(&self, htm: &str, htu: &str, tag: &str, extra: Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.0.public_jwk()});
        let mut claims = json!({"jti": format!("jti-{tag}"), "htm": htm, "htu": htu, "iat": T0});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.0.sign_with_header(&header, &claims).unwrap()
    }
}

fn token_url() -> String {
    format!("{ISSUER}/oauth/token")
}

fn error_code(response: &OAuthResponse) -> Option<String> {
    response.json_body().and_then(|b| b["error"].as_str().map(str::to_owned))
}

fn client_credentials() -> OAuthRequest {
    post("grant_type=client_credentials&client_id=machine&client_secret=machine-secret", None)
}

#[tokio::test]
async fn the_token_endpoint_checks_the_proof_and_binds_the_tokens() {
    let t = TestServer::new().await;
    assert_eq!(t.server.policy().endpoint_url(&t.server.policy().paths().token), token_url());
    let key = Key::new();
    let mut bound_client = machine_client();
    bound_client.id = "bound".into();
    bound_client.dpop_bound_access_tokens = true;
    t.store.put_client(&bound_client).await.unwrap();
    let bound_request = post("grant_type=client_credentials&client_id=bound&client_secret=machine-secret", None);

    let rows: Vec<(&str, OAuthRequest, Result<&str, &str>)> = vec![
        ("no proof: a bearer token", client_credentials(), Ok("Bearer")),
        (
            "a proof: a DPoP token",
            client_credentials().with_header("DPoP", &key.proof("POST", &token_url(), "a")),
            Ok("DPoP"),
        ),
        (
            "the same proof again",
            client_credentials().with_header("DPoP", &key.proof("POST", &token_url(), "a")),
            Err("invalid_dpop_proof"),
        ),
        (
            "two DPoP headers",
            client_credentials()
                .with_header("DPoP", &key.proof("POST", &token_url(), "b"))
                .with_header("DPoP", &key.proof("POST", &token_url(), "c")),
            Err("invalid_dpop_proof"),
        ),
        (
            "a proof for another endpoint",
            client_credentials().with_header("DPoP", &key.proof("POST", &format!("{ISSUER}/introspect"), "d")),
            Err("invalid_dpop_proof"),
        ),
        (
            "a proof for GET",
            client_credentials().with_header("DPoP", &key.proof("GET", &token_url(), "e")),
            Err("invalid_dpop_proof"),
        ),
        ("not a JWT", client_credentials().with_header("DPoP", "not-a-jwt"), Err("invalid_dpop_proof")),
        ("dpop_bound_access_tokens without a proof", bound_request.clone(), Err("invalid_dpop_proof")),
        (
            "dpop_bound_access_tokens with a proof",
            bound_request.with_header("DPoP", &key.proof("POST", &token_url(), "f")),
            Ok("DPoP"),
        ),
    ];
    for (label, req, expected) in rows {
        let response = t.server.token(&req).await;
        let body = response.json_body().unwrap();
        match expected {
            Ok(token_type) => {
                assert_eq!(response.status, 200, "{label}: {body}");
                assert_eq!(body["token_type"], token_type, "{label}");
                let client = if label.contains("dpop_bound") { "bound" } else { "machine" };
                let form = format!(
                    "token={}&client_id={client}&client_secret=machine-secret",
                    body["access_token"].as_str().unwrap()
                );
                let introspected = t.server.introspect(&post(&form, None)).await;
                let introspected = introspected.json_body().unwrap();
                if token_type == "DPoP" {
                    assert_eq!(introspected["cnf"], json!({"jkt": key.jkt()}), "{label}: {introspected}");
                    assert_eq!(introspected["token_type"], "DPoP", "{label}");
                } else {
                    assert!(introspected.get("cnf").is_none(), "{label}: {introspected}");
                }
            }
            Err(code) => {
                assert_eq!((response.status, body["error"].as_str()), (400, Some(code)), "{label}: {body}");
            }
        }
    }
}

#[tokio::test]
async fn with_nonces_on_a_proof_needs_a_current_nonce() {
    let t = TestServer::new().await;
    let nonces = NonceSource::new([9; 32], 60);
    let server = t.server.with_dpop_nonces(nonces.clone());
    let key = Key::new();
    let response =
        server.token(&client_credentials().with_header("DPoP", &key.proof("POST", &token_url(), "n1"))).await;
    assert_eq!((response.status, error_code(&response).as_deref()), (400, Some("use_dpop_nonce")));
    let nonce = response.header("dpop-nonce").expect("DPoP-Nonce").to_owned();
    assert!(nonces.accepts(&nonce, T0));
    let stale = NonceSource::new([8; 32], 60).current(T0);
    let response = server
        .token(
            &client_credentials()
                .with_header("DPoP", &key.proof_with("POST", &token_url(), "n2", json!({"nonce": stale}))),
        )
        .await;
    assert_eq!(error_code(&response).as_deref(), Some("use_dpop_nonce"), "a nonce of another key");
    let response = server
        .token(
            &client_credentials()
                .with_header("DPoP", &key.proof_with("POST", &token_url(), "n3", json!({"nonce": nonce}))),
        )
        .await;
    assert_eq!(response.status, 200, "{:?}", response.json_body());
    assert_eq!(response.json_body().unwrap()["token_type"], "DPoP");
}

/// A public client's code, authorized with `extra` query parameters.
async fn public_code(t: &TestServer, extra: &str) -> String {
    let query = format!(
        "client_id=public_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&scope=email&code_challenge={}&code_challenge_method=S256{extra}",
        challenge()
    );
    code_for(t, &query).await
}

fn exchange(code: &str) -> OAuthRequest {
    post(
        &format!(
            "grant_type=authorization_code&client_id=public_client&code={code}&code_verifier={VERIFIER}&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect"
        ),
        None,
    )
}

#[tokio::test]
async fn dpop_jkt_binds_the_code_to_the_key() {
    let t = TestServer::new().await;
    let (key, other) = (Key::new(), Key::new());
    let rows: Vec<(&str, Option<&Key>, Result<(), &str>)> = vec![
        ("no proof", None, Err("invalid_dpop_proof")),
        ("a proof of another key", Some(&other), Err("invalid_grant")),
        ("a proof of the dpop_jkt key", Some(&key), Ok(())),
    ];
    for (i, (label, proof_key, expected)) in rows.into_iter().enumerate() {
        let code = public_code(&t, &format!("&dpop_jkt={}", key.jkt())).await;
        let mut req = exchange(&code);
        if let Some(k) = proof_key {
            req = req.with_header("DPoP", &k.proof("POST", &token_url(), &format!("jkt{i}")));
        }
        let response = t.server.token(&req).await;
        match expected {
            Ok(()) => {
                assert_eq!(response.status, 200, "{label}: {:?}", response.json_body());
                assert_eq!(response.json_body().unwrap()["token_type"], "DPoP", "{label}");
            }
            Err(code) => assert_eq!(error_code(&response).as_deref(), Some(code), "{label}"),
        }
    }
    for bad in ["abc", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X=", &"a".repeat(44)] {
        let query = format!(
            "client_id=public_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&scope=email&code_challenge={}&code_challenge_method=S256&dpop_jkt={bad}",
            challenge()
        );
        let error = t.server.authorize(&OAuthRequest::get(&query).secure()).await.expect_err(bad);
        let location = error.into_response().location().map(str::to_owned).unwrap_or_default();
        assert!(location.contains("error=invalid_request"), "{bad}: {location}");
    }
}

#[tokio::test]
async fn a_bound_refresh_token_needs_its_key_and_a_refusal_changes_nothing() {
    let t = TestServer::new().await;
    let (key, other) = (Key::new(), Key::new());
    let code = public_code(&t, "").await;
    let response = t.server.token(&exchange(&code).with_header("DPoP", &key.proof("POST", &token_url(), "x0"))).await;
    let body = response.json_body().unwrap();
    assert_eq!(body["token_type"], "DPoP", "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh_req =
        || post(&format!("grant_type=refresh_token&client_id=public_client&refresh_token={refresh}"), None);
    let rows: Vec<(&str, OAuthRequest, &str)> = vec![
        ("no proof", refresh_req(), "invalid_dpop_proof"),
        ("another key", refresh_req().with_header("DPoP", &other.proof("POST", &token_url(), "x1")), "invalid_grant"),
        (
            "a proof for another URI",
            refresh_req().with_header("DPoP", &key.proof("POST", &format!("{ISSUER}/other"), "x2")),
            "invalid_dpop_proof",
        ),
    ];
    for (label, req, code) in rows {
        let response = t.server.token(&req).await;
        assert_eq!((response.status, error_code(&response).as_deref()), (400, Some(code)), "{label}");
    }
    // Nothing was rotated or revoked: the token still refreshes, once, with its key.
    let response = t.server.token(&refresh_req().with_header("DPoP", &key.proof("POST", &token_url(), "x3"))).await;
    let body = response.json_body().unwrap();
    assert_eq!((response.status, body["token_type"].as_str()), (200, Some("DPoP")), "{body}");
    let next = body["refresh_token"].as_str().unwrap();
    let response = t
        .server
        .token(
            &post(&format!("grant_type=refresh_token&client_id=public_client&refresh_token={next}"), None)
                .with_header("DPoP", &key.proof("POST", &token_url(), "x4")),
        )
        .await;
    assert_eq!(response.status, 200, "the rotated token is bound to the same key");
}

#[tokio::test]
async fn a_confidential_clients_refresh_token_is_not_bound_but_its_access_tokens_are() {
    let t = TestServer::new().await;
    let key = Key::new();
    let code = code_for(&t, &crate::support::demo_query("")).await;
    let req = post(
        &format!("grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect"),
        Some(&crate::support::demo_auth()),
    )
    .with_header("DPoP", &key.proof("POST", &token_url(), "c0"));
    let body = t.server.token(&req).await.json_body().unwrap();
    assert_eq!(body["token_type"], "DPoP", "{body}");
    let refresh = body["refresh_token"].as_str().unwrap();
    let response = t
        .server
        .token(&post(&format!("grant_type=refresh_token&refresh_token={refresh}"), Some(&crate::support::demo_auth())))
        .await;
    let body = response.json_body().unwrap();
    assert_eq!((response.status, body["token_type"].as_str()), (200, Some("Bearer")), "{body}");
}

/// A resource request at `path` presenting `token` in `scheme`, with an optional proof.
fn resource_req(path: &str, scheme: &str, token: &str, proof: Option<&str>) -> OAuthRequest {
    let mut req = OAuthRequest::get("").secure().with_header("Authorization", &format!("{scheme} {token}"));
    req.path = path.to_owned();
    if let Some(proof) = proof {
        req = req.with_header("DPoP", proof);
    }
    req
}

fn ath(token: &str) -> Value {
    json!({"ath": URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()))})
}

#[tokio::test]
async fn resources_take_dpop_tokens_with_proofs_and_refuse_the_bearer_downgrade() {
    for format in [AccessTokenFormat::Opaque, AccessTokenFormat::Jwt] {
        let t = TestServer::with_policy(|p| p.access_token_format(format)).await;
        t.server
            .set_keys(Some(KeySet::new(vec![SigningKey::generate("k1", SigningAlg::ES256).unwrap()], "k1").unwrap()));
        let (key, other) = (Key::new(), Key::new());
        let issue = |proof: Option<String>| {
            let mut req = client_credentials();
            if let Some(proof) = proof {
                req = req.with_header("DPoP", &proof);
            }
            req
        };
        let body = t.server.token(&issue(Some(key.proof("POST", &token_url(), "r0")))).await.json_body().unwrap();
        let bound = body["access_token"].as_str().unwrap().to_owned();
        let plain =
            t.server.token(&issue(None)).await.json_body().unwrap()["access_token"].as_str().unwrap().to_owned();
        if format == AccessTokenFormat::Jwt {
            let payload = bound.split('.').nth(1).unwrap();
            let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            assert_eq!(claims["cnf"], json!({"jkt": key.jkt()}), "{format:?}: cnf.jkt in the JWT");
        }
        let api = format!("{ISSUER}/api/me");
        let good = key.proof_with("GET", &api, "r1", ath(&bound));
        type Row = (&'static str, OAuthRequest, Result<TokenScheme, (u16, &'static str, &'static str)>);
        let rows: Vec<Row> = vec![
            ("DPoP token with its proof", resource_req("/api/me", "DPoP", &bound, Some(&good)), Ok(TokenScheme::Dpop)),
            (
                "the same proof again",
                resource_req("/api/me", "DPoP", &bound, Some(&good)),
                Err((401, "invalid_dpop_proof", "DPoP ")),
            ),
            (
                "bound token as Bearer",
                resource_req("/api/me", "Bearer", &bound, None),
                Err((401, "invalid_token", "DPoP ")),
            ),
            (
                "DPoP scheme without a proof",
                resource_req("/api/me", "DPoP", &bound, None),
                Err((401, "invalid_dpop_proof", "DPoP ")),
            ),
            (
                "a proof without ath",
                resource_req("/api/me", "DPoP", &bound, Some(&key.proof("GET", &api, "r2"))),
                Err((401, "invalid_dpop_proof", "DPoP ")),
            ),
            (
                "a proof for another path",
                resource_req("/api/other", "DPoP", &bound, Some(&key.proof_with("GET", &api, "r3", ath(&bound)))),
                Err((401, "invalid_dpop_proof", "DPoP ")),
            ),
            (
                "a proof of another key",
                resource_req("/api/me", "DPoP", &bound, Some(&other.proof_with("GET", &api, "r4", ath(&bound)))),
                Err((401, "invalid_token", "DPoP ")),
            ),
            (
                "an unbound token in the DPoP scheme",
                resource_req("/api/me", "DPoP", &plain, Some(&key.proof_with("GET", &api, "r5", ath(&plain)))),
                Err((401, "invalid_token", "DPoP ")),
            ),
            ("an unbound token as Bearer", resource_req("/api/me", "Bearer", &plain, None), Ok(TokenScheme::Bearer)),
            (
                "an unknown token as Bearer",
                resource_req("/api/me", "Bearer", "g.x", None),
                Err((401, "invalid_token", "Bearer ")),
            ),
        ];
        for (label, req, expected) in rows {
            let got = t.server.authenticate_resource(&req).await;
            match (expected, got) {
                (Ok(scheme), Ok(access)) => assert_eq!(access.scheme, scheme, "{format:?} {label}"),
                (Err((status, code, challenge)), Err(response)) => {
                    assert_eq!(
                        (response.status, error_code(&response).as_deref()),
                        (status, Some(code)),
                        "{format:?} {label}"
                    );
                    let www = response.header("www-authenticate").unwrap_or_default();
                    assert!(www.starts_with(challenge), "{format:?} {label}: {www}");
                    if challenge == "DPoP " {
                        assert!(
                            www.contains(&format!("error=\"{code}\""))
                                && www.contains("algs=\"ES256 EdDSA PS256 RS256\""),
                            "{label}: {www}"
                        );
                    }
                }
                (expected, got) => panic!("{format:?} {label}: expected {expected:?}, got {:?}", got.map(|a| a.scheme)),
            }
        }
        let anonymous = t.server.authenticate_resource(&OAuthRequest::get("").secure()).await.unwrap_err();
        let challenges: Vec<_> = anonymous
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| v.to_string())
            .collect();
        assert!(challenges.iter().any(|c| c.starts_with("Bearer realm=")), "{challenges:?}");
        assert!(challenges.iter().any(|c| c.starts_with("DPoP algs=")), "{challenges:?}");
    }
}

#[tokio::test]
async fn userinfo_takes_dpop_proofs_for_its_own_url_once() {
    let t = TestServer::new().await;
    t.server.set_keys(Some(KeySet::new(vec![SigningKey::generate("k1", SigningAlg::ES256).unwrap()], "k1").unwrap()));
    let key = Key::new();
    let mut client = public_client();
    client.scopes = oauth_core::testing::scopes("openid email");
    t.store.put_client(&client).await.unwrap();
    let query = format!(
        "client_id=public_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&scope=openid%20email&code_challenge={}&code_challenge_method=S256",
        challenge()
    );
    let code = code_for(&t, &query).await;
    let body = t
        .server
        .token(&exchange(&code).with_header("DPoP", &key.proof("POST", &token_url(), "u0")))
        .await
        .json_body()
        .unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let url = t.server.policy().endpoint_url(&t.server.policy().paths().userinfo);
    let proof = key.proof_with("GET", &url, "u1", ath(&token));
    // The adapter's path does not matter: UserInfo's htu is its published URL.
    let response = t.server.userinfo(&resource_req("/whatever", "DPoP", &token, Some(&proof))).await;
    assert_eq!(response.status, 200, "{:?}", response.json_body());
    assert_eq!(response.json_body().unwrap()["sub"], "user-admin");
    let replay = t.server.userinfo(&resource_req("/whatever", "DPoP", &token, Some(&proof))).await;
    assert_eq!(
        (replay.status, error_code(&replay).as_deref()),
        (401, Some("invalid_dpop_proof")),
        "replayed at userinfo"
    );
    let downgrade = t.server.userinfo(&resource_req("", "Bearer", &token, None)).await;
    assert_eq!((downgrade.status, error_code(&downgrade).as_deref()), (401, Some("invalid_token")));
    assert!(downgrade.header("www-authenticate").unwrap().starts_with("DPoP "));
}

#[tokio::test]
async fn metadata_lists_the_dpop_algorithms() {
    let t = TestServer::with_policy(|p| p.dpop(oauth_core::dpop::DpopRules::new(&["ES256", "EdDSA"], 60, 5).unwrap()))
        .await;
    assert_eq!(t.server.metadata()["dpop_signing_alg_values_supported"], json!(["ES256", "EdDSA"]));
    let key = SigningKey::generate("r", SigningAlg::RS256).unwrap();
    let header = json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": key.public_jwk()});
    let claims = json!({"jti": "rs", "htm": "POST", "htu": token_url(), "iat": T0});
    let response = t
        .server
        .token(&client_credentials().with_header("DPoP", &key.sign_with_header(&header, &claims).unwrap()))
        .await;
    assert_eq!(error_code(&response).as_deref(), Some("invalid_dpop_proof"), "RS256 is not allowed here");
}

#[tokio::test]
async fn a_bound_familys_grace_retry_needs_its_key() {
    let t = TestServer::with_policy(|p| p.refresh_grace(10)).await;
    let (key, other) = (Key::new(), Key::new());
    let code = public_code(&t, "").await;
    let body = t
        .server
        .token(&exchange(&code).with_header("DPoP", &key.proof("POST", &token_url(), "g0")))
        .await
        .json_body()
        .unwrap();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh_req =
        || post(&format!("grant_type=refresh_token&client_id=public_client&refresh_token={refresh}"), None);
    let first = t.server.token(&refresh_req().with_header("DPoP", &key.proof("POST", &token_url(), "g1"))).await;
    assert_eq!(first.status, 200);
    // A retry of the rotated token within the grace, with another key: no tokens.
    let response = t.server.token(&refresh_req().with_header("DPoP", &other.proof("POST", &token_url(), "g2"))).await;
    assert_eq!((response.status, error_code(&response).as_deref()), (400, Some("invalid_grant")));
    assert!(response.json_body().unwrap().get("access_token").is_none());
}

/// A proof sent with a pushed authorization request (RFC 9449 §10.1) binds
/// the code as `dpop_jkt` does: the exchange needs a proof of that key. A
/// `dpop_jkt` that is not the proof's key is refused at the push, and a
/// proof for another URL than the PAR endpoint's is refused.
#[tokio::test]
async fn a_proof_at_par_binds_the_code_to_its_key() {
    use crate::support::{demo_auth, demo_query};
    let t = TestServer::new().await;
    let (key, other) = (Key::new(), Key::new());
    let par_url = format!("{ISSUER}/oauth/par");
    let push = |extra: String, proof: String| {
        post(
            &demo_query(&format!("code_challenge={}&code_challenge_method=S256{extra}", challenge())),
            Some(&demo_auth()),
        )
        .with_header("DPoP", &proof)
    };
    let refused = [
        ("dpop_jkt of another key", push(format!("&dpop_jkt={}", other.jkt()), key.proof("POST", &par_url, "par-1"))),
        ("a proof for the token endpoint", push(String::new(), key.proof("POST", &token_url(), "par-2"))),
    ];
    for (label, req) in refused {
        let response = t.server.par(&req).await;
        assert_eq!((response.status, error_code(&response).as_deref()), (400, Some("invalid_dpop_proof")), "{label}");
    }

    let rows: Vec<(&str, Option<&Key>, Result<(), &str>)> = vec![
        ("no proof", None, Err("invalid_dpop_proof")),
        ("a proof of another key", Some(&other), Err("invalid_grant")),
        ("a proof of the pushed key", Some(&key), Ok(())),
    ];
    for (i, (label, proof_key, expected)) in rows.into_iter().enumerate() {
        let response = t.server.par(&push(String::new(), key.proof("POST", &par_url, &format!("par-ok-{i}")))).await;
        assert_eq!(response.status, 201, "{label}: {:?}", response.json_body());
        let request_uri = response.json_body().unwrap()["request_uri"].as_str().unwrap().to_owned();
        let query = format!("client_id=test_client&request_uri={}", urlencoding(&request_uri));
        let code = code_for(&t, &query).await;
        let body = format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect"
        );
        let mut req = post(&body, Some(&demo_auth()));
        if let Some(k) = proof_key {
            req = req.with_header("DPoP", &k.proof("POST", &token_url(), &format!("par-token-{i}")));
        }
        let response = t.server.token(&req).await;
        match expected {
            Ok(()) => {
                assert_eq!(response.status, 200, "{label}: {:?}", response.json_body());
                assert_eq!(response.json_body().unwrap()["token_type"], "DPoP", "{label}");
            }
            Err(code) => assert_eq!(error_code(&response).as_deref(), Some(code), "{label}"),
        }
    }
}

pub(crate) fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
