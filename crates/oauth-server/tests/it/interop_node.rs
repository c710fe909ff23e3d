//! panva's `openid-client` (Node.js, `tools/interop-node/interop.mjs`) as a
//! client nobody on this project wrote, against the real binary: discovery,
//! the code flow with PKCE S256, state, nonce and RFC 9207 `iss`, ID tokens
//! checked against the JWKS for each signing algorithm, UserInfo,
//! introspection, refresh, revocation, and client_credentials; and DPoP
//! (RFC 9449) with openid-client's own proofs: `dpop_jkt`, bound tokens at
//! UserInfo, introspection and refresh, a public client's bound refresh
//! token, the Bearer downgrade refused, and server nonces answered; pushed
//! authorization requests (RFC 9126) with DPoP, `private_key_jwt` (RFC 7523)
//! with a key made here and its assertions replayed, a FAPI 2.0 client, and
//! token exchange (RFC 8693) with `genericGrantRequest`.
//!
//! The script does the client side; this test plays the browser: when the
//! script prints the authorization URL it built, [`browser_flow_redirect`]
//! logs in and consents, and the URL the browser is sent back to goes to the
//! script's stdin (or, for a request the server should answer at once, the
//! `Location` of one request to it). The script reports each passed scenario with facts that
//! are checked here too.
//!
//! It needs `node` (20 or later) and `npm ci --prefix tools/interop-node`:
//! without them it fails in CI and skips loudly elsewhere.

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_storage_redis::testing::in_ci;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use crate::dpop::Key;
use crate::support::{basic, browser_flow_redirect, http, spawn_with_extra_config};

/// The npm package holding the script, with its `node_modules` once installed.
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/interop-node");

/// The demo client's redirect URI (nothing listens there: the test's browser stops at the redirect).
const REDIRECT: &str = "https://www.example.com/redirect";

/// The longest the script may stay silent, or take to exit.
const PATIENCE: Duration = Duration::from_secs(60);

/// A client for the client_credentials scenario, next to the demo's `test_client`.
const ROBOT: &str = r#"
[[clients]]
id = "interop_robot"
secret = "interop-robot-secret"
auth_method = "client_secret_post"
grant_types = ["client_credentials"]
scopes = "read write"
"#;

#[tokio::test]
async fn openid_client_drives_the_binary_for_each_algorithm() {
    if !node_ready("openid_client_drives_the_binary_for_each_algorithm") {
        return;
    }
    for alg in ["RS256", "ES256", "EdDSA"] {
        let server = spawn_with_extra_config(ROBOT, &[("OAUTH__OIDC__EPHEMERAL_KEY", alg)]).await;
        let base = &server.base;
        let env = [
            ("ID_TOKEN_ALG", alg),
            ("CODE_CLIENT_ID", "test_client"),
            ("CODE_CLIENT_SECRET", "password"),
            ("CODE_REDIRECT_URI", REDIRECT),
            ("CC_CLIENT_ID", "interop_robot"),
            ("CC_CLIENT_SECRET", "interop-robot-secret"),
            ("CC_SCOPE", "read"),
        ];
        let facts = run_node(base, &["code", "client_credentials"], &env).await;

        let code = &facts[0];
        assert_eq!(code["sub"], "admin", "{alg}");
        assert_eq!(code["iss"], base.as_str(), "{alg}: RFC 9207 iss in the authorization response");
        assert_eq!(code["id_token_alg"], alg, "{alg}: the ID token openid-client verified");
        assert_eq!(code["refreshed_id_token_alg"], alg, "{alg}");
        let cc = &facts[1];
        assert_eq!(cc["scope"], "read", "{alg}");

        // What the script revoked is refused to anyone, not only in its own view.
        for fact in [code, cc] {
            let tokens = fact["revoked_access_tokens"].as_array().expect("revoked_access_tokens");
            assert!(!tokens.is_empty());
            for token in tokens {
                let r = http()
                    .get(format!("{base}/oauth/userinfo"))
                    .bearer_auth(token.as_str().unwrap())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 401, "{alg}: a revoked access token at UserInfo");
            }
        }
    }
}

/// The DPoP scenarios' clients, next to the demo's `test_client`: a public
/// client (PKCE), and a confidential one whose every token must be DPoP-bound.
const DPOP_CLIENTS: &str = r#"
[[clients]]
id = "interop_spa"
auth_method = "none"
redirect_uris = ["https://www.example.com/redirect"]
grant_types = ["authorization_code", "refresh_token"]
scopes = "openid email"

[[clients]]
id = "interop_bound"
secret = "interop-bound-secret"
auth_method = "client_secret_basic"
redirect_uris = ["https://www.example.com/redirect"]
grant_types = ["authorization_code", "refresh_token", "client_credentials"]
scopes = "openid email read"
dpop_bound_access_tokens = true
"#;

/// The DPoP scenarios' clients' settings for the script.
const DPOP_ENV: [(&str, &str); 8] = [
    ("CODE_CLIENT_ID", "test_client"),
    ("CODE_CLIENT_SECRET", "password"),
    ("CODE_REDIRECT_URI", REDIRECT),
    ("PUBLIC_CLIENT_ID", "interop_spa"),
    ("PUBLIC_REDIRECT_URI", REDIRECT),
    ("BOUND_CLIENT_ID", "interop_bound"),
    ("BOUND_CLIENT_SECRET", "interop-bound-secret"),
    ("BOUND_REDIRECT_URI", REDIRECT),
];

#[tokio::test]
async fn openid_client_binds_tokens_with_dpop() {
    if !node_ready("openid_client_binds_tokens_with_dpop") {
        return;
    }
    let server = spawn_with_extra_config(DPOP_CLIENTS, &[]).await;
    let base = &server.base;
    let facts = run_node(base, &["dpop_code", "dpop_public"], &DPOP_ENV).await;

    // The confidential client: code bound by dpop_jkt, tokens bound to its ES256 key.
    let code = &facts[0];
    let jkt = thumbprint(&code["jwk"]);
    assert_eq!(code["jwk"]["kty"], "EC");
    assert_eq!(code["jkt"], jkt.as_str(), "openid-client's calculateThumbprint() is RFC 7638's");
    assert_eq!(code["authorization_dpop_jkt"], jkt.as_str(), "the authorization URL's dpop_jkt");
    assert_eq!((code["token_type"].as_str(), code["refreshed_token_type"].as_str()), (Some("dpop"), Some("dpop")));
    let tokens = code["access_tokens"].as_array().expect("access_tokens");
    assert_eq!(tokens.len(), 2);
    for token in tokens {
        let token = token.as_str().unwrap();
        let introspected = introspect(base, &basic("test_client", "password"), token).await;
        assert_eq!(introspected["active"], true, "{introspected}");
        assert_eq!(introspected["token_type"], "DPoP", "{introspected}");
        assert_eq!(introspected["cnf"]["jkt"], jkt.as_str(), "{introspected}");
        assert_bearer_refused(base, token).await;
    }
    assert_eq!(
        code["wrong_key"],
        serde_json::json!({"name": "ResponseBodyError", "error": "invalid_grant", "status": 400}),
        "a code bound by dpop_jkt, exchanged with another key's proof"
    );
    // What openid-client saw of the downgrade.
    let downgrade = &code["downgrade"];
    assert_eq!(downgrade["status"], 401, "{downgrade}");
    assert_eq!(downgrade["schemes"], serde_json::json!(["dpop"]), "{downgrade}");
    assert_eq!(downgrade["error"], "invalid_token", "{downgrade}");
    assert_eq!(downgrade["algs"], "ES256 EdDSA PS256 RS256", "{downgrade}");

    // The public client: its refresh token is bound to its Ed25519 key.
    let public = &facts[1];
    assert_eq!((public["jwk"]["kty"].as_str(), public["jwk"]["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
    assert_eq!(public["jkt"], thumbprint(&public["jwk"]).as_str());
    assert_ne!(thumbprint(&public["other_jwk"]), thumbprint(&public["jwk"]));
    assert_eq!(
        public["refused"],
        serde_json::json!({"name": "ResponseBodyError", "error": "invalid_grant", "status": 400}),
        "the refresh with another key, as openid-client raised it"
    );
    assert_bearer_refused(base, public["access_token"].as_str().unwrap()).await;
    let refresh = public["refresh_token"].as_str().unwrap();
    let token_url = format!("{base}/oauth/token");
    let body = format!("grant_type=refresh_token&client_id=interop_spa&refresh_token={refresh}");
    let (status, answer) = token_request(&token_url, None, &body).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_dpop_proof")), "no proof: {answer}");
    let proof = Key::new(31).proof("POST", &token_url, serde_json::json!({}));
    let (status, answer) = token_request(&token_url, Some(&proof), &body).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "another key: {answer}");
}

#[tokio::test]
async fn openid_client_answers_the_servers_dpop_nonces() {
    if !node_ready("openid_client_answers_the_servers_dpop_nonces") {
        return;
    }
    let server = spawn_with_extra_config(DPOP_CLIENTS, &[("OAUTH__DPOP__NONCE", "true")]).await;
    let base = &server.base;
    let facts = run_node(base, &["dpop_nonce"], &DPOP_ENV).await;
    let nonce = &facts[0];
    assert_eq!(nonce["jwk"]["kty"], "RSA");
    let jkt = thumbprint(&nonce["jwk"]);
    assert_eq!(nonce["jkt"], jkt.as_str());
    assert_eq!(
        nonce["without"],
        serde_json::json!({"name": "ResponseBodyError", "error": "invalid_dpop_proof", "status": 400}),
        "dpop_bound_access_tokens: a token request without a proof"
    );

    // What openid-client sent: the exchange without a nonce, answered with
    // one; the same exchange again with it; UserInfo with that nonce; UserInfo
    // with a new handle of the key, without a nonce, challenged, then again
    // with the nonce; the refresh, with a nonce at the first try.
    let requests = nonce["requests"].as_array().expect("requests");
    let metadata: Value =
        http().get(format!("{base}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let token_url = metadata["token_endpoint"].as_str().expect("token_endpoint");
    let userinfo = metadata["userinfo_endpoint"].as_str().expect("userinfo_endpoint");
    let seen: Vec<(&str, &str, bool, i64, Option<&str>)> = requests
        .iter()
        .map(|r| {
            assert_eq!(r["url"], r["htu"], "htu is the request's URL: {r}");
            let nonce = r["nonce"].as_str();
            // The refusals answer with the nonce to use; the retry uses it.
            if r["error"] == "use_dpop_nonce" {
                assert!(r["dpop_nonce"].is_string(), "a DPoP-Nonce header: {r}");
            }
            (
                r["url"].as_str().unwrap(),
                r["htm"].as_str().unwrap(),
                nonce.is_some(),
                r["status"].as_i64().unwrap(),
                r["error"].as_str(),
            )
        })
        .collect();
    let nonces = Some("use_dpop_nonce");
    assert_eq!(
        seen,
        [
            (token_url, "POST", false, 400, nonces),
            (token_url, "POST", true, 200, None),
            (userinfo, "GET", true, 200, None),
            (userinfo, "GET", false, 401, nonces),
            (userinfo, "GET", true, 200, None),
            (token_url, "POST", true, 200, None),
        ],
        "{requests:#?}"
    );
    for (refusal, retry) in [(0, 1), (3, 4)] {
        assert_eq!(requests[retry]["nonce"], requests[refusal]["dpop_nonce"], "{requests:#?}");
    }

    let token = nonce["access_token"].as_str().unwrap();
    let introspected = introspect(base, &basic("interop_bound", "interop-bound-secret"), token).await;
    assert_eq!(introspected["cnf"]["jkt"], jkt.as_str(), "{introspected}");
    assert_bearer_refused(base, token).await;
}

/// PAR (RFC 9126) with DPoP, by openid-client's `buildAuthorizationUrlWithPAR`
/// for the demo's `test_client` (client_secret_basic).
#[tokio::test]
async fn openid_client_pushes_requests_with_dpop() {
    if !node_ready("openid_client_pushes_requests_with_dpop") {
        return;
    }
    let server = spawn_with_extra_config("", &[]).await;
    let base = &server.base;
    let facts = run_node(base, &["par_dpop"], &DPOP_ENV[..3]).await;
    let par = &facts[0];
    let jkt = thumbprint(&par["jwk"]);
    assert_eq!(par["jkt"], jkt.as_str());
    assert_eq!(par["token_type"], "dpop");
    assert_eq!(
        par["wrong_key"],
        serde_json::json!({"name": "ResponseBodyError", "error": "invalid_grant", "status": 400}),
        "a code pushed with a proof of one key, exchanged with another key's proof"
    );

    // What openid-client sent: each push carried a proof of its key, with the
    // PAR endpoint as htu; the first code's exchange another key's.
    let par_url = endpoint(base, "pushed_authorization_request_endpoint").await;
    let token_url = endpoint(base, "token_endpoint").await;
    let userinfo = format!("{base}/oauth/userinfo");
    // (endpoint, status, whether the proof was of the scenario's key)
    let proofs = proofs(&par["requests"]);
    let seen: Vec<(&str, i64, bool)> =
        proofs.iter().map(|(url, status, key)| (url.as_str(), *status, *key == jkt)).collect();
    assert_eq!(
        seen,
        [
            (par_url.as_str(), 201, true),
            (token_url.as_str(), 400, false),
            (par_url.as_str(), 201, true),
            (token_url.as_str(), 200, true),
            (userinfo.as_str(), 200, true),
        ],
        "{:#?}",
        par["requests"]
    );

    let token = par["access_token"].as_str().unwrap();
    let introspected = introspect(base, &basic("test_client", "password"), token).await;
    assert_eq!(introspected["cnf"]["jkt"], jkt.as_str(), "{introspected}");
    assert_bearer_refused(base, token).await;

    // The request_uri openid-client's browser used is spent: the same URL
    // again is the error page, not a login.
    let url = par["authorization_url"].as_str().unwrap();
    let r = http().get(url).send().await.unwrap();
    assert_eq!(r.status(), 400, "{url} used again");
    let page = r.text().await.unwrap();
    assert!(page.contains("invalid_request_uri"), "{page}");
}

/// An ES256 client key made here with the `p256` crate: its private half
/// goes to openid-client (PKCS#8 PEM), its public JWK into the client's
/// registered `jwks`.
struct ClientKey {
    key: p256::SecretKey,
    kid: &'static str,
}

impl ClientKey {
    fn new(kid: &'static str) -> Self {
        Self { key: p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng), kid }
    }

    fn pem(&self) -> String {
        use p256::pkcs8::EncodePrivateKey as _;
        self.key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap().to_string()
    }

    /// The registration's `jwks` line (a TOML inline table).
    fn jwks(&self) -> String {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let point = self.key.public_key().to_encoded_point(false);
        let (x, y) = (URL_SAFE_NO_PAD.encode(point.x().unwrap()), URL_SAFE_NO_PAD.encode(point.y().unwrap()));
        format!(
            r#"jwks = {{ keys = [ {{ kty = "EC", crv = "P-256", x = "{x}", y = "{y}", kid = "{}" }} ] }}"#,
            self.kid
        )
    }

    /// A client assertion signed here (RFC 7523), `jti` new each time.
    fn assertion(&self, client: &str, aud: &str) -> String {
        use p256::ecdsa::signature::Signer as _;
        let header = serde_json::json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"});
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let jti =
            URL_SAFE_NO_PAD.encode(p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng).to_bytes());
        let claims =
            serde_json::json!({"iss": client, "sub": client, "aud": aud, "jti": jti, "iat": now, "exp": now + 60});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(&self.key).sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// The form fields of a client assertion.
fn assertion_form(assertion: &str) -> String {
    format!(
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
    )
}

/// A `private_key_jwt` client for the code flow (and `grants`), registered with `key`.
fn pkjwt_client(id: &str, key: &ClientKey, grants: &str, extra: &str) -> String {
    format!(
        "[[clients]]\nid = \"{id}\"\nauth_method = \"private_key_jwt\"\n{}\nredirect_uris = [\"{REDIRECT}\"]\ngrant_types = [{grants}]\nscopes = \"openid email read\"\n{extra}\n",
        key.jwks()
    )
}

/// private_key_jwt (RFC 7523) by openid-client's `PrivateKeyJwt`, with a key
/// made here: client_credentials, introspection, revocation, and a code flow
/// pushed and exchanged with assertions; then the assertions it sent, replayed.
#[tokio::test]
async fn openid_client_authenticates_with_private_key_jwt() {
    if !node_ready("openid_client_authenticates_with_private_key_jwt") {
        return;
    }
    let key = ClientKey::new("interop-es256");
    let grants = r#""authorization_code", "refresh_token", "client_credentials""#;
    let server = spawn_with_extra_config(&pkjwt_client("interop_pkjwt", &key, grants, ""), &[]).await;
    let base = &server.base;
    let pem = key.pem();
    let env = [
        ("PKJWT_CLIENT_ID", "interop_pkjwt"),
        ("PKJWT_KEY_PEM", pem.as_str()),
        ("PKJWT_KEY_ID", key.kid),
        ("PKJWT_REDIRECT_URI", REDIRECT),
    ];
    let facts = run_node(base, &["private_key_jwt"], &env).await;
    let fact = &facts[0];
    assert_eq!(fact["sub"], "admin");

    // Every request of openid-client's that authenticated the client carried
    // its own assertion: ES256, our kid, iss = sub = the client, aud = the issuer.
    let requests = fact["requests"].as_array().expect("requests");
    let mut assertions = Vec::new();
    for r in requests.iter().filter(|r| r["client_assertion"].is_string()) {
        let jwt = r["client_assertion"].as_str().unwrap();
        let part = |i: usize| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(i).unwrap()).unwrap()).unwrap()
        };
        let (header, claims) = (part(0), part(1));
        assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("ES256"), Some(key.kid)), "{header}");
        assert_eq!((claims["iss"].as_str(), claims["sub"].as_str()), (Some("interop_pkjwt"), Some("interop_pkjwt")));
        assert_eq!(claims["aud"], base.as_str(), "{claims}");
        assert!(r["status"].as_i64().is_some_and(|s| (200..300).contains(&s)), "{r}");
        assertions.push((r["url"].as_str().unwrap().to_owned(), jwt.to_owned(), claims["jti"].clone()));
        // So that the replays below are refused as replays, not as expired.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!(claims["exp"].as_u64().is_some_and(|exp| exp > now + 10), "still valid for the replays: {claims}");
    }
    let [token_url, introspection, revocation, par_url] =
        ["token_endpoint", "introspection_endpoint", "revocation_endpoint", "pushed_authorization_request_endpoint"]
            .map(|name| endpoint(base, name));
    let (token_url, introspection, revocation, par_url) =
        (token_url.await, introspection.await, revocation.await, par_url.await);
    let endpoints: Vec<&str> = assertions.iter().map(|(url, ..)| url.as_str()).collect();
    assert_eq!(
        endpoints,
        [&token_url, &introspection, &revocation, &introspection, &par_url, &token_url],
        "{requests:#?}"
    );
    let mut jtis: Vec<String> = assertions.iter().map(|(.., jti)| jti.as_str().unwrap().to_owned()).collect();
    jtis.sort();
    jtis.dedup();
    assert_eq!(jtis.len(), assertions.len(), "a new jti each time");

    // Replayed, each assertion is refused: the client_credentials one at the
    // token endpoint, the push's at PAR. A new one of the same key is not.
    let (status, answer) =
        token_request(&token_url, None, &format!("grant_type=client_credentials&{}", assertion_form(&assertions[0].1)))
            .await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_client")), "replayed: {answer}");
    let push = format!(
        "response_type=code&client_id=interop_pkjwt&redirect_uri={}&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&{}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        assertion_form(&assertions[4].1)
    );
    let (status, answer) = token_request(&par_url, None, &push).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_client")), "replayed at PAR: {answer}");
    let fresh = key.assertion("interop_pkjwt", base);
    let (status, answer) =
        token_request(&token_url, None, &format!("grant_type=client_credentials&{}", assertion_form(&fresh))).await;
    assert_eq!(status, 200, "a new assertion of the same key: {answer}");

    // What the script revoked is inactive; its code flow's token works.
    let fresh = key.assertion("interop_pkjwt", base);
    let revoked = fact["revoked_access_token"].as_str().unwrap();
    let r = http()
        .post(&introspection)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={revoked}&{}", assertion_form(&fresh)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["active"], false);
    let r =
        http().get(format!("{base}/oauth/userinfo")).bearer_auth(fact["access_token"].as_str().unwrap()).send().await;
    assert_eq!(r.unwrap().status(), 200);
}

/// A FAPI 2.0 client (`fapi2 = true`): the whole flow by openid-client with
/// PAR, PKCE S256, DPoP and private_key_jwt; then a code exchanged without a
/// proof and a front-channel authorization request, both refused.
#[tokio::test]
async fn openid_client_runs_a_fapi2_flow() {
    if !node_ready("openid_client_runs_a_fapi2_flow") {
        return;
    }
    let key = ClientKey::new("interop-fapi");
    let client = pkjwt_client("interop_fapi", &key, r#""authorization_code", "refresh_token""#, "fapi2 = true");
    let server = spawn_with_extra_config(&client, &[]).await;
    let base = &server.base;
    let pem = key.pem();
    let env = [
        ("FAPI_CLIENT_ID", "interop_fapi"),
        ("FAPI_KEY_PEM", pem.as_str()),
        ("FAPI_KEY_ID", key.kid),
        ("FAPI_REDIRECT_URI", REDIRECT),
    ];
    let facts = run_node(base, &["fapi2"], &env).await;
    let fapi = &facts[0];
    let jkt = thumbprint(&fapi["jwk"]);
    assert_eq!(fapi["jkt"], jkt.as_str());
    assert_eq!(fapi["token_type"], "dpop");
    assert_eq!(
        fapi["without_proof"],
        serde_json::json!({"name": "ResponseBodyError", "error": "invalid_dpop_proof", "status": 400}),
        "a FAPI client's code exchanged without a proof"
    );
    assert_eq!(
        fapi["front_channel"],
        serde_json::json!({"error": "invalid_request", "iss": base}),
        "a FAPI client's authorization request not pushed"
    );

    // Every push and token request was authenticated by an assertion; the
    // flow's push, exchange and refresh carried proofs of the key.
    let requests = fapi["requests"].as_array().expect("requests");
    let par_url = endpoint(base, "pushed_authorization_request_endpoint").await;
    let token_url = endpoint(base, "token_endpoint").await;
    let flow: Vec<(String, bool, bool, i64)> = requests
        .iter()
        .filter(|r| r["method"] == "POST")
        .map(|r| {
            if let Some(jwk) = r["dpop"]["jwk"].as_object() {
                assert_eq!(thumbprint(&Value::Object(jwk.clone())), jkt, "{r}");
                assert_eq!(r["dpop"]["htu"], r["url"], "{r}");
            }
            (
                r["url"].as_str().unwrap().to_owned(),
                r["client_assertion"].is_string(),
                r["dpop"].is_object(),
                r["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flow,
        [
            (par_url.clone(), true, true, 201),
            (token_url.clone(), true, true, 200),
            (token_url.clone(), true, true, 200),
            (par_url, true, false, 201),
            (token_url, true, false, 400),
        ],
        "{requests:#?}"
    );

    for token in fapi["access_tokens"].as_array().expect("access_tokens") {
        let token = token.as_str().unwrap();
        let r = http()
            .post(format!("{base}/oauth/introspect"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={token}&{}", assertion_form(&key.assertion("interop_fapi", base))))
            .send()
            .await
            .unwrap();
        let introspected: Value = r.json().await.unwrap();
        assert_eq!(introspected["cnf"]["jkt"], jkt.as_str(), "{introspected}");
        assert_bearer_refused(base, token).await;
    }
}

/// The server's metadata `name` (an endpoint's URL).
async fn endpoint(base: &str, name: &str) -> String {
    let metadata: Value = http()
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    metadata[name].as_str().unwrap_or_else(|| panic!("{name} in {metadata}")).to_owned()
}

/// The requests of a script's `requests` fact that carried a DPoP proof:
/// URL, status and the RFC 7638 thumbprint of the proof's key.
fn proofs(requests: &Value) -> Vec<(String, i64, String)> {
    requests
        .as_array()
        .expect("requests")
        .iter()
        .filter(|r| r["dpop"].is_object())
        .map(|r| {
            assert_eq!(r["dpop"]["htu"], r["url"], "htu is the request's URL: {r}");
            (r["url"].as_str().unwrap().to_owned(), r["status"].as_i64().unwrap(), thumbprint(&r["dpop"]["jwk"]))
        })
        .collect()
}

/// RFC 7638: the SHA-256 JWK thumbprint of a public EC, OKP or RSA `jwk`,
/// computed here, independently of openid-client and of the server.
fn thumbprint(jwk: &Value) -> String {
    let member = |name: &str| jwk[name].as_str().unwrap_or_else(|| panic!("{name} in {jwk}")).to_owned();
    let canonical = match jwk["kty"].as_str() {
        Some("EC") => {
            format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, member("crv"), member("x"), member("y"))
        }
        Some("OKP") => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, member("crv"), member("x")),
        Some("RSA") => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, member("e"), member("n")),
        _ => panic!("not a JWK openid-client makes: {jwk}"),
    };
    URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()))
}

/// Introspection of `token` at the server at `base`, as the client `auth`.
async fn introspect(base: &str, auth: &str, token: &str) -> Value {
    http()
        .post(format!("{base}/oauth/introspect"))
        .header("Authorization", auth)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A token request to `url` with the form `body` and, if given, the `DPoP` header.
async fn token_request(url: &str, dpop: Option<&str>, body: &str) -> (u16, Value) {
    let mut request =
        http().post(url).header("Content-Type", "application/x-www-form-urlencoded").body(body.to_owned());
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A DPoP-bound `token` presented as a Bearer token at UserInfo is refused
/// with the DPoP challenge.
async fn assert_bearer_refused(base: &str, token: &str) {
    let r = http().get(format!("{base}/oauth/userinfo")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 401, "a DPoP-bound token as Bearer");
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(www.starts_with("DPoP ") && www.contains(r#"error="invalid_token""#), "{www}");
}

/// Two services for the token exchange scenario, and their `[token_exchange]` rules.
const EXCHANGE: &str = r#"
[[clients]]
id = "interop_svc_a"
secret = "interop-svc-a-secret"
auth_method = "client_secret_post"
grant_types = ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]
response_types = []
scopes = "email read"

[[clients]]
id = "interop_svc_b"
secret = "interop-svc-b-secret"
auth_method = "client_secret_post"
grant_types = ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]
response_types = []
scopes = "email read"

[[token_exchange.clients]]
client_id = "interop_svc_a"
audiences = ["https://api-a.example.com"]

[[token_exchange.clients]]
client_id = "interop_svc_b"
audiences = ["https://api-b.example.com"]
"#;

/// Token exchange (RFC 8693) with openid-client's `genericGrantRequest`: two
/// hops from the user's token, nested `act` in introspection and in the JWT
/// access token, `invalid_target`, and revocation of the user's grant.
#[tokio::test]
async fn openid_client_exchanges_tokens() {
    if !node_ready("openid_client_exchanges_tokens") {
        return;
    }
    let server = spawn_with_extra_config(EXCHANGE, &[]).await;
    let base = &server.base;
    let env = [
        ("CODE_CLIENT_ID", "test_client"),
        ("CODE_CLIENT_SECRET", "password"),
        ("CODE_REDIRECT_URI", REDIRECT),
        ("TX_A_ID", "interop_svc_a"),
        ("TX_A_SECRET", "interop-svc-a-secret"),
        ("TX_A_AUDIENCE", "https://api-a.example.com"),
        ("TX_B_ID", "interop_svc_b"),
        ("TX_B_SECRET", "interop-svc-b-secret"),
        ("TX_B_AUDIENCE", "https://api-b.example.com"),
    ];
    let facts = run_node(base, &["token_exchange"], &env).await;
    let chain = serde_json::json!({ "sub": "interop_svc_b", "act": { "sub": "interop_svc_a" } });
    let fact = &facts[0];
    assert_eq!(fact["act"], chain, "nested act in introspection: {fact}");
    assert_eq!(fact["jwt_act"], chain, "nested act in the JWT access token: {fact}");
    assert_eq!(fact["aud"], "https://api-b.example.com");
    assert_eq!(
        fact["issued_token_types"],
        serde_json::json!(["urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:jwt"])
    );
    assert_eq!(fact["active_after_revocation"], serde_json::json!([false, false]), "{fact}");
    // Refused to anyone, not only in the script's view.
    for token in fact["exchanged_access_tokens"].as_array().expect("tokens") {
        let r = http().get(format!("{base}/oauth/userinfo")).bearer_auth(token.as_str().unwrap()).send().await.unwrap();
        assert_eq!(r.status(), 401, "a token exchanged from a revoked grant at UserInfo");
    }
}

/// Whether `node` (20 or later) and the script's packages are installed; if
/// not, fails in CI and otherwise skips loudly (past the harness's capture).
fn node_ready(test: &str) -> bool {
    let why = match std::process::Command::new("node").arg("--version").output() {
        Err(e) => format!("node is not installed ({e}); install Node.js 20 or later"),
        Ok(out) if !out.status.success() => format!("`node --version` failed ({})", out.status),
        Ok(out) => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let major = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse::<u32>().ok());
            if major.is_none_or(|m| m < 20) {
                format!("node {version} is older than 20, which openid-client 6 needs")
            } else if !Path::new(DIR).join("node_modules/openid-client/package.json").is_file() {
                "tools/interop-node/node_modules is missing: run `npm ci --prefix tools/interop-node`".to_owned()
            } else {
                return true;
            }
        }
    };
    assert!(!in_ci(), "{test}: {why}, and the interop test is mandatory in CI");
    let _ = writeln!(std::io::stderr().lock(), "SKIPPING {test}: {why}");
    false
}

/// Runs the script's `scenarios` against the server at `base`, playing the
/// browser whenever it asks; asserts that it exits successfully having
/// passed each scenario, and returns each one's facts, in order.
async fn run_node(base: &str, scenarios: &[&str], env: &[(&str, &str)]) -> Vec<Value> {
    let mut child = tokio::process::Command::new("node")
        .arg(Path::new(DIR).join("interop.mjs"))
        .args(scenarios)
        .env("ISSUER", base)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    let mut done = Vec::new();
    while let Some(line) =
        tokio::time::timeout(PATIENCE, stdout.next_line()).await.expect("node said nothing for a minute").unwrap()
    {
        let event: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line from node ({e}): {line}"));
        match event["event"].as_str() {
            Some("authorize") => {
                let url = event["url"].as_str().expect("url");
                let redirect = browser_flow_redirect(base, base, url, REDIRECT).await;
                // A script that is gone cannot read it: its exit status and stderr, below, say why.
                let _ = stdin.write_all(format!("{redirect}\n").as_bytes()).await;
                let _ = stdin.flush().await;
            }
            Some("visit") => {
                // One request, no redirect followed: where the server sends the browser.
                let url = event["url"].as_str().expect("url");
                let r = http().get(url).send().await.unwrap();
                let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
                let location = location.unwrap_or_else(|| panic!("{url}: no redirect but {}", r.status()));
                let answer = url::Url::parse(url).unwrap().join(&location).unwrap();
                let _ = stdin.write_all(format!("{answer}\n").as_bytes()).await;
                let _ = stdin.flush().await;
            }
            Some("done") => done.push(event),
            _ => panic!("an unexpected line from node: {line}"),
        }
    }
    let status = tokio::time::timeout(PATIENCE, child.wait()).await.expect("node did not exit").unwrap();
    let stderr = stderr.await.unwrap();
    assert!(status.success(), "node {status}:\n{stderr}");
    let passed: Vec<&str> = done.iter().map(|e| e["scenario"].as_str().unwrap_or_default()).collect();
    assert_eq!(passed, scenarios, "every scenario reported as passed\n{stderr}");
    done
}
