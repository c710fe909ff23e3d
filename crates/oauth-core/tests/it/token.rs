//! The token endpoint, row by row: aioauth's §2.2 table with the answers we give instead,
//! plus client authentication, PKCE and code replay.

use std::sync::Arc;

use oauth_core::request::Method;
use oauth_core::storage::{ClientStore as _, Stores};
use oauth_core::testing::{FailingStore, TestServer};
use oauth_core::{AuthorizationServer, OAuthRequest};

use crate::support::{
    VERIFIER, assert_error, assert_tokens, basic, challenge, code_for, demo_auth, demo_query, introspect, post, token,
};

const REDIRECT: &str = "redirect_uri=https://www.example.com/redirect";

#[tokio::test]
async fn seed_demo_exchange_and_refresh() {
    let t = TestServer::new().await;
    let code = code_for(&t, &demo_query("")).await;
    let r = token(&t, &format!("grant_type=authorization_code&code={code}&{REDIRECT}"), Some(&demo_auth())).await;
    let body = assert_tokens(&r, "exchange");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["refresh_token_expires_in"], 900);
    assert_eq!(body["scope"], "email");
    let refresh = body["refresh_token"].as_str().unwrap();
    let r = token(&t, &format!("grant_type=refresh_token&refresh_token={refresh}"), Some(&demo_auth())).await;
    let body2 = assert_tokens(&r, "refresh");
    assert_eq!(body2["expires_in"], 300);
    assert_eq!(body2["refresh_token_expires_in"], 900);
    assert_eq!(body2["scope"], "email");
    assert_ne!(body2["refresh_token"], body["refresh_token"], "rotated");
    assert_ne!(body2["access_token"], body["access_token"]);
}

/// Rows that do not need a code: (label, body, Authorization, status, error).
#[tokio::test]
async fn request_and_client_table() {
    let t = TestServer::new().await;
    let demo = demo_auth();
    let rows: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        ("4 no credentials", "grant_type=authorization_code&code=x".into(), None, 401, "invalid_client"),
        (
            "4 malformed basic",
            "grant_type=authorization_code&code=x".into(),
            Some("Basic !!!".into()),
            401,
            "invalid_client",
        ),
        (
            "4 basic without colon",
            "grant_type=authorization_code".into(),
            Some("Basic dGVzdF9jbGllbnQ=".into()),
            401,
            "invalid_client",
        ),
        ("4 bearer scheme", "grant_type=authorization_code".into(), Some("Bearer abc".into()), 401, "invalid_client"),
        (
            "4b confidential client without secret",
            "grant_type=client_credentials&client_id=machine".into(),
            None,
            401,
            "invalid_client",
        ),
        ("5 grant_type missing", "code=x".into(), Some(demo.clone()), 400, "invalid_request"),
        ("6 grant_type unknown", "grant_type=foo".into(), Some(demo.clone()), 400, "unsupported_grant_type"),
        (
            "6 password grant off",
            "grant_type=password&username=admin&password=admin".into(),
            Some(demo.clone()),
            400,
            "unsupported_grant_type",
        ),
        (
            "7 wrong secret",
            "grant_type=authorization_code&code=x".into(),
            Some(basic("test_client", "wrong")),
            401,
            "invalid_client",
        ),
        (
            "7 unknown client",
            "grant_type=authorization_code&code=x".into(),
            Some(basic("nobody", "x")),
            401,
            "invalid_client",
        ),
        (
            "7 registered for basic, used post",
            "grant_type=authorization_code&code=x&client_id=test_client&client_secret=password".into(),
            None,
            401,
            "invalid_client",
        ),
        (
            "7 public client sends a secret",
            "grant_type=authorization_code&code=x&client_id=public_client&client_secret=x".into(),
            None,
            401,
            "invalid_client",
        ),
        (
            "8 grant not registered",
            "grant_type=client_credentials".into(),
            Some(demo.clone()),
            400,
            "unauthorized_client",
        ),
        (
            "8 public client, client_credentials",
            "grant_type=client_credentials&client_id=public_client".into(),
            None,
            400,
            "unauthorized_client",
        ),
        (
            "9 scope beyond the client",
            "grant_type=client_credentials&client_id=machine&client_secret=machine-secret&scope=admin".into(),
            None,
            400,
            "invalid_scope",
        ),
        (
            "13 code missing",
            format!("grant_type=authorization_code&{REDIRECT}"),
            Some(demo.clone()),
            400,
            "invalid_request",
        ),
        (
            "14 code unknown",
            format!("grant_type=authorization_code&code=nope&{REDIRECT}"),
            Some(demo.clone()),
            400,
            "invalid_grant",
        ),
        ("23 refresh_token missing", "grant_type=refresh_token".into(), Some(demo.clone()), 400, "invalid_request"),
        (
            "24 refresh_token unknown",
            "grant_type=refresh_token&refresh_token=nope".into(),
            Some(demo.clone()),
            400,
            "invalid_grant",
        ),
        (
            "two methods at once",
            "grant_type=authorization_code&code=x&client_secret=password".into(),
            Some(demo.clone()),
            400,
            "invalid_request",
        ),
        (
            "basic and a different body client_id",
            "grant_type=authorization_code&code=x&client_id=other".into(),
            Some(demo.clone()),
            400,
            "invalid_request",
        ),
        (
            "repeated parameter",
            "grant_type=authorization_code&code=x&code=y".into(),
            Some(demo.clone()),
            400,
            "invalid_request",
        ),
    ];
    for (label, body, auth, status, code) in rows {
        let r = token(&t, &body, auth.as_deref()).await;
        assert_error(&r, status, code, label);
    }
}

#[tokio::test]
async fn transport_method_and_content_type() {
    let t = TestServer::new().await;
    let body = "grant_type=client_credentials&client_id=machine&client_secret=machine-secret";
    // 2: insecure transport.
    let r = t.server.token(&OAuthRequest::post_form(body)).await;
    assert_error(&r, 400, "invalid_request", "insecure");
    // 3: GET → 405 with Allow.
    let mut get = post(body, None);
    get.method = Method::Get;
    let r = t.server.token(&get).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    // JSON bodies are not accepted.
    let mut json = post(body, None);
    json.headers = vec![("content-type".into(), "application/json".into())];
    assert_error(&t.server.token(&json).await, 400, "invalid_request", "json");
    // A charset parameter is fine.
    let mut charset = post(body, None);
    charset.headers = vec![("Content-Type".into(), "application/x-www-form-urlencoded; charset=UTF-8".into())];
    assert_tokens(&t.server.token(&charset).await, "charset");
}

#[tokio::test]
async fn storage_failure_is_503() {
    let server = AuthorizationServer::new(
        oauth_core::testing::policy_builder().build().unwrap(),
        Stores::single(Arc::new(FailingStore)),
    );
    let r = server.token(&post("grant_type=client_credentials", Some(&demo_auth()))).await;
    assert_error(&r, 503, "temporarily_unavailable", "1 storage down");
    let r = server.revoke(&post("token=x", Some(&demo_auth()))).await;
    assert_error(&r, 503, "temporarily_unavailable", "revoke storage down");
    let r = server.introspect(&post("token=x", Some(&demo_auth()))).await;
    assert_error(&r, 503, "temporarily_unavailable", "introspect storage down");
}

#[tokio::test]
async fn code_binding_table() {
    let t = TestServer::new().await;
    let c = challenge();
    let pkce_query = demo_query(&format!("code_challenge={c}&code_challenge_method=S256"));
    // (label, authorize query, token body after code=, Authorization, expected error or None for success)
    let rows: Vec<(&str, String, String, Option<String>, Option<&str>)> = vec![
        ("10 redirect_uri missing", demo_query(""), String::new(), Some(demo_auth()), Some("invalid_grant")),
        ("11 redirect_uri unregistered", demo_query(""), "&redirect_uri=https://evil.example/x".into(), Some(demo_auth()), Some("invalid_grant")),
        ("12 registered but different", "client_id=public_client&redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fcb&response_type=code&code_challenge=C&code_challenge_method=S256".replace("=C&", &format!("={c}&")), format!("&{REDIRECT}&client_id=public_client&code_verifier={VERIFIER}"), None, Some("invalid_grant")),
        ("omitted at authorize, omitted at token", "client_id=test_client&response_type=code&scope=email".into(), String::new(), Some(demo_auth()), None),
        ("omitted at authorize, sent at token", "client_id=test_client&response_type=code&scope=email".into(), format!("&{REDIRECT}"), Some(demo_auth()), None),
        ("14 other client's code", demo_query(""), format!("&{REDIRECT}&client_id=public_client"), None, Some("invalid_grant")),
        ("15 PKCE verifier missing", pkce_query.clone(), format!("&{REDIRECT}"), Some(demo_auth()), Some("invalid_grant")),
        ("16 PKCE wrong verifier", pkce_query.clone(), format!("&{REDIRECT}&code_verifier={}", "x".repeat(43)), Some(demo_auth()), Some("invalid_grant")),
        ("16 PKCE malformed verifier", pkce_query.clone(), format!("&{REDIRECT}&code_verifier=short"), Some(demo_auth()), Some("invalid_grant")),
        ("PKCE right verifier", pkce_query.clone(), format!("&{REDIRECT}&code_verifier={VERIFIER}"), Some(demo_auth()), None),
        ("18 verifier without challenge", demo_query(""), format!("&{REDIRECT}&code_verifier={VERIFIER}"), Some(demo_auth()), Some("invalid_grant")),
        ("20 public client with PKCE", format!("client_id=public_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&code_challenge={c}&code_challenge_method=S256"), format!("&{REDIRECT}&client_id=public_client&code_verifier={VERIFIER}"), None, None),
    ];
    for (label, query, rest, auth, expected) in rows {
        let code = code_for(&t, &query).await;
        let r = token(&t, &format!("grant_type=authorization_code&code={code}{rest}"), auth.as_deref()).await;
        match expected {
            Some(error) => assert_error(&r, 400, error, label),
            None => {
                assert_tokens(&r, label);
            }
        }
    }
}

#[tokio::test]
async fn failed_verifier_burns_the_code() {
    let t = TestServer::new().await;
    let code = code_for(&t, &demo_query(&format!("code_challenge={}&code_challenge_method=S256", challenge()))).await;
    let wrong = format!("grant_type=authorization_code&code={code}&{REDIRECT}&code_verifier={}", "x".repeat(43));
    assert_error(&token(&t, &wrong, Some(&demo_auth())).await, 400, "invalid_grant", "wrong verifier");
    let right = format!("grant_type=authorization_code&code={code}&{REDIRECT}&code_verifier={VERIFIER}");
    assert_error(&token(&t, &right, Some(&demo_auth())).await, 400, "invalid_grant", "retry after failure");
}

#[tokio::test]
async fn expired_code() {
    let t = TestServer::new().await;
    let code = code_for(&t, &demo_query("")).await;
    t.clock.advance(61);
    let r = token(&t, &format!("grant_type=authorization_code&code={code}&{REDIRECT}"), Some(&demo_auth())).await;
    assert_error(&r, 400, "invalid_grant", "17 expired");
}

#[tokio::test]
async fn scope_param_is_ignored_on_exchange() {
    let t = TestServer::new().await;
    let code = code_for(&t, &demo_query("")).await;
    let r =
        token(&t, &format!("grant_type=authorization_code&code={code}&{REDIRECT}&scope=profile"), Some(&demo_auth()))
            .await;
    assert_eq!(assert_tokens(&r, "19")["scope"], "email");
}

#[tokio::test]
async fn replayed_code_revokes_its_tokens() {
    let t = TestServer::new().await;
    let code = code_for(&t, &demo_query("")).await;
    let body = format!("grant_type=authorization_code&code={code}&{REDIRECT}");
    let first = assert_tokens(&token(&t, &body, Some(&demo_auth())).await, "first");
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&t, access, &demo_auth()).await["active"], true);
    assert_error(&token(&t, &body, Some(&demo_auth())).await, 400, "invalid_grant", "replay");
    assert_eq!(introspect(&t, access, &demo_auth()).await["active"], false, "access token revoked");
    let r = token(&t, &format!("grant_type=refresh_token&refresh_token={refresh}"), Some(&demo_auth())).await;
    assert_error(&r, 400, "invalid_grant", "refresh token revoked");
}

#[tokio::test]
async fn client_credentials() {
    let t = TestServer::new().await;
    let r = token(&t, "grant_type=client_credentials&client_id=machine&client_secret=machine-secret", None).await;
    let body = assert_tokens(&r, "28 default scope");
    assert_eq!(body["scope"], "read");
    assert!(body.get("refresh_token").is_none(), "no refresh token for client_credentials");
    let r = token(
        &t,
        "grant_type=client_credentials&client_id=machine&client_secret=machine-secret&scope=write%20read",
        None,
    )
    .await;
    assert_eq!(assert_tokens(&r, "explicit scope")["scope"], "read write");
    // Secrets in the body are form-decoded like any value.
    let r = token(&t, "grant_type=client_credentials&client_id=machine&client_secret=machine%2Dsecret", None).await;
    assert_tokens(&r, "percent-encoded secret");
}

#[tokio::test]
async fn basic_credentials_are_form_url_decoded() {
    let t = TestServer::new().await;
    let mut client = oauth_core::testing::machine_client();
    client.id = oauth_core::types::ClientId::new("a:b c");
    client.secret = Some(oauth_core::client::SecretHash::sha256("p@ss+word%"));
    client.auth_method = oauth_core::types::TokenEndpointAuthMethod::ClientSecretBasic;
    t.store.put_client(&client).await.unwrap();
    let r = token(&t, "grant_type=client_credentials", Some(&basic("a%3Ab+c", "p%40ss%2Bword%25"))).await;
    assert_tokens(&r, "encoded basic");
}

#[tokio::test]
async fn password_grant_when_enabled() {
    let t = TestServer::with_policy(|p| p.allow_password_grant(true)).await;
    let r = token(&t, "grant_type=password&username=admin&password=admin", Some(&demo_auth())).await;
    assert_error(&r, 400, "unauthorized_client", "client not registered for password");
    let mut client = oauth_core::testing::demo_client();
    client.grant_types.insert(oauth_core::types::GrantType::Password);
    t.store.put_client(&client).await.unwrap();
    let rows: &[(&str, &str, Option<&str>)] = &[
        ("21 username missing", "grant_type=password&password=admin", Some("invalid_request")),
        ("22 wrong password", "grant_type=password&username=admin&password=nope", Some("invalid_grant")),
        ("22 unknown user", "grant_type=password&username=nobody&password=admin", Some("invalid_grant")),
        ("valid", "grant_type=password&username=admin&password=admin&scope=email", None),
    ];
    for (label, body, expected) in rows {
        let r = token(&t, body, Some(&demo_auth())).await;
        match expected {
            Some(e) => assert_error(&r, 400, e, label),
            None => {
                let body = assert_tokens(&r, label);
                let info = introspect(&t, body["access_token"].as_str().unwrap(), &demo_auth()).await;
                assert_eq!(info["sub"], "user-admin");
            }
        }
    }
}

/// Regression (issue 14): repeated parameter names were echoed into
/// `error_description`; only names of our protocols are, now.
#[tokio::test]
async fn repeated_parameter_names_are_not_echoed() {
    let t = TestServer::new().await;
    for (form, description) in [
        ("grant_type=client_credentials&x%3Cb%3E=1&x%3Cb%3E=2", "A parameter is repeated"),
        ("grant_type=client_credentials&scope=a&scope=b", "The scope parameter is repeated"),
    ] {
        let response = token(&t, form, Some(&demo_auth())).await;
        assert_error(&response, 400, "invalid_request", form);
        assert_eq!(response.json_body().unwrap()["error_description"], description, "{form}");
    }
}
