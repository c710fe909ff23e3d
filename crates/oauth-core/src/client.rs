//! Client registrations and client-secret verification.

use std::collections::BTreeSet;

use crate::storage::{ClientStore, StorageError, TokenStore};
use crate::types::{ClientId, GrantType, RedirectUri, ResponseType, ScopeSet, TokenEndpointAuthMethod, TokenHash};

/// A registered client ([RFC 6749 §2](https://www.rfc-editor.org/rfc/rfc6749#section-2)).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Client {
    /// The client identifier.
    pub id: ClientId,
    /// Name shown to users on the consent page.
    pub name: String,
    /// Hash of the client secret; `None` for public clients.
    pub secret: Option<SecretHash>,
    /// The secret replaced by the last rotation ([`Client::rotate_secret`]),
    /// accepted too until it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<PreviousSecret>,
    /// How the client authenticates at the token endpoint.
    pub auth_method: TokenEndpointAuthMethod,
    /// Registered redirect URIs, matched exactly.
    pub redirect_uris: Vec<RedirectUri>,
    /// Grant types the client may use.
    pub grant_types: BTreeSet<GrantType>,
    /// Response types the client may use at the authorization endpoint.
    pub response_types: BTreeSet<ResponseType>,
    /// Scopes the client may request.
    pub scopes: ScopeSet,
    /// Scopes granted when a request omits `scope`.
    pub default_scopes: ScopeSet,
    /// Require PKCE even though the client is confidential (always required for public clients).
    pub require_pkce: bool,
    /// Access token format for this client; the server's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_format: Option<crate::policy::AccessTokenFormat>,
    /// The client must send a DPoP proof with every token request, so its
    /// tokens are always DPoP-bound (RFC 9449 §5.2 `dpop_bound_access_tokens`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// The public keys of a `private_key_jwt` client, as a JWK Set
    /// (`{"keys": [...]}`), registered inline. Exactly one of `jwks` and
    /// [`jwks_uri`](Self::jwks_uri) for `private_key_jwt`, neither otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where the application fetches the JWK Set of a `private_key_jwt`
    /// client (an `https` URL, or `http` on a loopback host). Core does no IO:
    /// the application's [`ClientKeys`](crate::assertion::ClientKeys) fetches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The client must push its authorization requests (RFC 9126 §6):
    /// the authorization endpoint refuses its requests without `request_uri`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// This client follows the FAPI 2.0 Security Profile (see
    /// [`AuthorizationServer::fapi2`](crate::AuthorizationServer::fapi2)).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fapi2: bool,
}

/// Most keys a client may register in its JWK Set.
pub const MAX_CLIENT_KEYS: usize = 16;

/// A client secret replaced by a rotation, still accepted until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PreviousSecret {
    /// Its hash.
    pub hash: SecretHash,
    /// When it stops being accepted (Unix seconds, exclusive).
    pub expires_at: u64,
}

/// Why a client registration is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A confidential auth method without a secret, or a public client with one.
    #[error("client {0}: a secret is required exactly when the auth method is not `none`")]
    SecretMismatch(String),
    /// An auth method this server does not implement.
    #[error("client {0}: unsupported token_endpoint_auth_method")]
    UnsupportedAuthMethod(String),
    /// The default scopes are not all allowed scopes.
    #[error("client {0}: default scopes must be a subset of the allowed scopes")]
    DefaultScopes(String),
    /// A public client registered for `client_credentials`.
    #[error("client {0}: public clients cannot use client_credentials")]
    PublicClientCredentials(String),
    /// The `code` response type without the `authorization_code` grant, or the reverse.
    #[error("client {0}: response type `code` and grant type `authorization_code` go together")]
    CodeWithoutGrant(String),
    /// An empty identifier.
    #[error("client id must not be empty")]
    EmptyId,
    /// `private_key_jwt` without exactly one of `jwks` and `jwks_uri`, or
    /// keys registered for another auth method.
    #[error("client {0}: private_key_jwt needs exactly one of jwks and jwks_uri, and only private_key_jwt uses them")]
    KeysMismatch(String),
    /// The registered JWK Set or `jwks_uri` is unusable.
    #[error("client {0}: {1}")]
    InvalidKeys(String, String),
    /// The `authorization_code` grant or a response type (they redirect) without a redirect URI.
    #[error("client {0}: redirect_uris are required for the authorization_code grant and the implicit grant")]
    MissingRedirectUri(String),
}

impl ClientError {
    /// The [`Client`] field at fault, so an application can name its own
    /// setting (a configuration key, a command-line flag).
    pub fn field(&self) -> &'static str {
        match self {
            Self::SecretMismatch(_) | Self::UnsupportedAuthMethod(_) => "auth_method",
            Self::DefaultScopes(_) => "default_scopes",
            Self::PublicClientCredentials(_) => "grant_types",
            Self::CodeWithoutGrant(_) => "response_types",
            Self::EmptyId => "id",
            Self::KeysMismatch(_) | Self::InvalidKeys(..) => "jwks",
            Self::MissingRedirectUri(_) => "redirect_uris",
        }
    }
}

/// Why [`register`] did not store a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The registration is inconsistent ([`Client::validate`]).
    #[error(transparent)]
    Invalid(#[from] ClientError),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Validates `client` with [`Client::validate`], then stores it: the way to
/// register a client. [`ClientStore::put_client`] itself stores whatever it
/// is given.
pub async fn register<S: ClientStore + ?Sized>(store: &S, client: &Client) -> Result<(), RegisterError> {
    client.validate()?;
    store.put_client(client).await?;
    Ok(())
}

/// Deletes a client and revokes every grant issued to it
/// ([`TokenStore::revoke_client_grants`]): the way to delete a client.
/// [`ClientStore::delete_client`] alone leaves its tokens working until they
/// expire. The grants are revoked even when the client was already gone, so
/// a deletion whose revocation failed can be repeated. Returns whether the
/// client existed and how many grants were revoked.
pub async fn delete<C, T>(clients: &C, tokens: &T, id: &ClientId) -> Result<(bool, u64), StorageError>
where
    C: ClientStore + ?Sized,
    T: TokenStore + ?Sized,
{
    // First the client, so that no new request authenticates it; the token
    // store then refuses the grants of requests already past authentication.
    let existed = clients.delete_client(id).await?;
    let revoked = tokens.revoke_client_grants(id).await?;
    Ok((existed, revoked))
}

impl Client {
    /// A client with the given id and defaults: public until a secret is set,
    /// authorization code and refresh token grants, response type `code`.
    pub fn new(id: impl Into<String>) -> Self {
        let id = ClientId::new(id);
        Self {
            name: id.as_str().to_owned(),
            id,
            secret: None,
            previous_secret: None,
            auth_method: TokenEndpointAuthMethod::None,
            redirect_uris: Vec::new(),
            grant_types: [GrantType::AuthorizationCode, GrantType::RefreshToken].into_iter().collect(),
            response_types: [ResponseType::Code].into_iter().collect(),
            scopes: ScopeSet::empty(),
            default_scopes: ScopeSet::empty(),
            require_pkce: false,
            access_token_format: None,
            dpop_bound_access_tokens: false,
            jwks: None,
            jwks_uri: None,
            require_pushed_authorization_requests: false,
            fapi2: false,
        }
    }

    /// Rotates the secret: `new` becomes the secret, and the current one stays
    /// accepted until `overlap_until` (Unix seconds), so that the client's
    /// deployments can switch over without an outage. A previous secret of an
    /// earlier rotation is forgotten.
    pub fn rotate_secret(&mut self, new: SecretHash, overlap_until: u64) {
        self.previous_secret = self.secret.replace(new).map(|hash| PreviousSecret { hash, expires_at: overlap_until });
    }

    /// True for clients without a secret (`token_endpoint_auth_method = none`).
    pub fn is_public(&self) -> bool {
        self.auth_method == TokenEndpointAuthMethod::None
    }

    /// True for clients that authenticate with a secret (`client_secret_basic`, `client_secret_post`).
    pub fn uses_secret(&self) -> bool {
        matches!(
            self.auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost
        )
    }

    /// True when PKCE is mandatory for this client's authorization requests.
    pub fn pkce_required(&self) -> bool {
        self.is_public() || self.require_pkce
    }

    /// Checks the registration for inconsistencies. [`register`] calls it
    /// before storing a client.
    pub fn validate(&self) -> Result<(), ClientError> {
        let id = || self.id.as_str().to_owned();
        if self.id.as_str().is_empty() {
            return Err(ClientError::EmptyId);
        }
        match self.auth_method {
            TokenEndpointAuthMethod::None
            | TokenEndpointAuthMethod::ClientSecretBasic
            | TokenEndpointAuthMethod::ClientSecretPost
            | TokenEndpointAuthMethod::PrivateKeyJwt => {}
            _ => return Err(ClientError::UnsupportedAuthMethod(id())),
        }
        if self.uses_secret() != self.secret.is_some() {
            return Err(ClientError::SecretMismatch(id()));
        }
        let key_based = self.auth_method == TokenEndpointAuthMethod::PrivateKeyJwt;
        let registered = usize::from(self.jwks.is_some()) + usize::from(self.jwks_uri.is_some());
        if registered != usize::from(key_based) {
            return Err(ClientError::KeysMismatch(id()));
        }
        if let Some(jwks) = &self.jwks {
            crate::assertion::check_jwks(jwks).map_err(|e| ClientError::InvalidKeys(id(), e))?;
        }
        if let Some(uri) = &self.jwks_uri {
            crate::assertion::check_jwks_uri(uri).map_err(|e| ClientError::InvalidKeys(id(), e))?;
        }
        if !self.default_scopes.is_subset(&self.scopes) {
            return Err(ClientError::DefaultScopes(id()));
        }
        if self.is_public() && self.grant_types.contains(&GrantType::ClientCredentials) {
            return Err(ClientError::PublicClientCredentials(id()));
        }
        if self.response_types.contains(&ResponseType::Code) != self.grant_types.contains(&GrantType::AuthorizationCode)
        {
            return Err(ClientError::CodeWithoutGrant(id()));
        }
        // Every response type (`code`, implicit `token`) answers with a redirect.
        let redirects = self.grant_types.contains(&GrantType::AuthorizationCode) || !self.response_types.is_empty();
        if redirects && self.redirect_uris.is_empty() {
            return Err(ClientError::MissingRedirectUri(id()));
        }
        Ok(())
    }
}

/// How a client secret is stored.
///
/// - `Sha256` for secrets the server generated (256 bits of entropy): a fast
///   hash is enough, since guessing is hopeless either way.
/// - `Argon2id` (PHC string) for secrets a human chose. The server verifies
///   them once and caches a keyed digest of the presented value in memory, so
///   the token endpoint does not run Argon2 on every request (see `docs/security.md`).
#[derive(Clone, PartialEq, Eq)]
pub enum SecretHash {
    /// SHA-256 of a high-entropy generated secret.
    Sha256(TokenHash),
    /// An Argon2id PHC string.
    Argon2id(String),
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sha256(_) => f.write_str("SecretHash::Sha256([redacted])"),
            Self::Argon2id(_) => f.write_str("SecretHash::Argon2id([redacted])"),
        }
    }
}

impl SecretHash {
    /// Hashes a generated high-entropy secret with SHA-256.
    pub fn sha256(secret: &str) -> Self {
        Self::Sha256(TokenHash::of(secret))
    }

    /// Hashes a human-chosen secret with Argon2id (production parameters).
    pub fn argon2id(secret: &str) -> Self {
        Self::Argon2id(crate::user::hash_password(secret).into_string())
    }

    /// Parses the stored form: `sha256:<hex>` or an `$argon2id$` PHC string.
    pub fn parse(stored: &str) -> Option<Self> {
        if let Some(hex) = stored.strip_prefix("sha256:") {
            return TokenHash::from_hex(hex).map(Self::Sha256);
        }
        if stored.starts_with("$argon2id$") && argon2::PasswordHash::new(stored).is_ok() {
            return Some(Self::Argon2id(stored.to_owned()));
        }
        None
    }

    /// The stored form, the inverse of [`SecretHash::parse`].
    pub fn to_stored(&self) -> String {
        match self {
            Self::Sha256(h) => format!("sha256:{}", h.to_hex()),
            Self::Argon2id(phc) => phc.clone(),
        }
    }

    /// Verifies a presented secret, without any cache. Constant time for
    /// SHA-256; Argon2's own verification for Argon2id.
    pub fn verify(&self, presented: &str) -> bool {
        match self {
            Self::Sha256(expected) => expected.ct_eq(&TokenHash::of(presented)),
            Self::Argon2id(phc) => crate::user::verify_phc(phc, presented),
        }
    }
}

impl serde::Serialize for SecretHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_stored())
    }
}

impl<'de> serde::Deserialize<'de> for SecretHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        SecretHash::parse(&s).ok_or_else(|| serde::de::Error::custom("invalid secret hash"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;

    #[test]
    fn validate_names_the_field() {
        let mut client = Client::new("app");
        assert_eq!(client.validate().map_err(|e| e.field()), Err("redirect_uris"), "authorization_code redirects");
        client.grant_types = [GrantType::RefreshToken].into_iter().collect();
        assert_eq!(client.validate().map_err(|e| e.field()), Err("response_types"), "code without its grant");
        client.response_types.clear();
        assert_eq!(client.validate(), Ok(()), "nothing redirects");
        client.grant_types.insert(GrantType::ClientCredentials);
        assert_eq!(client.validate().map_err(|e| e.field()), Err("grant_types"), "public client_credentials");
    }

    #[tokio::test]
    async fn register_stores_only_valid_clients() {
        let store = MemoryStore::new();
        let invalid = Client::new("no-redirect");
        assert!(matches!(
            register(&store, &invalid).await,
            Err(RegisterError::Invalid(ClientError::MissingRedirectUri(_)))
        ));
        assert_eq!(store.get_client(&invalid.id).await.map(|c| c.is_some()).ok(), Some(false));
        let mut valid = Client::new("app");
        valid.redirect_uris = vec![RedirectUri::new("https://app.example/cb", false).unwrap()];
        assert!(register(&store, &valid).await.is_ok());
        assert_eq!(store.get_client(&valid.id).await.map(|c| c.is_some()).ok(), Some(true));
    }
}
