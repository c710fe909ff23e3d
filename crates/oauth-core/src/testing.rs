//! Test fixtures (feature `test-util`): the demo client, a fixed clock and a
//! predictable generator, wired into a ready server.

use std::sync::Arc;

use crate::AuthorizationServer;
use crate::client::{Client, SecretHash};
use crate::clock::FixedClock;
use crate::generate::SequenceGenerator;
use crate::policy::{ServerPolicy, ServerPolicyBuilder};
use crate::storage::{MemoryStore, Stores};
use crate::types::{GrantType, Issuer, RedirectUri, ScopeSet, Subject, TokenEndpointAuthMethod};
use crate::user::{User, hash_password};

/// The issuer of test servers.
pub const ISSUER: &str = "https://auth.example.com";
/// The start time of the fixed clock (2026-01-01T00:00:00Z).
pub const T0: u64 = 1_767_225_600;
/// The demo redirect URI.
pub const REDIRECT: &str = "https://www.example.com/redirect";

/// The aioauth demo client: `test_client` / `password`, client_secret_basic,
/// redirect `https://www.example.com/redirect`, scope `email`,
/// authorization_code and refresh_token.
pub fn demo_client() -> Client {
    let mut client = Client::new("test_client");
    client.name = "Test Client".into();
    client.secret = Some(SecretHash::argon2id("password"));
    client.auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
    client.redirect_uris = vec![redirect_uri(REDIRECT)];
    client.scopes = scopes("email");
    client
}

/// A public client (`public_client`, PKCE required) with the same redirect URI and scopes `email profile`.
pub fn public_client() -> Client {
    let mut client = Client::new("public_client");
    client.redirect_uris = vec![redirect_uri(REDIRECT), redirect_uri("http://127.0.0.1:9000/cb")];
    client.scopes = scopes("email profile");
    client
}

/// A confidential machine client (`machine`, secret `machine-secret`, SHA-256 hash,
/// client_secret_post) for client_credentials, scopes `read write`, default `read`.
pub fn machine_client() -> Client {
    let mut client = Client::new("machine");
    client.secret = Some(SecretHash::sha256("machine-secret"));
    client.auth_method = TokenEndpointAuthMethod::ClientSecretPost;
    client.grant_types = [GrantType::ClientCredentials].into_iter().collect();
    client.response_types.clear();
    client.scopes = scopes("read write");
    client.default_scopes = scopes("read");
    client
}

/// The demo user `admin` / `admin`, subject `user-admin`.
pub fn demo_user() -> User {
    User {
        subject: Subject::new("user-admin"),
        username: "admin".into(),
        password_hash: hash_password("admin"),
        claims: Default::default(),
    }
}

/// Parses a scope list, panicking on bad input (fixtures only).
pub fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap_or_else(|e| panic!("fixture scope {s:?}: {e}"))
}

/// Parses a redirect URI, panicking on bad input (fixtures only).
pub fn redirect_uri(s: &str) -> RedirectUri {
    RedirectUri::new(s, false).unwrap_or_else(|e| panic!("fixture redirect URI {s:?}: {e}"))
}

/// The test issuer, [`ISSUER`].
pub fn issuer() -> Issuer {
    Issuer::new(ISSUER, false).unwrap_or_else(|e| panic!("fixture issuer: {e}"))
}

/// The demo's policy: [`ISSUER`], access tokens 300 s, refresh tokens 900 s.
pub fn policy_builder() -> ServerPolicyBuilder {
    ServerPolicy::builder(issuer()).access_token_lifetime(300).refresh_token_lifetime(900)
}

/// A server on a [`MemoryStore`] with a fixed clock at [`T0`], a sequence
/// generator, the three fixture clients and the demo user.
#[derive(Debug)]
pub struct TestServer {
    /// The server.
    pub server: AuthorizationServer,
    /// Its store.
    pub store: Arc<MemoryStore>,
    /// Its clock.
    pub clock: Arc<FixedClock>,
}

impl TestServer {
    /// Builds the server with the demo's policy adjusted by `tweak`; panics
    /// if the result is invalid (fixtures only).
    pub async fn with_policy(tweak: impl FnOnce(ServerPolicyBuilder) -> ServerPolicyBuilder) -> Self {
        use crate::storage::{ClientStore as _, UserStore as _};
        let clock = Arc::new(FixedClock::new(T0));
        let store = Arc::new(MemoryStore::with_clock(clock.clone()));
        for client in [demo_client(), public_client(), machine_client()] {
            store.put_client(&client).await.unwrap_or_else(|e| panic!("{e}"));
        }
        store.put_user(&demo_user()).await.unwrap_or_else(|e| panic!("{e}"));
        let policy = tweak(policy_builder()).build().unwrap_or_else(|e| panic!("fixture policy: {e}"));
        let server = AuthorizationServer::new(policy, Stores::single(store.clone()))
            .with_clock(clock.clone())
            .with_generator(Arc::new(SequenceGenerator::new("tok")));
        Self { server, store, clock }
    }

    /// Builds the server with the demo's policy (access 300 s, refresh 900 s).
    pub async fn new() -> Self {
        Self::with_policy(|p| p).await
    }
}

/// Now on the wall clock: stores expire records with their own clock, so
/// store tests build records against real time.
pub fn wall_clock_now() -> u64 {
    use crate::clock::Clock as _;
    crate::clock::SystemClock.now()
}

/// A code record for store tests: client `c`, subject `s`, scope `a b`, a
/// PKCE challenge and a nonce, issued now, expiring at `expires_at`.
pub fn code_record(grant_id: &str, expires_at: u64) -> crate::storage::CodeRecord {
    let now = wall_clock_now();
    crate::storage::CodeRecord {
        grant_id: crate::types::GrantId::new(grant_id),
        client_id: "c".into(),
        redirect_uri: redirect_uri("https://c.example/cb"),
        redirect_uri_sent: true,
        scope: scopes("a b"),
        subject: "s".into(),
        code_challenge: Some((
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            crate::types::CodeChallengeMethod::S256,
        )),
        nonce: Some("n".into()),
        auth_time: now,
        dpop_jkt: None,
        issued_at: now,
        expires_at,
    }
}

/// A grant record for store tests: client `c`, subject `s`, scope `a b`,
/// issued now, living `lifetime` seconds.
pub fn grant_record(id: &str, lifetime: u64) -> crate::storage::GrantRecord {
    let now = wall_clock_now();
    crate::storage::GrantRecord {
        id: crate::types::GrantId::new(id),
        client_id: "c".into(),
        subject: Some("s".into()),
        scope: scopes("a b"),
        issued_at: now,
        expires_at: now + lifetime,
        auth_time: Some(now),
    }
}

/// A token record of `grant`, issued now, living `lifetime` seconds.
pub fn token_record(grant: &crate::storage::GrantRecord, lifetime: u64) -> crate::storage::TokenRecord {
    let now = wall_clock_now();
    crate::storage::TokenRecord {
        grant_id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        subject: grant.subject.clone(),
        scope: grant.scope.clone(),
        issued_at: now,
        expires_at: now + lifetime,
        grant_expires_at: grant.expires_at,
        auth_time: grant.auth_time,
        jkt: None,
        exchange: None,
    }
}

/// New tokens of `grant`: an access token `<grant id>.<access>` living 300 s
/// and, with `refresh`, a refresh token living 900 s; with their keys.
pub fn family_tokens(
    grant: &crate::storage::GrantRecord,
    access: &str,
    refresh: Option<&str>,
) -> (crate::types::TokenKey, Option<crate::types::TokenKey>, crate::storage::NewTokens) {
    let key = |secret: &str| {
        crate::types::TokenKey::of(&format!("{}.{secret}", grant.id))
            .unwrap_or_else(|| panic!("fixture token {secret:?} is not of the token form"))
    };
    let access = key(access);
    let refresh = refresh.map(key);
    let tokens = crate::storage::NewTokens {
        access: (access.hash, token_record(grant, 300)),
        refresh: refresh.as_ref().map(|k| (k.hash, token_record(grant, 900))),
    };
    (access, refresh, tokens)
}

/// A store whose every call fails, to test that storage failures become
/// `temporarily_unavailable` and never a panic or a half-issued grant.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailingStore;

mod failing {
    use async_trait::async_trait;

    use super::FailingStore;
    use crate::client::Client;
    use crate::device::DeviceKey;
    use crate::storage::*;
    use crate::types::{ClientId, GrantId, ScopeSet, Subject, TokenHash, TokenKey};
    use crate::user::User;

    fn down<T>() -> StorageResult<T> {
        Err(StorageError::Backend("backend down (FailingStore)".into()))
    }

    #[async_trait]
    impl ClientStore for FailingStore {
        async fn get_client(&self, _: &ClientId) -> StorageResult<Option<std::sync::Arc<Client>>> {
            down()
        }
        async fn put_client(&self, _: &Client) -> StorageResult<()> {
            down()
        }
        async fn delete_client(&self, _: &ClientId) -> StorageResult<bool> {
            down()
        }
        async fn list_clients(&self) -> StorageResult<Vec<Client>> {
            down()
        }
    }

    #[async_trait]
    impl CodeStore for FailingStore {
        async fn put_code(&self, _: &TokenHash, _: &CodeRecord) -> StorageResult<()> {
            down()
        }
        async fn take_code(&self, _: &TokenHash) -> StorageResult<CodeTake> {
            down()
        }
    }

    #[async_trait]
    impl TokenStore for FailingStore {
        async fn create_grant(&self, _: &GrantRecord, _: &NewTokens) -> StorageResult<bool> {
            down()
        }
        async fn get_access_token(&self, _: &TokenKey) -> StorageResult<Option<TokenRecord>> {
            down()
        }
        async fn get_refresh_token(&self, _: &TokenKey) -> StorageResult<RefreshLookup> {
            down()
        }
        async fn refresh(&self, _: &TokenKey, _: &RefreshRequest) -> StorageResult<RefreshOutcome> {
            down()
        }
        async fn add_access_token(&self, _: &TokenKey, _: &TokenRecord) -> StorageResult<bool> {
            down()
        }
        async fn revoke_access_token(&self, _: &TokenKey) -> StorageResult<()> {
            down()
        }
        async fn revoke_grant(&self, _: &GrantId) -> StorageResult<()> {
            down()
        }
        async fn revoke_client_grants(&self, _: &ClientId) -> StorageResult<u64> {
            down()
        }
    }

    #[async_trait]
    impl UserStore for FailingStore {
        async fn find_user(&self, _: &str) -> StorageResult<Option<User>> {
            down()
        }
        async fn get_user(&self, _: &Subject) -> StorageResult<Option<User>> {
            down()
        }
        async fn put_user(&self, _: &User) -> StorageResult<()> {
            down()
        }
    }

    #[async_trait]
    impl crate::storage::ThrottleStore for FailingStore {
        async fn record_failure(
            &self,
            _: &crate::throttle::ThrottleKey,
            _: u64,
        ) -> StorageResult<crate::throttle::Failures> {
            down()
        }
        async fn failures(&self, _: &crate::throttle::ThrottleKey) -> StorageResult<crate::throttle::Failures> {
            down()
        }
        async fn clear_failures(&self, _: &crate::throttle::ThrottleKey) -> StorageResult<()> {
            down()
        }
    }

    #[async_trait]
    impl ConsentStore for FailingStore {
        async fn get_consent(&self, _: &Subject, _: &ClientId) -> StorageResult<Option<ScopeSet>> {
            down()
        }
        async fn put_consent(&self, _: &Subject, _: &ClientId, _: &ScopeSet, _: u64) -> StorageResult<()> {
            down()
        }
        async fn revoke_consent(&self, _: &Subject, _: &ClientId) -> StorageResult<bool> {
            down()
        }
    }

    #[async_trait]
    impl DeviceStore for FailingStore {
        async fn put_device(&self, _: &DeviceKey, _: &DeviceKey, _: &DeviceRecord) -> StorageResult<bool> {
            down()
        }
        async fn find_device(&self, _: &DeviceKey) -> StorageResult<Option<(DeviceKey, DeviceRecord)>> {
            down()
        }
        async fn decide_device(&self, _: &DeviceKey, _: &DeviceDecision, _: u64) -> StorageResult<DecideOutcome> {
            down()
        }
        async fn poll_device(&self, _: &DeviceKey, _: &DevicePoll) -> StorageResult<PollOutcome> {
            down()
        }
    }

    #[async_trait]
    impl OnceStore for FailingStore {
        async fn put_once(&self, _: &TokenHash, _: &[u8], _: u64) -> StorageResult<bool> {
            down()
        }
        async fn take_once(&self, _: &TokenHash) -> StorageResult<Option<Vec<u8>>> {
            down()
        }
    }
}
