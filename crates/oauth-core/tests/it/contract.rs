//! Core's complete answers: the public documents and protected-resource
//! authentication ([`AuthorizationServer::authenticate_resource`]).

use std::sync::Arc;

use oauth_core::jose::{KeySet, SigningAlg, SigningKey};
use oauth_core::request::Method;
use oauth_core::testing::{FailingStore, TestServer};
use oauth_core::{AuthorizationServer, OAuthRequest, OAuthResponse, Stores, TokenScheme};

use crate::support::token;

fn keys() -> KeySet {
    KeySet::new(vec![SigningKey::generate("k1", SigningAlg::ES256).unwrap()], "k1").unwrap()
}

#[tokio::test]
async fn public_documents_table() {
    let t = TestServer::new().await;
    let s = &t.server;
    let oidc_off =
        serde_json::json!({ "error": "invalid_request", "error_description": "OpenID Connect is not enabled" });
    // (name, answer, status, Cache-Control, body)
    let rows: Vec<(&str, OAuthResponse, u16, &str, serde_json::Value)> = vec![
        ("metadata", s.metadata_response(), 200, "max-age=300", s.metadata()),
        ("jwks off", s.jwks_response(), 404, "no-store", oidc_off.clone()),
        ("discovery off", s.openid_configuration_response(), 404, "no-store", oidc_off),
    ];
    let with_keys = TestServer::new().await;
    with_keys.server.set_keys(Some(keys()));
    let k = &with_keys.server;
    let rows = rows.into_iter().chain([
        ("metadata with keys", k.metadata_response(), 200, "max-age=300", k.metadata()),
        ("jwks", k.jwks_response(), 200, "max-age=60", k.jwks().unwrap()),
        ("discovery", k.openid_configuration_response(), 200, "max-age=60", k.metadata()),
    ]);
    for (name, answer, status, cache, body) in rows {
        assert_eq!(answer.status, status, "{name}");
        assert_eq!(answer.header("Content-Type"), Some("application/json"), "{name}");
        assert_eq!(answer.header("Cache-Control"), Some(cache), "{name}");
        assert_eq!(answer.json_body(), Some(body), "{name}");
    }
}

#[tokio::test]
async fn protected_resource_authentication_table() {
    let t = TestServer::new().await;
    let issued =
        token(&t, "grant_type=client_credentials&scope=read&client_id=machine&client_secret=machine-secret", None)
            .await
            .json_body()
            .unwrap();
    let access = issued["access_token"].as_str().unwrap();
    let bearer = |token: &str| OAuthRequest::get("").with_header("Authorization", &format!("Bearer {token}"));
    // (name, request, Ok or (status, WWW-Authenticate contains))
    let rows: Vec<(&str, OAuthRequest, Result<(), (u16, &str)>)> = vec![
        ("valid", bearer(access).secure(), Ok(())),
        ("any method", OAuthRequest { method: Method::parse("DELETE"), ..bearer(access).secure() }, Ok(())),
        ("plain HTTP", bearer(access), Err((400, "error=\"invalid_request\""))),
        ("no token", OAuthRequest::get("").secure(), Err((401, "Bearer realm="))),
        ("unknown", bearer("grant.nope").secure(), Err((401, "error=\"invalid_token\""))),
        ("not a token", bearer("nope").secure(), Err((401, "error=\"invalid_token\""))),
        (
            "repeated header",
            bearer(access).with_header("Authorization", "Bearer x").secure(),
            Err((400, "error=\"invalid_request\"")),
        ),
    ];
    for (name, req, expected) in rows {
        match (t.server.authenticate_resource(&req).await, expected) {
            (Ok(access), Ok(())) => {
                assert_eq!(access.scheme, TokenScheme::Bearer, "{name}");
                assert_eq!(access.record.client_id.as_str(), "machine", "{name}");
            }
            (Err(answer), Err((status, challenge))) => {
                assert_eq!(answer.status, status, "{name}");
                let got = answer.header("WWW-Authenticate").unwrap_or_default();
                assert!(got.contains(challenge), "{name}: {got}");
                assert_eq!(answer.header("Cache-Control"), Some("no-store"), "{name}");
                assert!(answer.cause.is_none(), "{name}");
            }
            (got, expected) => panic!("{name}: {got:?}, expected {expected:?}"),
        }
    }

    // Insecure transport allowed by policy: the same token passes over plain HTTP.
    let insecure = TestServer::with_policy(|p| p.allow_insecure_transport(true)).await;
    let issued = token(&insecure, "grant_type=client_credentials&client_id=machine&client_secret=machine-secret", None)
        .await
        .json_body()
        .unwrap();
    assert!(insecure.server.authenticate_resource(&bearer(issued["access_token"].as_str().unwrap())).await.is_ok());
}

#[tokio::test]
async fn a_storage_failure_is_a_503_with_its_cause() {
    let server = AuthorizationServer::new(
        oauth_core::testing::policy_builder().build().unwrap(),
        Stores::single(Arc::new(FailingStore)),
    );
    let req = OAuthRequest::get("").secure().with_header("Authorization", "Bearer grant.secret");
    let answer = server.authenticate_resource(&req).await.unwrap_err();
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json_body().unwrap()["error"], "temporarily_unavailable");
    assert!(answer.header("WWW-Authenticate").is_none());
    let cause = answer.cause.as_ref().expect("the storage failure is kept for the log");
    assert_eq!(cause.to_string(), "storage backend error");
    // UserInfo answers the same.
    assert_eq!(server.userinfo(&req).await, answer);
}
