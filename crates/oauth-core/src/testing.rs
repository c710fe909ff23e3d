//! Test fixtures (feature `test-util`): the demo client, a fixed clock and a
//! predictable generator, wired into a ready server.

use std::sync::Arc;

use crate::AuthorizationServer;
use crate::client::{Client, SecretHash};
use crate::clock::FixedClock;
use crate::generate::SequenceGenerator;
use crate::policy::ServerPolicy;
use crate::storage::{MemoryStore, Stores};
use crate::types::{GrantType, RedirectUri, ScopeSet, Subject, TokenEndpointAuthMethod};
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
    /// Builds the server with a policy adjusted by `tweak`.
    pub async fn with_policy(tweak: impl FnOnce(&mut ServerPolicy)) -> Self {
        use crate::storage::{ClientStore as _, UserStore as _};
        let clock = Arc::new(FixedClock::new(T0));
        let store = Arc::new(MemoryStore::with_clock(clock.clone()));
        for client in [demo_client(), public_client(), machine_client()] {
            store.put_client(&client).await.unwrap_or_else(|e| panic!("{e}"));
        }
        store.put_user(&demo_user()).await.unwrap_or_else(|e| panic!("{e}"));
        let mut policy = ServerPolicy::new(ISSUER);
        policy.access_token_lifetime = 300;
        policy.refresh_token_lifetime = 900;
        tweak(&mut policy);
        let server = AuthorizationServer::new(policy, Stores::single(store.clone()))
            .with_clock(clock.clone())
            .with_generator(Arc::new(SequenceGenerator::new("tok")));
        Self { server, store, clock }
    }

    /// Builds the server with the demo's policy (access 300 s, refresh 900 s).
    pub async fn new() -> Self {
        Self::with_policy(|_| {}).await
    }
}

/// A store whose every call fails, to test that storage failures become
/// `temporarily_unavailable` and never a panic or a half-issued grant.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailingStore;

mod failing {
    use async_trait::async_trait;

    use super::FailingStore;
    use crate::client::Client;
    use crate::storage::*;
    use crate::types::{ClientId, GrantId, ScopeSet, Subject, TokenHash, TokenKey};
    use crate::user::User;

    fn down<T>() -> StorageResult<T> {
        Err(StorageError::Backend("backend down (FailingStore)".into()))
    }

    #[async_trait]
    impl ClientStore for FailingStore {
        async fn get_client(&self, _: &ClientId) -> StorageResult<Option<Client>> {
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
        async fn create_grant(&self, _: &GrantRecord, _: &NewTokens) -> StorageResult<()> {
            down()
        }
        async fn get_access_token(&self, _: &TokenKey) -> StorageResult<Option<TokenRecord>> {
            down()
        }
        async fn get_refresh_token(&self, _: &TokenKey) -> StorageResult<RefreshLookup> {
            down()
        }
        async fn rotate_refresh(&self, _: &TokenKey, _: &NewTokens) -> StorageResult<RotateOutcome> {
            down()
        }
        async fn revoke_access_token(&self, _: &TokenKey) -> StorageResult<()> {
            down()
        }
        async fn revoke_grant(&self, _: &GrantId) -> StorageResult<()> {
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
    impl SessionStore for FailingStore {
        async fn load_session(&self, _: &TokenHash) -> StorageResult<Option<String>> {
            down()
        }
        async fn save_session(&self, _: &TokenHash, _: &str, _: u64) -> StorageResult<()> {
            down()
        }
        async fn delete_session(&self, _: &TokenHash) -> StorageResult<()> {
            down()
        }
        async fn ping(&self) -> StorageResult<()> {
            down()
        }
    }
}
