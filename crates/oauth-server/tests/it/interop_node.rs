//! panva's `openid-client` (Node.js, `tools/interop-node/interop.mjs`) as a
//! client nobody on this project wrote, against the real binary: discovery,
//! the code flow with PKCE S256, state, nonce and RFC 9207 `iss`, ID tokens
//! checked against the JWKS for each signing algorithm, UserInfo,
//! introspection, refresh, revocation, and client_credentials.
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

use oauth_storage_redis::testing::in_ci;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use crate::support::{browser_flow_redirect, http, spawn_with_extra_config};

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
