//! DPoP (RFC 9449) through the real binary, with proofs signed by a P-256
//! key of the `p256` crate: bound tokens at the token endpoint (and its
//! alias), introspection, UserInfo with `Authorization: DPoP`, the Bearer
//! downgrade, a public client's bound refresh token, nonces, and one proof
//! raced across two instances on one Redis.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};

use crate::support::{basic, browser_flow, browser_flow_to, http, spawn, spawn_with_extra_config};

/// A client's P-256 DPoP key.
pub(crate) struct Key(SigningKey);

impl Key {
    pub(crate) fn new(seed: u8) -> Self {
        Self(SigningKey::from_bytes(&[seed; 32].into()).unwrap())
    }

    fn jwk(&self) -> Value {
        let point = self.0.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        })
    }

    /// RFC 7638 thumbprint, computed here independently of the server.
    pub(crate) fn jkt(&self) -> String {
        let jwk = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()))
    }

    /// An ES256 proof for `htm` `htu`, made now, with `extra` claims.
    pub(crate) fn proof(&self, htm: &str, htu: &str, extra: Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()});
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let jti = URL_SAFE_NO_PAD.encode(rand_bytes());
        let mut claims = json!({"jti": jti, "htm": htm, "htu": htu, "iat": now});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature: Signature = self.0.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// 16 bytes that differ between calls (a proof's jti).
fn rand_bytes() -> [u8; 16] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&n.to_le_bytes());
    out[8..].copy_from_slice(&(t ^ u64::from(std::process::id())).to_le_bytes());
    out
}

fn ath(token: &str) -> Value {
    json!({"ath": URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()))})
}

const AUTHORIZE: &str = "/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=s&scope=openid%20email";

async fn post_form(
    url: &str,
    auth: Option<&str>,
    dpop: &[&str],
    body: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = http().post(url).header("Content-Type", "application/x-www-form-urlencoded").body(body.to_owned());
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    for proof in dpop {
        req = req.header("DPoP", *proof);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn code_flow_introspection_and_userinfo_with_dpop() {
    let server = spawn(&[]).await;
    let base = server.base.clone();
    let key = Key::new(7);
    let auth = basic("test_client", "password");
    let metadata: Value = http()
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["dpop_signing_alg_values_supported"], json!(["ES256", "EdDSA", "PS256", "RS256"]));

    // The token endpoint's alias: htu is the URL the request went to.
    let code = browser_flow(&base, &base, &format!("{base}{AUTHORIZE}")).await["code"].clone();
    let token_url = format!("{base}/oauth/token");
    let exchange =
        format!("grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect");
    let (status, _, body) =
        post_form(&token_url, Some(&auth), &[&key.proof("POST", &token_url, json!({}))], &exchange).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("DPoP")), "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();

    // Two headers, and a proof for the other token path, are refused.
    let cc = "grant_type=refresh_token&refresh_token=x";
    let (status, _, body) = post_form(
        &token_url,
        Some(&auth),
        &[&key.proof("POST", &token_url, json!({})), &key.proof("POST", &token_url, json!({}))],
        cc,
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_dpop_proof")), "two DPoP headers");
    let published = format!("{base}/oauth/tokenize");
    let (status, _, body) = post_form(&token_url, Some(&auth), &[&key.proof("POST", &published, json!({}))], cc).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_dpop_proof")), "htu of the other path");

    let (_, _, introspected) =
        post_form(&format!("{base}/oauth/introspect"), Some(&auth), &[], &format!("token={access}")).await;
    assert_eq!(introspected["cnf"], json!({"jkt": key.jkt()}), "{introspected}");
    assert_eq!(introspected["token_type"], "DPoP");

    let userinfo = format!("{base}/oauth/userinfo");
    let proof = key.proof("GET", &userinfo, ath(&access));
    let r = http()
        .get(&userinfo)
        .header("Authorization", format!("DPoP {access}"))
        .header("DPoP", &proof)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let claims: Value = r.json().await.unwrap();
    assert_eq!(claims["email"], "admin@example.com");

    let r = http()
        .get(&userinfo)
        .header("Authorization", format!("DPoP {access}"))
        .header("DPoP", &proof)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a replayed proof");
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(www.starts_with("DPoP ") && www.contains("error=\"invalid_dpop_proof\""), "{www}");

    let r = http().get(&userinfo).header("Authorization", format!("Bearer {access}")).send().await.unwrap();
    assert_eq!(r.status(), 401, "the Bearer downgrade");
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(www.starts_with("DPoP ") && www.contains("error=\"invalid_token\"") && www.contains("algs=\""), "{www}");

    let r = http().get(&userinfo).send().await.unwrap();
    let challenges: Vec<_> =
        r.headers().get_all("www-authenticate").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer ")) && challenges.iter().any(|c| c.starts_with("DPoP ")),
        "{challenges:?}"
    );
}

const PUBLIC_CLIENT: &str = r#"
[[clients]]
id = "spa"
auth_method = "none"
redirect_uris = ["https://spa.example/cb"]
grant_types = ["authorization_code", "refresh_token"]
scopes = "openid email"
dpop_bound_access_tokens = true
"#;

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_and_nonces_are_required() {
    let server = spawn_with_extra_config(PUBLIC_CLIENT, &[("OAUTH__DPOP__NONCE", "true")]).await;
    let base = server.base.clone();
    let (key, other) = (Key::new(11), Key::new(12));
    let token_url = format!("{base}/oauth/tokenize");
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let authorize = format!(
        "{base}/oauth/authorize?client_id=spa&redirect_uri=https%3A%2F%2Fspa.example%2Fcb&response_type=code&scope=email&code_challenge={challenge}&code_challenge_method=S256&dpop_jkt={}",
        key.jkt()
    );
    let code = browser_flow_to(&base, &base, &authorize, "https://spa.example/cb").await["code"].clone();
    let exchange = format!(
        "grant_type=authorization_code&client_id=spa&code={code}&code_verifier={verifier}&redirect_uri=https%3A%2F%2Fspa.example%2Fcb"
    );

    // dpop_bound_access_tokens: a proof is required.
    let (status, _, body) = post_form(&token_url, None, &[], &exchange).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_dpop_proof")), "{body}");
    // Nonces are on: the first proof is answered with one.
    let (status, headers, body) =
        post_form(&token_url, None, &[&key.proof("POST", &token_url, json!({}))], &exchange).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("use_dpop_nonce")), "{body}");
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
    let with_nonce = |k: &Key| k.proof("POST", &token_url, json!({"nonce": nonce}));
    let (status, _, body) = post_form(&token_url, None, &[&with_nonce(&key)], &exchange).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("DPoP")), "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    let refresh_body = format!("grant_type=refresh_token&client_id=spa&refresh_token={refresh}");
    let (status, _, body) = post_form(&token_url, None, &[&with_nonce(&other)], &refresh_body).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "another key: {body}");
    let (status, _, body) = post_form(&token_url, None, &[&with_nonce(&key)], &refresh_body).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("DPoP")), "the refusal rotated nothing: {body}");
}

const MACHINE: &str = r#"
[[clients]]
id = "machine"
secret_hash = "sha256:a0b1c6c52c6f0ca0bbf1d2e0e9d7ef4cc4e5b6c7e1d6f1e1d3a5b1f0c7e9d1a3"
auth_method = "client_secret_post"
grant_types = ["client_credentials"]
scopes = "read"
"#;

/// One proof sent 32 times at once, half to each of two instances sharing
/// one Redis: the shared jti store accepts it exactly once.
#[tokio::test]
async fn one_proof_raced_across_two_instances_is_accepted_once() {
    let Some(url) =
        oauth_storage_redis::testing::redis_url_or_skip("one_proof_raced_across_two_instances_is_accepted_once")
    else {
        return;
    };
    let prefix = oauth_storage_redis::testing::unique_prefix();
    let secret = "machine-secret";
    let hash = oauth_core::client::SecretHash::sha256(secret).to_stored();
    let extra = MACHINE.replace("sha256:a0b1c6c52c6f0ca0bbf1d2e0e9d7ef4cc4e5b6c7e1d6f1e1d3a5b1f0c7e9d1a3", &hash);
    let env = [("OAUTH__STORAGE__URL", url.as_str()), ("OAUTH__STORAGE__KEY_PREFIX", prefix.as_str())];
    let a = spawn_with_extra_config(&extra, &env).await;
    // Both instances take proofs for the same issuer (b is behind the same name).
    let issuer = a.base.clone();
    let env_b = [env[0], env[1], ("OAUTH__SERVER__ISSUER", issuer.as_str())];
    let b = spawn_with_extra_config(&extra, &env_b).await;
    let key = Key::new(21);
    let proof = key.proof("POST", &format!("{issuer}/oauth/token"), json!({}));
    let body = format!("grant_type=client_credentials&client_id=machine&client_secret={secret}");
    let mut tasks = Vec::new();
    for i in 0..32 {
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        let (proof, body) = (proof.clone(), body.clone());
        tasks
            .push(tokio::spawn(async move { post_form(&format!("{base}/oauth/token"), None, &[&proof], &body).await }));
    }
    let (mut accepted, mut replays) = (0, 0);
    for task in tasks {
        let (status, _, body) = task.await.unwrap();
        match (status, body["error"].as_str()) {
            (200, _) => {
                assert_eq!(body["token_type"], "DPoP");
                accepted += 1;
            }
            (400, Some("invalid_dpop_proof")) => replays += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert_eq!((accepted, replays), (1, 31));
}
