//! The FAPI 2.0 Security Profile switch: server-wide (`ServerPolicy::fapi2`)
//! and per client (`Client::fapi2`), each requirement refused when missing
//! and a flow that meets them all accepted.

use oauth_core::OAuthRequest;
use oauth_core::storage::ClientStore as _;
use oauth_core::testing::{ISSUER, T0, TestServer, public_client};

use crate::dpop_flows::{Key, urlencoding};
use crate::support::{VERIFIER, assert_error, challenge, code_for, demo_auth, demo_query, post};

const PUBLIC_QUERY: &str =
    "client_id=public_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&scope=email";

fn token_url() -> String {
    format!("{ISSUER}/oauth/token")
}

/// A server whose codes live 600 s, with `public_client` held to FAPI 2.0.
async fn server_with_a_fapi_client() -> TestServer {
    let t = TestServer::with_policy(|p| p.code_lifetime(600)).await;
    let mut client = public_client();
    client.fapi2 = true;
    t.store.put_client(&client).await.unwrap();
    t
}

/// Pushes the public client's request with `extra`; the response.
async fn push(t: &TestServer, extra: &str) -> oauth_core::OAuthResponse {
    t.server.par(&post(&format!("{PUBLIC_QUERY}{extra}"), None)).await
}

/// Pushes a valid request and runs it through the authorization endpoint: the code.
async fn pushed_code(t: &TestServer) -> String {
    let response = push(t, &format!("&code_challenge={}&code_challenge_method=S256", challenge())).await;
    assert_eq!(response.status, 201, "{:?}", response.json_body());
    let request_uri = response.json_body().unwrap()["request_uri"].as_str().unwrap().to_owned();
    code_for(t, &format!("client_id=public_client&request_uri={}", urlencoding(&request_uri))).await
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
async fn a_fapi_client_must_push_use_s256_and_prove_possession() {
    let t = server_with_a_fapi_client().await;
    let key = Key::new();

    let front = t
        .server
        .authorize(
            &OAuthRequest::get(&format!("{PUBLIC_QUERY}&code_challenge={}&code_challenge_method=S256", challenge()))
                .secure(),
        )
        .await;
    let location = front.expect_err("front channel").into_response().location().map(str::to_owned).unwrap_or_default();
    assert!(location.contains("error=invalid_request"), "front-channel request: {location}");

    assert_error(&push(&t, "").await, 400, "invalid_request", "a push without PKCE");
    let plain =
        push(&t, "&code_challenge=0123456789012345678901234567890123456789abc&code_challenge_method=plain").await;
    assert_error(&plain, 400, "invalid_request", "a push with plain PKCE");

    let code = pushed_code(&t).await;
    assert_error(&t.server.token(&exchange(&code)).await, 400, "invalid_dpop_proof", "an exchange without a proof");
    let code = pushed_code(&t).await;
    let bound = t.server.token(&exchange(&code).with_header("DPoP", &key.proof("POST", &token_url(), "f1"))).await;
    assert_eq!(bound.status, 200, "{:?}", bound.json_body());
    assert_eq!(bound.json_body().unwrap()["token_type"], "DPoP");

    // Codes of a FAPI client live 60 s, though the server's live 600 s.
    let code = pushed_code(&t).await;
    t.clock.advance(61);
    let late = t
        .server
        .token(
            &exchange(&code)
                .with_header("DPoP", &key.proof_with("POST", &token_url(), "f2", serde_json::json!({"iat": T0 + 61}))),
        )
        .await;
    assert_error(&late, 400, "invalid_grant", "a FAPI client's code after 61 s");

    // Other clients keep the server's rules: the demo's front-channel request works.
    assert!(t.server.authorize(&OAuthRequest::get(&demo_query("")).secure()).await.is_ok(), "a non-FAPI client");
}

#[tokio::test]
async fn server_wide_fapi_refuses_secrets_and_the_front_channel() {
    let t = TestServer::with_policy(|p| p.fapi2(true)).await;
    let metadata = t.server.metadata();
    assert_eq!(metadata["require_pushed_authorization_requests"], true, "advertised");

    let front = t.server.authorize(&OAuthRequest::get(&demo_query("")).secure()).await;
    let location = front.expect_err("front channel").into_response().location().map(str::to_owned).unwrap_or_default();
    assert!(location.contains("error=invalid_request"), "front-channel request: {location}");

    // test_client authenticates with a secret: refused at every endpoint.
    let pushed = t
        .server
        .par(&post(
            &demo_query(&format!("code_challenge={}&code_challenge_method=S256", challenge())),
            Some(&demo_auth()),
        ))
        .await;
    assert_error(&pushed, 401, "invalid_client", "a client secret at PAR");
    let introspect = t.server.introspect(&post("token=x", Some(&demo_auth()))).await;
    assert_error(&introspect, 401, "invalid_client", "a client secret at introspection");

    for (label, tweak) in [
        ("implicit", (|p: oauth_core::policy::ServerPolicyBuilder| p.allow_implicit(true)) as fn(_) -> _),
        ("password", |p: oauth_core::policy::ServerPolicyBuilder| p.allow_password_grant(true)),
        ("plain PKCE", |p: oauth_core::policy::ServerPolicyBuilder| p.allow_plain_pkce(true)),
        ("a 61 s code", |p: oauth_core::policy::ServerPolicyBuilder| p.code_lifetime(61)),
    ] {
        let built = tweak(oauth_core::testing::policy_builder().fapi2(true)).build();
        assert!(built.is_err(), "FAPI 2.0 with {label} must not build");
    }
    assert!(oauth_core::testing::policy_builder().fapi2(true).code_lifetime(60).build().is_ok());
}
