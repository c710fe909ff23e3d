//! The device authorization grant (RFC 8628): the device authorization
//! endpoint, finding and deciding a user code, and every answer of the
//! device code grant at the token endpoint.

use oauth_core::client::{Client, SecretHash};
use oauth_core::device::{USER_CODE_ALPHABET, UserCode};
use oauth_core::jose::{KeySet, SigningAlg, SigningKey};
use oauth_core::oidc::IdTokenClaims;
use oauth_core::storage::ClientStore as _;
use oauth_core::testing::{ISSUER, T0, TestServer, scopes};
use oauth_core::throttle::Verdict;
use oauth_core::types::{GrantType, Subject, TokenEndpointAuthMethod};
use oauth_core::{Approval, OAuthRequest, OAuthResponse, PendingDevice};

use crate::support::{assert_error, assert_tokens, basic, post, resource, token};

const GRANT: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code";

/// A public device client `tv` (device code and refresh), and a
/// confidential one `kiosk` (`kiosk-secret`, device code only).
async fn device_server() -> TestServer {
    let t = TestServer::new().await;
    let mut tv = Client::new("tv");
    tv.name = "Living-room TV".into();
    tv.grant_types = [GrantType::DeviceCode, GrantType::RefreshToken].into_iter().collect();
    tv.response_types.clear();
    tv.scopes = scopes("openid email profile");
    tv.default_scopes = scopes("email");
    t.store.put_client(&tv).await.unwrap();
    let mut kiosk = Client::new("kiosk");
    kiosk.secret = Some(SecretHash::sha256("kiosk-secret"));
    kiosk.auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
    kiosk.grant_types = [GrantType::DeviceCode].into_iter().collect();
    kiosk.response_types.clear();
    kiosk.scopes = scopes("email");
    t.store.put_client(&kiosk).await.unwrap();
    t
}

async fn authorize_device(t: &TestServer, body: &str, auth: Option<&str>) -> OAuthResponse {
    t.server.device_authorization(&post(body, auth)).await
}

/// A device authorization for `tv`: (device code, user code as shown).
async fn start(t: &TestServer, scope: &str) -> (String, String) {
    let r = authorize_device(t, &format!("client_id=tv&scope={scope}"), None).await;
    let body = r.json_body().unwrap();
    assert_eq!(r.status, 200, "{body}");
    (body["device_code"].as_str().unwrap().to_owned(), body["user_code"].as_str().unwrap().to_owned())
}

async fn poll(t: &TestServer, device_code: &str, client: &str) -> OAuthResponse {
    token(t, &format!("grant_type={GRANT}&device_code={device_code}&client_id={client}"), None).await
}

async fn pending(t: &TestServer, user_code: &str) -> PendingDevice {
    t.server.find_device(user_code).await.unwrap().unwrap_or_else(|| panic!("{user_code} is pending"))
}

fn approval(scope: Option<&str>) -> Approval {
    Approval { subject: Subject::new("user-admin"), scope: scope.map(scopes), auth_time: T0 - 30 }
}

#[tokio::test]
async fn the_device_authorization_response() {
    let t = device_server().await;
    let r = authorize_device(&t, "client_id=tv&scope=openid%20email", None).await;
    let body = r.json_body().unwrap();
    assert_eq!(r.status, 200, "{body}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // The sequence generator's first value seeds the user code, its second is the device code's secret.
    let user = UserCode::from_seed("tok-1");
    let shown = user.display();
    assert_eq!(shown.len(), 9);
    assert!(shown.bytes().enumerate().all(|(i, b)| if i == 4 { b == b'-' } else { USER_CODE_ALPHABET.contains(&b) }));
    let device_code = body["device_code"].as_str().unwrap();
    assert!(device_code.ends_with(".tok-2"), "{device_code}");
    assert_eq!(
        body,
        serde_json::json!({
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": "https://auth.example.com/device",
            "verification_uri_complete": format!("https://auth.example.com/device?user_code={shown}"),
            "expires_in": 600,
            "interval": 5,
        })
    );

    // Policy sets lifetime and interval; a confidential client authenticates.
    let t = device_server().await;
    let t = TestServer { server: rebuild(t.server, |p| p.device_code_lifetime(900).device_poll_interval(10)), ..t };
    let r = authorize_device(&t, "", Some(&basic("kiosk", "kiosk-secret"))).await;
    let body = r.json_body().unwrap();
    assert_eq!((body["expires_in"].as_u64(), body["interval"].as_u64()), (Some(900), Some(10)), "{body}");
    let user_code = body["user_code"].as_str().unwrap();
    assert_eq!(pending(&t, user_code).await.scope, scopes(""), "no scope asked, none by default");
}

/// The same server (store, clock, generator, clients) with another policy.
fn rebuild(
    server: oauth_core::AuthorizationServer,
    tweak: impl FnOnce(oauth_core::policy::ServerPolicyBuilder) -> oauth_core::policy::ServerPolicyBuilder,
) -> oauth_core::AuthorizationServer {
    let policy = tweak(server.policy().to_builder()).build().unwrap();
    let stores = server.stores().clone();
    oauth_core::AuthorizationServer::new(policy, stores)
        .with_clock(std::sync::Arc::new(oauth_core::clock::FixedClock::new(T0)))
        .with_generator(std::sync::Arc::new(oauth_core::generate::SequenceGenerator::new("tok")))
}

#[tokio::test]
async fn device_authorization_errors() {
    let t = device_server().await;
    let demo = crate::support::demo_auth();
    let kiosk = basic("kiosk", "kiosk-secret");
    let rows: [(&str, &str, Option<&str>, u16, &str); 8] = [
        ("a scope beyond the client's", "client_id=tv&scope=admin", None, 400, "invalid_scope"),
        ("a malformed scope", "client_id=tv&scope=%22", None, 400, "invalid_scope"),
        ("a client without the grant", "", Some(&demo), 400, "unauthorized_client"),
        ("an unknown client", "client_id=nobody", None, 401, "invalid_client"),
        ("no client", "scope=email", None, 401, "invalid_client"),
        ("a wrong secret", "", Some(&basic("kiosk", "wrong")), 401, "invalid_client"),
        ("a confidential client without its secret", "client_id=kiosk", None, 401, "invalid_client"),
        ("a repeated parameter", "scope=email&scope=email", Some(&kiosk), 400, "invalid_request"),
    ];
    for (label, body, auth, status, code) in rows {
        assert_error(&authorize_device(&t, body, auth).await, status, code, label);
    }
    let get = OAuthRequest::get("client_id=tv").secure();
    assert_eq!(t.server.device_authorization(&get).await.status, 405, "GET");
    let plain = OAuthRequest::post_form("client_id=tv");
    assert_error(&t.server.device_authorization(&plain).await, 400, "invalid_request", "without TLS");
}

#[tokio::test]
async fn polling_answers_each_state() {
    let t = device_server().await;
    let (device_code, user_code) = start(&t, "openid%20email").await;
    assert_error(&poll(&t, &device_code, "tv").await, 400, "authorization_pending", "before the user answers");
    t.clock.advance(2);
    let r = poll(&t, &device_code, "tv").await;
    assert_error(&r, 400, "slow_down", "2 s after the last poll");
    t.clock.advance(5);
    assert_error(&poll(&t, &device_code, "tv").await, 400, "slow_down", "5 s later: the interval is 10 s, now 15 s");
    t.clock.advance(15);
    assert_error(&poll(&t, &device_code, "tv").await, 400, "authorization_pending", "15 s later: in time");

    let rows: [(&str, String, &str, &str); 5] = [
        ("another client's code", device_code.clone(), "kiosk-public", "invalid_grant"),
        ("an unknown code", format!("{}.nope", &device_code[..4]), "tv", "invalid_grant"),
        ("not a device code", "tok-2".into(), "tv", "invalid_grant"),
        ("an empty code", String::new(), "tv", "invalid_request"),
        ("an authorization code's shape", "a.b.c".into(), "tv", "invalid_grant"),
    ];
    let mut other = Client::new("kiosk-public");
    other.grant_types = [GrantType::DeviceCode].into_iter().collect();
    other.response_types.clear();
    t.store.put_client(&other).await.unwrap();
    for (label, code, client, error) in rows {
        assert_error(&poll(&t, &code, client).await, 400, error, label);
    }
    let r = token(&t, &format!("grant_type={GRANT}&client_id=tv"), None).await;
    assert_error(&r, 400, "invalid_request", "no device_code");
    let r = token(&t, &format!("grant_type={GRANT}&device_code={device_code}&client_id=test_client"), None).await;
    assert_error(&r, 401, "invalid_client", "a confidential client without its secret");
    let r =
        token(&t, &format!("grant_type={GRANT}&device_code={device_code}"), Some(&crate::support::demo_auth())).await;
    assert_error(&r, 400, "unauthorized_client", "a client not registered for the grant");

    // The user approves: the next poll gets tokens, once.
    let p = pending(&t, &user_code).await;
    assert_eq!((p.client_id.as_str(), p.client_name.as_str()), ("tv", "Living-room TV"));
    assert_eq!((p.scope.clone(), p.expires_at), (scopes("openid email"), T0 + 600));
    assert!(t.server.approve_device(&p, approval(None)).await.unwrap(), "approved");
    t.clock.advance(15);
    let body = assert_tokens(&poll(&t, &device_code, "tv").await, "approved");
    assert_eq!(body["scope"], "email openid");
    assert!(body["refresh_token"].is_string(), "the client may refresh: {body}");
    assert!(body.get("id_token").is_none(), "no signing keys, no ID token: {body}");
    let record = resource(&t, body["access_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(
        (record.subject, record.client_id.as_str(), record.auth_time),
        (Some(Subject::new("user-admin")), "tv", Some(T0 - 30))
    );
    t.clock.advance(15);
    assert_error(&poll(&t, &device_code, "tv").await, 400, "invalid_grant", "tokens are issued once");
    let r = token(
        &t,
        &format!("grant_type=refresh_token&refresh_token={}&client_id=tv", body["refresh_token"].as_str().unwrap()),
        None,
    )
    .await;
    assert_tokens(&r, "its refresh token works");
}

#[tokio::test]
async fn deny_expiry_and_narrowed_scope() {
    let t = device_server().await;
    // Denied: access_denied, and the decision is final.
    let (device_code, user_code) = start(&t, "email").await;
    let p = pending(&t, &user_code).await;
    assert!(t.server.deny_device(&p).await.unwrap(), "denied");
    assert!(!t.server.approve_device(&p, approval(None)).await.unwrap(), "decided once");
    assert!(!t.server.deny_device(&p).await.unwrap(), "decided once");
    assert_eq!(t.server.find_device(&user_code).await.unwrap(), None, "a decided code is not pending");
    assert_error(&poll(&t, &device_code, "tv").await, 400, "access_denied", "denied");
    t.clock.advance(5);
    assert_error(&poll(&t, &device_code, "tv").await, 400, "access_denied", "stays denied");

    // Expired: expired_token while the store keeps it, then invalid_grant.
    let (device_code, user_code) = start(&t, "email").await;
    let p = pending(&t, &user_code).await;
    t.clock.advance(600);
    assert_eq!(t.server.find_device(&user_code).await.unwrap(), None, "an expired code is not pending");
    assert!(!t.server.approve_device(&p, approval(None)).await.unwrap(), "too late to approve");
    assert_error(&poll(&t, &device_code, "tv").await, 400, "expired_token", "expired");
    t.clock.advance(oauth_core::device::DEVICE_EXPIRED_HOLD);
    assert_error(&poll(&t, &device_code, "tv").await, 400, "invalid_grant", "forgotten");

    // The user grants less than asked; what was not asked is dropped.
    let (device_code, user_code) = start(&t, "email%20profile").await;
    let p = pending(&t, &user_code).await;
    assert!(t.server.approve_device(&p, approval(Some("profile openid"))).await.unwrap());
    let body = assert_tokens(&poll(&t, &device_code, "tv").await, "narrowed");
    assert_eq!(body["scope"], "profile");

    // A client without refresh_token gets none.
    let r = authorize_device(&t, "", Some(&basic("kiosk", "kiosk-secret"))).await;
    let body = r.json_body().unwrap();
    let p = pending(&t, body["user_code"].as_str().unwrap()).await;
    assert!(t.server.approve_device(&p, approval(None)).await.unwrap());
    let r = token(
        &t,
        &format!("grant_type={GRANT}&device_code={}", body["device_code"].as_str().unwrap()),
        Some(&basic("kiosk", "kiosk-secret")),
    )
    .await;
    let body = assert_tokens(&r, "kiosk");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["expires_in"], 300);
}

#[tokio::test]
async fn an_id_token_when_openid_is_granted() {
    let t = device_server().await;
    t.server.set_keys(Some(KeySet::new(vec![SigningKey::generate("k1", SigningAlg::ES256).unwrap()], "k1").unwrap()));
    let (device_code, user_code) = start(&t, "openid%20email").await;
    assert!(t.server.approve_device(&pending(&t, &user_code).await, approval(None)).await.unwrap());
    let body = assert_tokens(&poll(&t, &device_code, "tv").await, "openid");
    let keys = t.server.keys().unwrap();
    let id: IdTokenClaims = keys.verify(body["id_token"].as_str().unwrap(), "JWT", ISSUER, Some(T0)).unwrap();
    assert_eq!((id.sub.as_str(), id.aud.as_str(), id.auth_time, id.nonce), ("user-admin", "tv", Some(T0 - 30), None));

    let (device_code, user_code) = start(&t, "email").await;
    assert!(t.server.approve_device(&pending(&t, &user_code).await, approval(None)).await.unwrap());
    let body = assert_tokens(&poll(&t, &device_code, "tv").await, "no openid");
    assert!(body.get("id_token").is_none(), "{body}");
}

#[tokio::test]
async fn user_codes_are_normalized_and_wrong_ones_throttled() {
    let t = device_server().await;
    let (_, user_code) = start(&t, "email").await;
    let bare = user_code.replace('-', "");
    for typed in [user_code.clone(), user_code.to_lowercase(), bare.clone(), format!(" {} {} ", &bare[..4], &bare[4..])]
    {
        assert!(t.server.find_device(&typed).await.unwrap().is_some(), "{typed:?}");
    }
    let wrong = if bare.starts_with('B') { "CCCC-CCCC" } else { "BBBB-BBBB" };
    for typed in [wrong, "", "AAAA-AAAA", "BCDF-GHJ", &"B".repeat(1000)] {
        assert_eq!(t.server.find_device(typed).await.unwrap(), None, "{typed:?}");
    }

    // Per session, the `username` limit (5 per 15 minutes by default).
    let ip: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    for i in 1..=5 {
        assert_eq!(t.server.user_code_throttle("session-a", Some(ip)).await.unwrap(), Verdict::Allow, "attempt {i}");
        t.server.user_code_failed("session-a", Some(ip)).await.unwrap();
    }
    assert!(matches!(
        t.server.user_code_throttle("session-a", Some(ip)).await.unwrap(),
        Verdict::Throttled { retry_after: 900 }
    ));
    assert_eq!(t.server.user_code_throttle("session-b", None).await.unwrap(), Verdict::Allow, "per session");
    // Per address, the `address` limit (50 per 15 minutes), across sessions.
    for i in 0..45 {
        t.server.user_code_failed(&format!("fresh-{i}"), Some(ip)).await.unwrap();
    }
    assert!(matches!(t.server.user_code_throttle("session-c", Some(ip)).await.unwrap(), Verdict::Throttled { .. }));
    let other_ip: std::net::IpAddr = "198.51.100.1".parse().unwrap();
    assert_eq!(t.server.user_code_throttle("session-c", Some(other_ip)).await.unwrap(), Verdict::Allow);
    t.clock.advance(900);
    assert_eq!(t.server.user_code_throttle("session-a", Some(ip)).await.unwrap(), Verdict::Allow, "the window ends");
}

#[tokio::test]
async fn metadata_and_policy() {
    let t = device_server().await;
    let m = t.server.metadata();
    assert_eq!(m["device_authorization_endpoint"], "https://auth.example.com/oauth/device_authorization");
    let grants = m["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&"urn:ietf:params:oauth:grant-type:device_code".into()), "{grants:?}");

    let builder = oauth_core::testing::policy_builder;
    for (label, policy, field) in [
        ("no lifetime", builder().device_code_lifetime(0), "device_code_lifetime"),
        ("no interval", builder().device_poll_interval(0), "device_poll_interval"),
        (
            "interval beyond the lifetime",
            builder().device_code_lifetime(60).device_poll_interval(61),
            "device_poll_interval",
        ),
        (
            "a relative verification path",
            builder().paths(oauth_core::policy::EndpointPaths {
                device_verification: "device".into(),
                ..Default::default()
            }),
            "paths.device_verification",
        ),
    ] {
        assert_eq!(policy.build().map(|_| ()).unwrap_err().field, field, "{label}");
    }
    assert!(builder().device_code_lifetime(60).device_poll_interval(60).build().is_ok());
}
