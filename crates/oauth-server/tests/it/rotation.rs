//! Key rotation without restart: SIGHUP reloads the configured keys.

use std::time::{Duration, Instant};

use oauth_core::jose::{SigningAlg, SigningKey};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, RedirectUrl};

use crate::support::{Server, browser_flow, free_port};

const DEMO: &str = include_str!("../../../../examples/aioauth-demo/demo.toml");

fn config_text(dir: &std::path::Path, active: &str, with_second: bool) -> String {
    let mut keys = format!(
        "[oidc]\nactive_kid = \"{active}\"\n\n[[oidc.keys]]\nkid = \"k1\"\nalg = \"RS256\"\npem_file = \"{}\"\n",
        dir.join("k1.pem").display()
    );
    if with_second {
        keys.push_str(&format!(
            "\n[[oidc.keys]]\nkid = \"k2\"\nalg = \"ES256\"\npem_file = \"{}\"\n",
            dir.join("k2.pem").display()
        ));
    }
    DEMO.replace("[oidc]\n", "").replace("ephemeral_key = \"RS256\"\n", &keys)
}

async fn id_token(base: &str, http: &reqwest::Client) -> (String, openidconnect::core::CoreIdToken) {
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(base.to_owned()).unwrap(), http).await.unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("test_client".into()),
        Some(ClientSecret::new("password".into())),
    )
    .set_redirect_uri(RedirectUrl::new("https://www.example.com/redirect".into()).unwrap());
    let (url, _, _) =
        client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();
    let params = browser_flow(base, base, url.as_str()).await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .request_async(http)
        .await
        .unwrap();
    let token = openidconnect::TokenResponse::id_token(&tokens).unwrap().clone();
    let header = token.to_string().split('.').next().map(str::to_owned).unwrap();
    (header, token)
}

fn kid(header_b64: &str) -> String {
    use base64::Engine as _;
    let header: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header_b64).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sighup_rotates_keys_and_old_tokens_still_verify() {
    let dir = std::env::temp_dir().join(format!("oauth-rotation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("k1.pem"), SigningKey::generate_pem(SigningAlg::RS256).unwrap()).unwrap();
    std::fs::write(dir.join("k2.pem"), SigningKey::generate_pem(SigningAlg::ES256).unwrap()).unwrap();
    let config = dir.join("server.toml");
    std::fs::write(&config, config_text(&dir, "k1", false)).unwrap();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_oauth-server"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("OAUTH__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("OAUTH__SERVER__ISSUER", &base)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, base: base.clone() };
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (header, before) = id_token(&base, &http).await;
    assert_eq!(kid(&header), "k1");

    // Add k2, make it the signer, and reload.
    std::fs::write(&config, config_text(&dir, "k2", true)).unwrap();
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let jwks: serde_json::Value =
            http.get(format!("{base}/oauth/jwks")).send().await.unwrap().json().await.unwrap();
        if jwks["keys"].as_array().map(Vec::len) == Some(2) {
            break;
        }
        assert!(Instant::now() < deadline, "keys were not reloaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The token signed before the rotation still verifies against the new JWKS.
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(base.clone()).unwrap(), &http).await.unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("test_client".into()),
        Some(ClientSecret::new("password".into())),
    );
    let verifier = client.id_token_verifier().set_allowed_algs(vec![
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    ]);
    assert!(before.claims(&verifier, |_: Option<&Nonce>| Ok(())).is_ok(), "old token verifies after rotation");
    // New tokens carry the new kid, and verify too.
    let (header, after) = id_token(&base, &http).await;
    assert_eq!(kid(&header), "k2");
    assert!(after.claims(&verifier, |_: Option<&Nonce>| Ok(())).is_ok());

    // A broken reload keeps the current keys.
    std::fs::write(&config, "this is not toml [").unwrap();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let jwks: serde_json::Value = http.get(format!("{base}/oauth/jwks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
