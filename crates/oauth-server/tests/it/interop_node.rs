//! panva's `openid-client` (Node.js, `tools/interop-node/interop.mjs`) as a
//! client nobody on this project wrote, against the real binary: discovery,
//! the code flow with PKCE S256, state, nonce and RFC 9207 `iss`, ID tokens
//! checked against the JWKS for each signing algorithm, UserInfo,
//! introspection, refresh, revocation, and client_credentials; and DPoP
//! (RFC 9449) with openid-client's own proofs: `dpop_jkt`, bound tokens at
//! UserInfo, introspection and refresh, a public client's bound refresh
//! token, the Bearer downgrade refused, and server nonces answered.
//!
//! The script does the client side; this test plays the browser: when the
//! script prints the authorization URL it built, [`browser_flow_redirect`]
//! logs in and consents, and the URL the browser is sent back to goes to the
//! script's stdin. The script reports each passed scenario with facts that
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
