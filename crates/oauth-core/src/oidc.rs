//! OpenID Connect pieces: claims by scope, the ID token and the JWT access
//! token payloads ([OpenID Connect Core 1.0](https://openid.net/specs/openid-connect-core-1_0.html),
//! [RFC 9068](https://www.rfc-editor.org/rfc/rfc9068)).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::ScopeSet;

/// Claims released for each standard scope (OpenID Connect Core §5.4).
const SCOPE_CLAIMS: [(&str, &[&str]); 4] = [
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// Claims every ID token may carry, besides those of the scopes.
const TOKEN_CLAIMS: [&str; 8] = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"];

/// Every claim the server can release (for discovery's `claims_supported`).
pub fn claims_supported() -> Vec<&'static str> {
    TOKEN_CLAIMS.iter().copied().chain(SCOPE_CLAIMS.iter().flat_map(|(_, claims)| claims.iter().copied())).collect()
}

/// The user's claims that the granted scopes release.
pub fn claims_for_scope(
    scope: &ScopeSet,
    claims: &BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for (s, names) in SCOPE_CLAIMS {
        if scope.contains(s) {
            for name in names {
                if let Some(value) = claims.get(*name) {
                    out.insert((*name).to_owned(), value.clone());
                }
            }
        }
    }
    out
}

/// The payload of an ID token (OpenID Connect Core §2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience: the client id.
    pub aud: String,
    /// Expiry.
    pub exp: u64,
    /// Issue time.
    pub iat: u64,
    /// When the user authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The authorization request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Left half of the hash of the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Profile claims released by the scopes.
    #[serde(flatten)]
    pub claims: BTreeMap<String, serde_json::Value>,
}

/// The payload of a JWT access token (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Expiry.
    pub exp: u64,
    /// Audience: the resource.
    pub aud: String,
    /// The resource owner, or the client for client_credentials.
    pub sub: String,
    /// The client.
    pub client_id: String,
    /// Issue time.
    pub iat: u64,
    /// The reference token: revocation and introspection look it up.
    pub jti: String,
    /// Granted scope.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// When the user authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The key the token is bound to (RFC 9449 §6.1), for DPoP-bound tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// The actor of a token issued by token exchange, prior actors nested
    /// (RFC 8693 §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<crate::exchange::Actor>,
}

/// The `cnf` claim of a DPoP-bound token (RFC 7800 §3.1, RFC 9449 §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the DPoP key.
    pub jkt: String,
}

/// `prompt` values (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// `none`: no page may be shown.
    pub none: bool,
    /// `login`: authenticate again.
    pub login: bool,
    /// `consent`: ask for consent again.
    pub consent: bool,
}

impl Prompt {
    /// Parses a space-separated `prompt`; `none` with anything else, or an
    /// unknown value, is an error (`select_account` is accepted and needs nothing here).
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let mut prompt = Self::default();
        let mut count = 0;
        for v in value.split(' ').filter(|v| !v.is_empty()) {
            count += 1;
            match v {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => {}
                _ => return Err("Unsupported prompt value"),
            }
        }
        if prompt.none && count > 1 {
            return Err("prompt=none cannot be combined with other values");
        }
        Ok(prompt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_table() {
        let rows: &[(&str, Result<(bool, bool, bool), ()>)] = &[
            ("none", Ok((true, false, false))),
            ("login consent", Ok((false, true, true))),
            ("select_account", Ok((false, false, false))),
            ("none login", Err(())),
            ("bogus", Err(())),
        ];
        for (input, expected) in rows {
            let got = Prompt::parse(input).map(|p| (p.none, p.login, p.consent)).map_err(|_| ());
            assert_eq!(&got, expected, "{input}");
        }
    }

    #[test]
    fn claims_follow_scopes() {
        let claims: BTreeMap<String, serde_json::Value> = [
            ("email".to_owned(), serde_json::json!("a@example.com")),
            ("name".to_owned(), serde_json::json!("A")),
            ("secret_internal".to_owned(), serde_json::json!("x")),
        ]
        .into_iter()
        .collect();
        let email = claims_for_scope(&ScopeSet::parse("openid email").unwrap_or_default(), &claims);
        assert_eq!(email.keys().collect::<Vec<_>>(), vec!["email"]);
        let both = claims_for_scope(&ScopeSet::parse("openid email profile").unwrap_or_default(), &claims);
        assert_eq!(both.len(), 2, "unlisted claims are never released");
    }
}
