//! [`ClientRegistration`]: one client registration, as a `[[clients]]` table
//! of the configuration file or as the flags of `oauth-server client create`,
//! turned into an `oauth_core::client::Client` in one place.

use oauth_core::client::{Client, SecretHash};
use oauth_core::policy::AccessTokenFormat;
use oauth_core::types::{GrantType, RedirectUri, ResponseType, ScopeSet, TokenEndpointAuthMethod};
use serde::Deserialize;

/// A client registration (`[[clients]]`, or the flags of `client create`).
///
/// Its `Debug` output leaves the plain `secret` out.
#[derive(Clone, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistration {
    /// Client identifier, without whitespace (with `client create`: generated when absent).
    #[arg(long)]
    pub id: Option<String>,
    /// Name shown on the consent page (default: the id).
    #[arg(long)]
    pub name: Option<String>,
    /// Plain secret; hashed with Argon2id at load and never kept in plain text.
    #[arg(skip)]
    pub secret: Option<String>,
    /// Stored secret hash (`sha256:<hex>` or an Argon2id PHC string), instead of `secret`.
    #[arg(skip)]
    pub secret_hash: Option<String>,
    /// client_secret_basic (default with a secret), client_secret_post,
    /// private_key_jwt (default with jwks or jwks_uri), or none (a public client, no secret).
    #[arg(long)]
    pub auth_method: Option<String>,
    /// A redirect URI, matched exactly; repeat the flag for several.
    #[arg(long = "redirect-uri")]
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// A grant type; repeat the flag for several (default: authorization_code and refresh_token).
    #[arg(long = "grant-type")]
    pub grant_types: Option<Vec<String>>,
    /// A response type; repeat the flag for several (default: code when authorization_code is allowed).
    #[arg(long = "response-type")]
    pub response_types: Option<Vec<String>>,
    /// Space-separated scopes the client may request.
    #[arg(long = "scope", default_value = "")]
    #[serde(default)]
    pub scopes: String,
    /// Space-separated scopes granted when a request has none.
    #[arg(long = "default-scope", default_value = "")]
    #[serde(default)]
    pub default_scopes: String,
    /// Require PKCE from this confidential client too (public clients always need it).
    #[arg(long)]
    #[serde(default)]
    pub require_pkce: bool,
    /// opaque or jwt access tokens for this client (default: tokens.access_token_format).
    #[arg(long, value_parser = parse_format)]
    pub access_token_format: Option<AccessTokenFormat>,
    /// Require a DPoP proof (RFC 9449) with every token request of this client,
    /// so all its tokens are DPoP-bound.
    #[arg(long)]
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// The client's public keys for private_key_jwt, a JWK Set: in the file a
    /// table (`jwks = { keys = [...] }`) or a JSON string; on the command
    /// line JSON, or `@path` of a JSON file.
    #[arg(long, value_parser = parse_jwks)]
    #[serde(default, deserialize_with = "jwks_value")]
    pub jwks: Option<serde_json::Value>,
    /// Where the server fetches the client's JWK Set for private_key_jwt
    /// (https; http only on a loopback host), instead of jwks.
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// The client must use pushed authorization requests (RFC 9126).
    #[arg(long)]
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Hold this client to the FAPI 2.0 Security Profile (PAR, PKCE S256,
    /// DPoP, private_key_jwt when confidential; docs/security.md).
    #[arg(long)]
    #[serde(default)]
    pub fapi2: bool,
}

/// `jwks` in the file: a table, or a string holding JSON.
fn jwks_value<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<serde_json::Value>, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => serde_json::from_str(&text).map(Some).map_err(serde::de::Error::custom),
        value => Ok(Some(value)),
    }
}

/// `--jwks`: JSON, or `@path` of a JSON file.
fn parse_jwks(value: &str) -> Result<serde_json::Value, String> {
    let text = match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        None => value.to_owned(),
    };
    serde_json::from_str(&text).map_err(|e| format!("not a JSON JWK Set: {e}"))
}

impl std::fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRegistration")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("secret_hash", &self.secret_hash.as_ref().map(|_| "[redacted]"))
            .field("auth_method", &self.auth_method)
            .field("redirect_uris", &self.redirect_uris)
            .field("grant_types", &self.grant_types)
            .field("response_types", &self.response_types)
            .field("scopes", &self.scopes)
            .field("default_scopes", &self.default_scopes)
            .field("require_pkce", &self.require_pkce)
            .field("access_token_format", &self.access_token_format)
            .field("dpop_bound_access_tokens", &self.dpop_bound_access_tokens)
            .field("jwks", &self.jwks)
            .field("jwks_uri", &self.jwks_uri)
            .field("require_pushed_authorization_requests", &self.require_pushed_authorization_requests)
            .field("fapi2", &self.fapi2)
            .finish()
    }
}

/// A registration refused, naming the field at fault (`redirect_uris[1]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationError {
    /// The field, as named in the configuration file, with an index for lists.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for RegistrationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RegistrationError {}

fn refuse(field: impl Into<String>, message: impl ToString) -> RegistrationError {
    RegistrationError { field: field.into(), message: message.to_string() }
}

fn parse_format(value: &str) -> Result<AccessTokenFormat, String> {
    match value {
        "opaque" => Ok(AccessTokenFormat::Opaque),
        "jwt" => Ok(AccessTokenFormat::Jwt),
        _ => Err(format!("{value:?} is not opaque or jwt")),
    }
}

impl ClientRegistration {
    /// The client, with a plain `secret` hashed (Argon2id), checked with
    /// `Client::validate`; `allow_http` accepts plain-http redirect URIs.
    pub fn to_client(&self, allow_http: bool) -> Result<Client, RegistrationError> {
        let id = match &self.id {
            None => return Err(refuse("id", "required")),
            Some(id) if id.is_empty() || id.contains(char::is_whitespace) => {
                return Err(refuse("id", "must be non-empty, without whitespace"));
            }
            Some(id) => id,
        };
        let mut client = Client::new(id.clone());
        client.name = self.name.clone().unwrap_or_else(|| id.clone());
        client.secret = match (&self.secret, &self.secret_hash) {
            (Some(s), None) => Some(SecretHash::argon2id(s)),
            (None, Some(h)) => Some(
                SecretHash::parse(h)
                    .ok_or_else(|| refuse("secret_hash", "not sha256:<hex> or an Argon2id PHC string"))?,
            ),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(refuse("secret", "set at most one of secret and secret_hash")),
        };
        client.auth_method = match self.auth_method.as_deref() {
            None if client.secret.is_some() => TokenEndpointAuthMethod::ClientSecretBasic,
            None if self.jwks.is_some() || self.jwks_uri.is_some() => TokenEndpointAuthMethod::PrivateKeyJwt,
            None => TokenEndpointAuthMethod::None,
            Some(m) => match TokenEndpointAuthMethod::parse(m) {
                TokenEndpointAuthMethod::Extension(_) => {
                    return Err(refuse(
                        "auth_method",
                        format!("{m:?} is not client_secret_basic, client_secret_post, private_key_jwt or none"),
                    ));
                }
                method => method,
            },
        };
        client.redirect_uris = self
            .redirect_uris
            .iter()
            .enumerate()
            .map(|(i, u)| RedirectUri::new(u.clone(), allow_http).map_err(|e| refuse(format!("redirect_uris[{i}]"), e)))
            .collect::<Result<_, _>>()?;
        if let Some(grants) = &self.grant_types {
            client.grant_types = grants
                .iter()
                .enumerate()
                .map(|(i, g)| match GrantType::parse(g) {
                    GrantType::Extension(_) => {
                        Err(refuse(format!("grant_types[{i}]"), format!("unknown grant type {g:?}")))
                    }
                    grant => Ok(grant),
                })
                .collect::<Result<_, _>>()?;
        }
        client.response_types = match &self.response_types {
            Some(types) => types
                .iter()
                .enumerate()
                .map(|(i, t)| match ResponseType::parse(t) {
                    ResponseType::Extension(_) => {
                        Err(refuse(format!("response_types[{i}]"), format!("unknown response type {t:?}")))
                    }
                    rt => Ok(rt),
                })
                .collect::<Result<_, _>>()?,
            None if client.grant_types.contains(&GrantType::AuthorizationCode) => {
                [ResponseType::Code].into_iter().collect()
            }
            None => Default::default(),
        };
        client.scopes = ScopeSet::parse(&self.scopes).map_err(|e| refuse("scopes", e))?;
        client.default_scopes = ScopeSet::parse(&self.default_scopes).map_err(|e| refuse("default_scopes", e))?;
        client.require_pkce = self.require_pkce;
        client.access_token_format = self.access_token_format;
        client.dpop_bound_access_tokens = self.dpop_bound_access_tokens;
        client.jwks = self.jwks.clone();
        client.jwks_uri = self.jwks_uri.clone();
        client.require_pushed_authorization_requests = self.require_pushed_authorization_requests;
        client.fapi2 = self.fapi2;
        client.validate().map_err(|e| refuse(e.field(), e))?;
        Ok(client)
    }
}
