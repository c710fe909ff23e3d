//! RFC 7662 introspection and RFC 7009 revocation (aioauth §2.3 and §2.4, with our answers).

use oauth_core::testing::{ISSUER, T0, TestServer};

use crate::support::{assert_error, assert_tokens, basic, code_for, demo_auth, demo_query, introspect, post, token};

async fn tokens(t: &TestServer) -> (String, String) {
    let code = code_for(t, &demo_query("")).await;
    let body = format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect");
    let body = assert_tokens(&token(t, &body, Some(&demo_auth())).await, "exchange");
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn introspection_table() {
    let t = TestServer::new().await;
    let (access, refresh) = tokens(&t).await;
    let machine = "client_id=machine&client_secret=machine-secret";
    // (label, body, Authorization, expected status, expected error or `active`)
    let rows: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        ("no credentials", format!("token={access}"), None, 401, "invalid_client"),
        (
            "public clients cannot introspect",
            format!("token={access}&client_id=public_client"),
            None,
            401,
            "invalid_client",
        ),
        ("wrong secret", format!("token={access}"), Some(basic("test_client", "x")), 401, "invalid_client"),
        ("token missing (aioauth: 200 inactive)", String::new(), Some(demo_auth()), 400, "invalid_request"),
        ("access token without hint (aioauth: inactive)", format!("token={access}"), Some(demo_auth()), 200, "true"),
        (
            "access token, hint access_token",
            format!("token={access}&token_type_hint=access_token"),
            Some(demo_auth()),
            200,
            "true",
        ),
        (
            "access token, wrong hint",
            format!("token={access}&token_type_hint=refresh_token"),
            Some(demo_auth()),
            200,
            "true",
        ),
        ("access token, unknown hint", format!("token={access}&token_type_hint=foo"), Some(demo_auth()), 200, "true"),
        ("refresh token without hint", format!("token={refresh}"), Some(demo_auth()), 200, "true"),
        ("unknown token", "token=nope".into(), Some(demo_auth()), 200, "false"),
        ("other client's token", format!("token={access}&{machine}"), None, 200, "false"),
    ];
    for (label, body, auth, status, expected) in rows {
        let r = t.server.introspect(&post(&body, auth.as_deref())).await;
        if status == 200 {
            let json = r.json_body().unwrap();
            assert_eq!((r.status, json["active"].to_string()), (200, expected.to_owned()), "{label}: {json}");
            assert_eq!(r.header("cache-control"), Some("no-store"), "{label}");
        } else {
            assert_error(&r, status, expected, label);
        }
    }
}

#[tokio::test]
async fn introspection_fields() {
    let t = TestServer::new().await;
    let (access, refresh) = tokens(&t).await;
    let info = introspect(&t, &access, &demo_auth()).await;
    assert_eq!(
        info,
        serde_json::json!({
            "active": true, "scope": "email", "client_id": "test_client", "sub": "user-admin",
            "token_type": "Bearer", "exp": T0 + 300, "iat": T0, "iss": ISSUER,
        })
    );
    let info = introspect(&t, &refresh, &demo_auth()).await;
    assert_eq!(info["exp"], T0 + 900, "refresh token activity uses its own expiry");
    assert!(info.get("token_type").is_none());
    t.clock.advance(301);
    assert_eq!(introspect(&t, &access, &demo_auth()).await["active"], false, "expired access token");
    assert_eq!(introspect(&t, &refresh, &demo_auth()).await["active"], true, "refresh token outlives it");
}

#[tokio::test]
async fn revocation_table() {
    let t = TestServer::new().await;
    let (access, _) = tokens(&t).await;
    let rows: Vec<(&str, String, Option<String>, u16, Option<&str>)> = vec![
        ("no client_id", format!("token={access}"), None, 401, Some("invalid_client")),
        ("wrong secret", format!("token={access}"), Some(basic("test_client", "x")), 401, Some("invalid_client")),
        ("token missing", String::new(), Some(demo_auth()), 400, Some("invalid_request")),
        (
            "unknown hint is ignored (aioauth: unsupported_token_type)",
            "token=nope&token_type_hint=foo".into(),
            Some(demo_auth()),
            200,
            None,
        ),
        ("unknown token", "token=nope".into(), Some(demo_auth()), 200, None),
        (
            "other client's token: 200, nothing revoked",
            format!("token={access}&client_id=machine&client_secret=machine-secret"),
            None,
            200,
            None,
        ),
        ("public client, own unknown token", "token=nope&client_id=public_client".into(), None, 200, None),
    ];
    for (label, body, auth, status, error) in rows {
        let r = t.server.revoke(&post(&body, auth.as_deref())).await;
        match error {
            Some(code) => assert_error(&r, status, code, label),
            None => assert_eq!(r.status, 200, "{label} (aioauth answered 204)"),
        }
    }
    assert_eq!(introspect(&t, &access, &demo_auth()).await["active"], true, "other client could not revoke");
}

#[tokio::test]
async fn revoking_an_access_token() {
    let t = TestServer::new().await;
    let (access, refresh) = tokens(&t).await;
    let r = t.server.revoke(&post(&format!("token={access}"), Some(&demo_auth()))).await;
    assert_eq!(r.status, 200);
    assert_eq!(introspect(&t, &access, &demo_auth()).await["active"], false);
    assert_eq!(introspect(&t, &refresh, &demo_auth()).await["active"], true, "the refresh token survives");
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_the_grant() {
    let t = TestServer::new().await;
    let (access, refresh) = tokens(&t).await;
    let r = t.server.revoke(&post(&format!("token={refresh}&token_type_hint=refresh_token"), Some(&demo_auth()))).await;
    assert_eq!(r.status, 200);
    assert_eq!(introspect(&t, &access, &demo_auth()).await["active"], false, "access token of the grant");
    assert_eq!(introspect(&t, &refresh, &demo_auth()).await["active"], false);
    let r = token(&t, &format!("grant_type=refresh_token&refresh_token={refresh}"), Some(&demo_auth())).await;
    assert_error(&r, 400, "invalid_grant", "revoked refresh token");
}
