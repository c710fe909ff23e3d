//! OpenID Connect: ID tokens, JWT access tokens, UserInfo, prompt and max_age, key rotation.

use oauth_core::jose::{KeySet, SigningAlg, SigningKey};
use oauth_core::oidc::{AccessTokenClaims, IdTokenClaims};
use oauth_core::policy::AccessTokenFormat;
use oauth_core::storage::{ClientStore as _, UserStore as _};
use oauth_core::testing::{ISSUER, T0, TestServer, demo_client, demo_user, scopes};
use oauth_core::types::Subject;
use oauth_core::{Approval, OAuthRequest};

use crate::support::{assert_tokens, demo_auth, introspect, location_params, post, token};

const QUERY: &str = "client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=s&nonce=n-0S6_WzA2Mj&scope=openid%20email%20profile";

async fn oidc_server(alg: SigningAlg, format: AccessTokenFormat) -> TestServer {
    let t = TestServer::with_policy(|p| p.access_token_format(format)).await;
    let mut client = demo_client();
    client.scopes = scopes("openid profile email");
    t.store.put_client(&client).await.unwrap();
    let mut user = demo_user();
    user.claims = [
        ("email".to_owned(), serde_json::json!("admin@example.com")),
        ("email_verified".to_owned(), serde_json::json!(true)),
        ("name".to_owned(), serde_json::json!("Admin")),
        ("internal_note".to_owned(), serde_json::json!("never released")),
    ]
    .into_iter()
    .collect();
    t.store.put_user(&user).await.unwrap();
    t.server.set_keys(Some(KeySet::new(vec![SigningKey::generate("k1", alg).unwrap()], "k1").unwrap()));
    t
}

async fn code(t: &TestServer, query: &str) -> String {
    let pending = t.server.authorize(&OAuthRequest::get(query).secure()).await.unwrap();
    let approval = Approval { subject: Subject::new("user-admin"), scope: None, auth_time: T0 - 10 };
    let r = t.server.approve(&pending, approval).await.unwrap();
    location_params(r.location().unwrap())["code"].clone()
}

async fn exchange(t: &TestServer, query: &str) -> serde_json::Value {
    let code = code(t, query).await;
    let r = token(
        t,
        &format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"),
        Some(&demo_auth()),
    )
    .await;
    assert_tokens(&r, "exchange")
}

#[tokio::test]
async fn id_token_for_each_algorithm() {
    for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
        let t = oidc_server(alg, AccessTokenFormat::Opaque).await;
        let body = exchange(&t, QUERY).await;
        let keys = t.server.keys().unwrap();
        let id: IdTokenClaims = keys.verify(body["id_token"].as_str().unwrap(), "JWT", ISSUER, Some(T0)).unwrap();
        assert_eq!(
            (id.iss.as_str(), id.sub.as_str(), id.aud.as_str()),
            (ISSUER, "user-admin", "test_client"),
            "{alg:?}"
        );
        assert_eq!((id.iat, id.exp, id.auth_time), (T0, T0 + 3600, Some(T0 - 10)));
        assert_eq!(id.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert_eq!(id.at_hash, Some(alg.half_hash(body["access_token"].as_str().unwrap())));
        assert_eq!(id.claims.get("email"), Some(&serde_json::json!("admin@example.com")));
        assert_eq!(id.claims.get("name"), Some(&serde_json::json!("Admin")));
        assert!(!id.claims.contains_key("internal_note"));

        // A refresh brings a new ID token: same sub and auth_time, no nonce.
        let r = token(
            &t,
            &format!("grant_type=refresh_token&refresh_token={}", body["refresh_token"].as_str().unwrap()),
            Some(&demo_auth()),
        )
        .await;
        let refreshed = assert_tokens(&r, "refresh");
        let id2: IdTokenClaims = keys.verify(refreshed["id_token"].as_str().unwrap(), "JWT", ISSUER, Some(T0)).unwrap();
        assert_eq!((id2.sub, id2.auth_time, id2.nonce), ("user-admin".into(), Some(T0 - 10), None));
    }
}

#[tokio::test]
async fn no_id_token_without_openid_scope_or_keys() {
    let t = oidc_server(SigningAlg::ES256, AccessTokenFormat::Opaque).await;
    let body = exchange(&t, &QUERY.replace("openid%20", "")).await;
    assert!(body.get("id_token").is_none(), "no openid scope");
    t.server.set_keys(None);
    let body = exchange(&t, QUERY).await;
    assert!(body.get("id_token").is_none(), "OpenID Connect off");
}

#[tokio::test]
async fn jwt_access_tokens_stay_revocable_and_introspectable() {
    let t = oidc_server(SigningAlg::ES256, AccessTokenFormat::Jwt).await;
    let body = exchange(&t, QUERY).await;
    let access = body["access_token"].as_str().unwrap();
    let keys = t.server.keys().unwrap();
    let claims: AccessTokenClaims = keys.verify(access, "at+jwt", ISSUER, Some(T0)).unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.client_id.as_str(), claims.aud.as_str()),
        ("user-admin", "test_client", ISSUER)
    );
    assert_eq!(claims.scope, "email openid profile");
    assert_eq!(claims.exp, T0 + 300);
    assert!(!claims.jti.is_empty());
    let header = access.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(&base64_decode(header)).unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], "k1");

    assert_eq!(introspect(&t, access, &demo_auth()).await["active"], true);
    assert_eq!(crate::support::resource(&t, access).await.unwrap().client_id.as_str(), "test_client");
    // The jti is readable by anyone who sees the JWT: it is no opaque token.
    assert!(crate::support::resource(&t, &claims.jti).await.is_err(), "the jti is no bearer token");
    assert_eq!(introspect(&t, &claims.jti, &demo_auth()).await["active"], false, "the jti is inactive");
    let userinfo = t
        .server
        .userinfo(&OAuthRequest::get("").secure().with_header("Authorization", &format!("Bearer {}", claims.jti)))
        .await;
    assert_eq!(userinfo.status, 401, "UserInfo refuses the jti");
    let r = t.server.revoke(&post(&format!("token={access}"), Some(&demo_auth()))).await;
    assert_eq!(r.status, 200);
    assert_eq!(introspect(&t, access, &demo_auth()).await["active"], false, "revoked JWT is inactive");
    assert!(
        crate::support::resource(&t, access).await.is_err(),
        "a revoked JWT is refused although its signature is fine"
    );

    // A JWT signed by someone else is nothing.
    let stranger = KeySet::new(vec![SigningKey::generate("k1", SigningAlg::ES256).unwrap()], "k1").unwrap();
    let forged = stranger.active().sign("at+jwt", &claims).unwrap();
    assert!(crate::support::resource(&t, &forged).await.is_err());
    assert_eq!(introspect(&t, &forged, &demo_auth()).await["active"], false);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[tokio::test]
async fn userinfo_table() {
    let t = oidc_server(SigningAlg::RS256, AccessTokenFormat::Opaque).await;
    let with_openid = exchange(&t, QUERY).await["access_token"].as_str().unwrap().to_owned();
    let without_openid =
        exchange(&t, &QUERY.replace("openid%20", "")).await["access_token"].as_str().unwrap().to_owned();
    let revoked = exchange(&t, QUERY).await["access_token"].as_str().unwrap().to_owned();
    t.server.revoke(&post(&format!("token={revoked}"), Some(&demo_auth()))).await;
    let get = |auth: Option<String>| {
        let mut req = OAuthRequest::get("").secure();
        if let Some(auth) = auth {
            req = req.with_header("Authorization", &auth);
        }
        req
    };
    // (label, request, status, error code in WWW-Authenticate or None)
    let rows: Vec<(&str, OAuthRequest, u16, Option<&str>)> = vec![
        ("GET with bearer", get(Some(format!("Bearer {with_openid}"))), 200, None),
        ("POST with form token", post(&format!("access_token={with_openid}"), None), 200, None),
        ("lowercase scheme", get(Some(format!("bearer {with_openid}"))), 200, None),
        ("no token", get(None), 401, Some("")),
        ("basic scheme is no bearer token", get(Some("Basic dTpw".into())), 401, Some("")),
        ("unknown token", get(Some("Bearer abc.def".into())), 401, Some("invalid_token")),
        ("revoked token", get(Some(format!("Bearer {revoked}"))), 401, Some("invalid_token")),
        ("token without openid", get(Some(format!("Bearer {without_openid}"))), 403, Some("insufficient_scope")),
        (
            "token in two places",
            post(&format!("access_token={with_openid}"), Some(&format!("Bearer {with_openid}"))),
            400,
            Some("invalid_request"),
        ),
    ];
    for (label, req, status, error) in rows {
        let r = t.server.userinfo(&req).await;
        assert_eq!(r.status, status, "{label}");
        match error {
            None => {
                let body = r.json_body().unwrap();
                assert_eq!(body["sub"], "user-admin", "{label}");
                assert_eq!(body["email"], "admin@example.com", "{label}");
                assert!(body.get("internal_note").is_none());
                assert_eq!(r.header("cache-control"), Some("no-store"));
            }
            Some(code) => {
                let www = r.header("www-authenticate").unwrap_or_else(|| panic!("{label}: WWW-Authenticate"));
                assert!(www.starts_with("Bearer realm=\""), "{label}: {www}");
                if code.is_empty() {
                    assert!(!www.contains("error="), "{label}: no error code without a token: {www}");
                } else {
                    assert!(www.contains(&format!("error=\"{code}\"")), "{label}: {www}");
                }
            }
        }
    }
    // An expired token.
    t.clock.advance(301);
    let r = t.server.userinfo(&get(Some(format!("Bearer {with_openid}")))).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().contains("invalid_token"));
}

#[tokio::test]
async fn prompt_and_max_age() {
    let t = oidc_server(SigningAlg::EdDSA, AccessTokenFormat::Opaque).await;
    let pending = |extra: &str| {
        let q = format!("{QUERY}&{extra}");
        let server = &t.server;
        async move { server.authorize(&OAuthRequest::get(&q).secure()).await }
    };
    let p = pending("prompt=login").await.unwrap();
    assert_eq!(p.created_at, T0);
    assert!(p.login_required(None, T0), "nobody logged in");
    assert!(p.login_required(Some(T0 - 1), T0), "prompt=login: a login from before the request is not enough");
    assert!(p.login_required(Some(T0), T0), "nor one in the same second that did not answer this request");
    let mut p = p;
    p.note_login();
    assert!(!p.login_required(Some(T0), T0 + 5), "a login for this request is");
    let p = pending("max_age=60").await.unwrap();
    assert!(!p.login_required(Some(T0 - 60), T0));
    assert!(p.login_required(Some(T0 - 61), T0), "older than max_age");
    let mut p = pending("max_age=0").await.unwrap();
    assert!(p.login_required(Some(T0 - 1), T0), "max_age=0: any earlier login is too old");
    p.note_login();
    assert!(
        !p.login_required(Some(T0), T0 + 30),
        "the login for this request holds while the user reads the consent page"
    );
    let p = pending("prompt=consent").await.unwrap();
    assert!(p.consent_required(Some(&scopes("openid email profile"))), "prompt=consent always asks");
    let p = pending("").await.unwrap();
    assert!(p.consent_required(None));
    assert!(p.consent_required(Some(&scopes("openid email"))), "remembered consent must cover every scope");
    assert!(!p.consent_required(Some(&scopes("openid email profile"))));
    // Bad values are redirected errors.
    for extra in [
        "prompt=none%20login",
        "prompt=bogus",
        "max_age=-1",
        "max_age=soon",
        "request=eyJ",
        "request_uri=https%3A%2F%2Fx",
    ] {
        assert!(matches!(pending(extra).await, Err(oauth_core::AuthorizeError::Redirect(_))), "{extra}");
    }
    // login_required as an authorization error keeps state and iss.
    let p = pending("prompt=none").await.unwrap();
    let r = t.server.authorization_error(&p, &oauth_core::OAuthError::new(oauth_core::ErrorCode::LoginRequired, "x"));
    let params = location_params(r.location().unwrap());
    assert_eq!(
        (params["error"].as_str(), params["state"].as_str(), params["iss"].as_str()),
        ("login_required", "s", ISSUER)
    );
}

#[tokio::test]
async fn keys_rotate_without_restart() {
    let t = oidc_server(SigningAlg::RS256, AccessTokenFormat::Jwt).await;
    let before = exchange(&t, QUERY).await;
    let old = t.server.keys().unwrap().active().clone();
    let new = SigningKey::generate("k2", SigningAlg::ES256).unwrap();
    t.server.set_keys(Some(KeySet::new(vec![new, old], "k2").unwrap()));
    let jwks = t.server.jwks().unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "both keys are published");
    let m = t.server.metadata();
    assert_eq!(m["id_token_signing_alg_values_supported"], serde_json::json!(["ES256", "RS256"]));
    // The old token still verifies, as an ID token and as an access token.
    let keys = t.server.keys().unwrap();
    assert!(keys.verify::<IdTokenClaims>(before["id_token"].as_str().unwrap(), "JWT", ISSUER, Some(T0)).is_ok());
    assert!(crate::support::resource(&t, before["access_token"].as_str().unwrap()).await.is_ok());
    // New tokens carry the new kid.
    let after = exchange(&t, QUERY).await;
    let header: serde_json::Value =
        serde_json::from_slice(&base64_decode(after["id_token"].as_str().unwrap().split('.').next().unwrap())).unwrap();
    assert_eq!((header["kid"].as_str(), header["alg"].as_str()), (Some("k2"), Some("ES256")));
    // Once the old key is retired for good, its tokens stop verifying.
    let only_new = KeySet::new(vec![t.server.keys().unwrap().active().clone()], "k2").unwrap();
    t.server.set_keys(Some(only_new));
    assert!(crate::support::resource(&t, before["access_token"].as_str().unwrap()).await.is_err());
}

#[tokio::test]
async fn discovery_document() {
    let t = oidc_server(SigningAlg::RS256, AccessTokenFormat::Opaque).await;
    let d = t.server.openid_configuration().unwrap();
    assert_eq!(d["issuer"], ISSUER);
    assert_eq!(d["jwks_uri"], "https://auth.example.com/oauth/jwks");
    assert_eq!(d["userinfo_endpoint"], "https://auth.example.com/oauth/userinfo");
    assert_eq!(d["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(d["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));
    // UserInfo answers plain JSON only; `none` would promise unsigned JWTs (regression, issue 14).
    assert!(d.get("userinfo_signing_alg_values_supported").is_none(), "{d}");
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    let claims = d["claims_supported"].as_array().unwrap();
    for claim in ["sub", "auth_time", "nonce", "email", "email_verified", "name", "phone_number"] {
        assert!(claims.contains(&claim.into()), "{claim}");
    }
    assert_eq!(d, t.server.metadata(), "one document");
    t.server.set_keys(None);
    assert!(t.server.openid_configuration().is_none());
    assert!(t.server.metadata().get("jwks_uri").is_none());
}

#[tokio::test]
async fn next_step_table() {
    use oauth_core::NextStep;
    let t = oidc_server(SigningAlg::ES256, AccessTokenFormat::Opaque).await;
    let all = scopes("openid email profile");
    let fresh = Some(T0);
    let stale = Some(T0 - 1000);
    // (extra query, logged in at, remembered consent, expected step; "error:<code>" for a prompt=none redirect)
    let rows: Vec<(&str, Option<u64>, Option<&oauth_core::types::ScopeSet>, &str)> = vec![
        ("", None, None, "login"),
        ("", fresh, None, "consent"),
        ("", fresh, Some(&all), "approve"),
        ("", stale, Some(&all), "approve"),
        ("prompt=login", stale, Some(&all), "login"),
        ("prompt=consent", fresh, Some(&all), "consent"),
        ("max_age=100", stale, Some(&all), "login"),
        ("max_age=5000", stale, Some(&all), "approve"),
        ("prompt=none", None, None, "error:login_required"),
        ("prompt=none", fresh, None, "error:consent_required"),
        ("prompt=none", fresh, Some(&all), "approve"),
        ("prompt=none&max_age=100", stale, Some(&all), "error:login_required"),
    ];
    for (extra, auth_time, remembered, expected) in rows {
        let pending = t.server.authorize(&OAuthRequest::get(&format!("{QUERY}&{extra}")).secure()).await.unwrap();
        let got = match t.server.next_step(&pending, auth_time, remembered) {
            NextStep::Login => "login".to_owned(),
            NextStep::Consent => "consent".to_owned(),
            NextStep::Approve => "approve".to_owned(),
            NextStep::Respond(r) => format!("error:{}", location_params(r.location().unwrap())["error"]),
        };
        assert_eq!(got, expected, "{extra} {auth_time:?} {remembered:?}");
    }
}
