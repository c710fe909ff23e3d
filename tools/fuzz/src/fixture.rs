//! The engine the targets talk to: an `AuthorizationServer` on a
//! `MemoryStore` with a few clients of every kind, built once per process.
//!
//! Client secrets are SHA-256 hashes, not Argon2: a wrong secret then costs
//! microseconds, so the search is not spent hashing.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use oauth_core::client::{Client, SecretHash};
use oauth_core::jose::{KeySet, SigningAlg, SigningKey};
use oauth_core::policy::{AccessTokenFormat, ServerPolicy};
use oauth_core::storage::{MemoryStore, Stores, UserStore as _};
use oauth_core::types::{GrantType, Issuer, RedirectUri, ResponseType, ScopeSet, Subject, TokenEndpointAuthMethod};
use oauth_core::user::{User, hash_password};
use oauth_core::{AuthorizationServer, OAuthRequest};

/// The issuer.
pub(crate) const ISSUER: &str = "https://auth.example.com";

/// A registered client: id, secret (for the fixture's own flows) and redirect URIs.
pub(crate) struct FixtureClient {
    pub(crate) id: &'static str,
    pub(crate) secret: Option<&'static str>,
    pub(crate) redirect_uris: &'static [&'static str],
}

/// The clients. `conf` uses HTTP Basic, `post` the form, `pub` is public
/// (loopback and private-use redirect URIs), `jwt` gets JWT access tokens.
pub(crate) const CLIENTS: &[FixtureClient] = &[
    FixtureClient {
        id: "conf",
        secret: Some("conf-secret"),
        redirect_uris: &["https://client.example/cb", "https://client.example/cb2?x=1"],
    },
    FixtureClient { id: "post", secret: Some("post-secret"), redirect_uris: &[] },
    FixtureClient {
        id: "pub",
        secret: None,
        redirect_uris: &[
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/cb",
            "https://pub.example/cb",
        ],
    },
    FixtureClient { id: "jwt", secret: Some("jwt-secret"), redirect_uris: &["https://jwt.example/cb"] },
];

/// The PKCE verifier the fixture's own flows use (and the seeds).
pub(crate) const VERIFIER: &str = "fuzz-verifier-0123456789abcdefghijklmnopqrstuvwxyz";

pub(crate) struct Fixture {
    pub(crate) server: AuthorizationServer,
    pub(crate) keys: Arc<KeySet>,
}

/// The fixture, built on first use.
pub(crate) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap_or_else(|e| panic!("fixture scope {s:?}: {e}"))
}

fn client(c: &FixtureClient) -> Client {
    let mut client = Client::new(c.id);
    client.redirect_uris = c
        .redirect_uris
        .iter()
        .map(|u| RedirectUri::new(*u, true).unwrap_or_else(|e| panic!("fixture redirect URI {u}: {e}")))
        .collect();
    client.scopes = scopes("openid email profile read write offline_access");
    if let Some(secret) = c.secret {
        client.secret = Some(SecretHash::sha256(secret));
        client.auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
    }
    match c.id {
        "conf" => {
            client.grant_types.extend([GrantType::ClientCredentials, GrantType::Password]);
            client.response_types.insert(ResponseType::Token);
        }
        "post" => {
            client.auth_method = TokenEndpointAuthMethod::ClientSecretPost;
            client.grant_types = [GrantType::ClientCredentials, GrantType::RefreshToken].into_iter().collect();
            client.response_types.clear();
            client.scopes = scopes("read write");
            client.default_scopes = scopes("read");
        }
        "jwt" => client.access_token_format = Some(AccessTokenFormat::Jwt),
        "pub" => {
            client.grant_types.insert(GrantType::DeviceCode);
        }
        _ => {}
    }
    client
}

fn build() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let issuer = Issuer::new(ISSUER, false).unwrap_or_else(|e| panic!("fixture issuer: {e}"));
    let policy = ServerPolicy::builder(issuer)
        .allow_implicit(true)
        .allow_password_grant(true)
        .build()
        .unwrap_or_else(|e| panic!("fixture policy: {e}"));
    let server = AuthorizationServer::new(policy, Stores::single(store.clone()));
    block_on(async {
        for c in CLIENTS {
            oauth_core::client::register(store.as_ref(), &client(c)).await.unwrap_or_else(|e| panic!("{}: {e}", c.id));
        }
        let user = User {
            subject: Subject::new("user-1"),
            username: "alice".into(),
            password_hash: hash_password("alice-password"),
            claims: Default::default(),
        };
        store.put_user(&user).await.unwrap_or_else(|e| panic!("fixture user: {e}"));
    });
    let key = SigningKey::generate("fuzz", SigningAlg::ES256).unwrap_or_else(|e| panic!("fixture key: {e}"));
    let keys = KeySet::new(vec![key], "fuzz").unwrap_or_else(|e| panic!("fixture key set: {e}"));
    server.set_keys(Some(keys));
    let keys = server.keys().unwrap_or_else(|| panic!("keys were just installed"));
    Fixture { server, keys }
}

/// Runs a future of the engine to completion. On a `MemoryStore` with the
/// inline offload nothing ever waits, so it completes on the first poll; a
/// future that stays pending is a finding.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::yield_now();
    }
    panic!("an engine future on the memory store did not complete")
}

/// The value of parameter `name` in the query or fragment of a URL.
pub(crate) fn url_param(location: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(location).ok()?;
    let fragment = url.fragment().unwrap_or_default().to_owned();
    url.query_pairs()
        .chain(url::form_urlencoded::parse(fragment.as_bytes()))
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Fixture {
    /// A fresh authorization code for `client` (PKCE with [`VERIFIER`]),
    /// through the real authorize and approve steps.
    pub(crate) fn fresh_code(&self, client: &FixtureClient, scope: &str) -> Option<String> {
        let challenge = oauth_core::pkce::s256_challenge(VERIFIER);
        let redirect = client.redirect_uris.first()?;
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client.id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", scope)
            .append_pair("state", "s")
            .append_pair("nonce", "n")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let pending = block_on(self.server.authorize(&OAuthRequest::get(&query).secure())).ok()?;
        let approval =
            oauth_core::Approval { subject: Subject::new("user-1"), scope: None, auth_time: self.server.now() };
        let response = block_on(self.server.approve(&pending, approval)).ok()?;
        url_param(response.location()?, "code")
    }

    /// A fresh device code (RFC 8628) of the `pub` client, approved by
    /// `user-1` when `approve`, else still waiting for the user.
    pub(crate) fn fresh_device_code(&self, approve: bool) -> Option<String> {
        let request = OAuthRequest::post_form("client_id=pub&scope=openid%20email").secure();
        let body = block_on(self.server.device_authorization(&request)).json_body()?;
        let device_code = body["device_code"].as_str()?.to_owned();
        if approve {
            let pending = block_on(self.server.find_device(body["user_code"].as_str()?)).ok()??;
            let approval =
                oauth_core::Approval { subject: Subject::new("user-1"), scope: None, auth_time: self.server.now() };
            if !block_on(self.server.approve_device(&pending, approval)).ok()? {
                return None;
            }
        }
        Some(device_code)
    }

    /// A fresh refresh token of the `conf` client.
    pub(crate) fn fresh_refresh_token(&self) -> Option<String> {
        let conf = &CLIENTS[0];
        let code = self.fresh_code(conf, "openid offline_access email")?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", conf.redirect_uris[0])
            .append_pair("code_verifier", VERIFIER)
            .finish();
        let request =
            OAuthRequest::post_form(&form).with_header("Authorization", &basic("conf", "conf-secret")).secure();
        let response = block_on(self.server.token(&request));
        response.json_body()?.get("refresh_token")?.as_str().map(str::to_owned)
    }
}

/// `Basic base64(id:secret)` (both plain: the fixture's ids and secrets need no escaping).
pub(crate) fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}
