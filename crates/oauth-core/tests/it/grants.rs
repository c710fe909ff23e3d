//! The grant seam: an extension grant registered by the embedder, replacing a
//! built-in grant, and Argon2 checks run on the server's `Offload`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oauth_core::client::Client;
use oauth_core::grant::{GrantHandler, GrantRequest, Issued, NewGrant};
use oauth_core::offload::{Job, Offload, Saturated};
use oauth_core::storage::ClientStore as _;
use oauth_core::testing::{TestServer, scopes};
use oauth_core::types::{GrantType, Subject};
use oauth_core::{AuthorizationServer, ErrorCode, OAuthError};

use crate::support::{assert_error, assert_tokens, basic, demo_auth, introspect, token};

const KIOSK: &str = "urn:example:params:oauth:grant-type:kiosk-ticket";
const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Exchanges a ticket (`t-1` belongs to alice) for tokens of its user.
#[derive(Debug)]
struct KioskTicket;

#[async_trait::async_trait]
impl GrantHandler for KioskTicket {
    fn grant_type(&self) -> GrantType {
        GrantType::parse(KIOSK)
    }

    async fn handle(&self, server: &AuthorizationServer, req: GrantRequest<'_>) -> Result<Issued, OAuthError> {
        let ticket =
            req.param("ticket")?.ok_or_else(|| OAuthError::invalid_request("The ticket parameter is missing"))?;
        if ticket != "t-1" {
            return Err(OAuthError::invalid_grant("The ticket is invalid"));
        }
        let scope = server.requested_scope(&req.request.form, req.client)?;
        let grant = NewGrant {
            subject: Some(Subject::new("alice")),
            scope,
            auth_time: None,
            refresh: true,
            jkt: req.dpop_jkt(),
        };
        server.issue(req.client, grant).await
    }
}

async fn kiosk_server() -> TestServer {
    let mut t = TestServer::new().await;
    t.server = t.server.with_grant(Arc::new(KioskTicket));
    let mut kiosk = Client::new("kiosk");
    kiosk.secret = Some(oauth_core::client::SecretHash::sha256("kiosk-secret"));
    kiosk.auth_method = oauth_core::types::TokenEndpointAuthMethod::ClientSecretBasic;
    kiosk.grant_types = [GrantType::parse(KIOSK), GrantType::RefreshToken].into_iter().collect();
    kiosk.response_types.clear();
    kiosk.scopes = scopes("read");
    kiosk.default_scopes = scopes("read");
    t.store.put_client(&kiosk).await.unwrap();
    t
}

#[tokio::test]
async fn an_extension_grant_is_dispatched_advertised_and_issues_real_tokens() {
    let t = kiosk_server().await;
    let supported = t.server.metadata()["grant_types_supported"].clone();
    assert_eq!(
        supported,
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE, KIOSK]),
        "registered grants are advertised in registration order"
    );
    let kiosk = basic("kiosk", "kiosk-secret");
    let grant_type = url::form_urlencoded::byte_serialize(KIOSK.as_bytes()).collect::<String>();

    let body = assert_tokens(&token(&t, &format!("grant_type={grant_type}&ticket=t-1"), Some(&kiosk)).await, "kiosk");
    assert_eq!(body["scope"], "read");
    assert_eq!(body["expires_in"], 300);
    assert!(body["refresh_token"].is_string(), "refresh requested and the client may refresh: {body}");
    let active = introspect(&t, body["access_token"].as_str().unwrap(), &kiosk).await;
    assert_eq!((active["active"].as_bool(), active["sub"].as_str()), (Some(true), Some("alice")), "{active}");

    // Its refresh token works with the built-in refresh grant.
    let refresh = body["refresh_token"].as_str().unwrap();
    assert_tokens(
        &token(&t, &format!("grant_type=refresh_token&refresh_token={refresh}"), Some(&kiosk)).await,
        "refresh",
    );

    let cases: &[(&str, Option<&str>, u16, &str)] = &[
        ("bad ticket", Some("ticket=t-2"), 400, "invalid_grant"),
        ("no ticket", Some(""), 400, "invalid_request"),
        ("repeated ticket", Some("ticket=t-1&ticket=t-1"), 400, "invalid_request"),
    ];
    for (label, extra, status, code) in cases {
        let body = format!("grant_type={grant_type}&{}", extra.unwrap_or(""));
        assert_error(&token(&t, &body, Some(&kiosk)).await, *status, code, label);
    }
    // A client not registered for the grant, and a grant nobody registered.
    let machine = format!("grant_type={grant_type}&ticket=t-1&client_id=machine&client_secret=machine-secret");
    assert_error(&token(&t, &machine, None).await, 400, "unauthorized_client", "machine client");
    assert_error(
        &token(&t, "grant_type=urn%3Aexample%3Aother&ticket=t-1", Some(&kiosk)).await,
        400,
        "unsupported_grant_type",
        "unregistered grant",
    );
    // The password grant is not registered unless the policy allows it.
    assert_error(
        &token(&t, "grant_type=password&username=admin&password=admin", Some(&demo_auth())).await,
        400,
        "unsupported_grant_type",
        "password off",
    );
}

/// A client_credentials replacement that refuses every request.
#[derive(Debug)]
struct NoMachines;

#[async_trait::async_trait]
impl GrantHandler for NoMachines {
    fn grant_type(&self) -> GrantType {
        GrantType::ClientCredentials
    }

    async fn handle(&self, _: &AuthorizationServer, _: GrantRequest<'_>) -> Result<Issued, OAuthError> {
        Err(OAuthError::new(ErrorCode::AccessDenied, "Machines are off today"))
    }
}

#[tokio::test]
async fn a_handler_for_a_built_in_grant_type_replaces_it() {
    let mut t = TestServer::new().await;
    let form = "grant_type=client_credentials&client_id=machine&client_secret=machine-secret";
    assert_tokens(&token(&t, form, None).await, "built-in");
    t.server = t.server.with_grant(Arc::new(NoMachines));
    assert_error(&token(&t, form, None).await, 400, "access_denied", "replaced");
    let supported = t.server.metadata()["grant_types_supported"].clone();
    assert_eq!(
        supported,
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE])
    );
}

/// Counts the jobs it runs; refuses all of them when `full`.
#[derive(Debug, Default)]
struct CountingPool {
    jobs: AtomicUsize,
    full: bool,
}

#[async_trait::async_trait]
impl Offload for CountingPool {
    async fn run(&self, job: Job) -> Result<bool, Saturated> {
        if self.full {
            return Err(Saturated);
        }
        self.jobs.fetch_add(1, Ordering::SeqCst);
        Ok(job())
    }
}

#[tokio::test]
async fn argon2_checks_run_on_the_offload_and_a_full_pool_is_a_503() {
    let pool = Arc::new(CountingPool::default());
    let mut t = TestServer::new().await;
    t.server = t.server.with_offload(pool.clone());
    let form = "grant_type=client_credentials&scope=email";
    // The demo client's secret is an Argon2id hash: wrong secrets run Argon2 every time.
    for round in 1..=2 {
        let response = token(&t, form, Some(&basic("test_client", "wrong"))).await;
        assert_error(&response, 401, "invalid_client", "wrong secret");
        assert_eq!(pool.jobs.load(Ordering::SeqCst), round, "every wrong secret is verified on the pool");
    }
    // The right one is verified once, then answered from the cache of verified secrets.
    for _ in 0..2 {
        let response = token(&t, form, Some(&demo_auth())).await;
        assert_error(&response, 400, "unauthorized_client", "authenticated, but not for this grant");
    }
    assert_eq!(pool.jobs.load(Ordering::SeqCst), 3, "one verification for two requests");

    // A full pool: 503 with Retry-After for a secret that needs Argon2 ...
    let mut t = TestServer::new().await;
    t.server = t.server.with_offload(Arc::new(CountingPool { full: true, ..Default::default() }));
    let busy = token(&t, form, Some(&demo_auth())).await;
    assert_error(&busy, 503, "temporarily_unavailable", "saturated");
    assert_eq!(busy.header("retry-after"), Some("1"));
    // ... while clients with generated (SHA-256) secrets never touch the pool.
    let machine = "grant_type=client_credentials&client_id=machine&client_secret=machine-secret";
    assert_tokens(&token(&t, machine, None).await, "sha-256 secret");
}

#[tokio::test]
async fn the_password_grant_verifies_on_the_offload() {
    let pool = Arc::new(CountingPool::default());
    let mut t = TestServer::with_policy(|p| p.allow_password_grant(true)).await;
    t.server = t.server.with_offload(pool.clone());
    let mut demo = oauth_core::testing::demo_client();
    demo.grant_types.insert(GrantType::Password);
    demo.secret = Some(oauth_core::client::SecretHash::sha256("password"));
    t.store.put_client(&demo).await.unwrap();
    let cases = [
        ("right password", "username=admin&password=admin", 200),
        ("wrong password", "username=admin&password=nope", 400),
        ("unknown user", "username=nobody&password=admin", 400),
    ];
    for (i, (label, creds, status)) in cases.into_iter().enumerate() {
        let response = token(&t, &format!("grant_type=password&{creds}"), Some(&demo_auth())).await;
        assert_eq!(response.status, status, "{label}: {response:?}");
        assert_eq!(pool.jobs.load(Ordering::SeqCst), i + 1, "{label}: one Argon2 check on the pool");
    }
}
